"""Qualtrics and REDCap exports, exactly as the tools write them, pushed to a real ingest on the
real broker: every complete row accepted, identifying values nowhere on any topic, `--check`
sending nothing, and bad files refused with one line per problem."""

from __future__ import annotations

import asyncio
import csv
import json
import shutil
from pathlib import Path

import grpc
import pytest

from jedi.v1 import ingest_pb2
from services.cli import main
from shared.clients import call_metadata
from shared.convert import instrument_from_proto, instrument_to_proto
from shared.domain.sample_instrument import JEDI_CULTURE
from tests.support.ingest import running_ingest
from tests.support.kafka import read_topic

SAMPLES = Path(__file__).parents[1] / "fixtures" / "exports"
# What the sample exports hold that could identify someone: none of it may reach Kafka.
IDENTIFYING = [
    b"203.0.113.",
    b"@hospital.example.org",
    b"hospital.example",
    b"42.3",
    b"-71.1",
    b"R_0",
    b"xQ7mP3vT9kLb2cD",
    b"EMP-44",
    b"Ortiz",
    b"Nguyen",
    b"Okafor",
    b"Dr. Lee",
    b"NRT-00",
    b"SID-91",
    b"555-0100",
]


async def jedi(capsys, *argv: str) -> tuple[int, str, str]:
    """Runs the `jedi` command line (in a thread: it runs its own event loop) and captures its output."""
    capsys.readouterr()
    status = await asyncio.to_thread(main, list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def copy_sample(tmp_path: Path, *names: str) -> list[Path]:
    return [Path(shutil.copy(SAMPLES / name, tmp_path / name)) for name in names]


def push_args(ingest, export: Path, mapping: Path, *extra: str) -> list[str]:
    key = export.parent / "site-north.key"  # the site's response key, made once
    if not key.exists():
        assert main(["response-key", "create", "--site", "site-north", "--file", str(key)]) == 0
    return [
        "push",
        "survey",
        str(export),
        "--mapping",
        str(mapping),
        "--response-key",
        str(key),
        "--address",
        f"127.0.0.1:{ingest.server.port}",
        "--api-key",
        ingest.keys.sites["site-north"],
        *extra,
    ]


async def all_topic_bytes(ingest) -> tuple[int, bytes]:
    """Every record of every topic of this ingest, keys, values and headers, as one byte string."""
    records = []
    for topic in ingest.topics.all:
        records += await read_topic(ingest.settings.kafka_bootstrap_servers, topic.name)
    chunks = [
        b"".join([r.key or b"", r.value or b"", *(k.encode() + v for k, v in r.headers)])
        for r in records
    ]
    return len(records), b"\n".join(chunks)


async def survey_records(ingest) -> list:
    return await read_topic(
        ingest.settings.kafka_bootstrap_servers, ingest.topics.survey_responses.name
    )


def file_summary(stdout: str) -> list[str]:
    """The summary of the file, the part `--check` and a real push print alike."""
    return [
        line
        for line in stdout.splitlines()
        if not line.startswith(("--check:", "not sent:", "  row", "wrote the response key"))
        and " rows: " not in line
    ]


async def test_a_qualtrics_export_as_written_is_checked_then_pushed(tmp_path, capsys):
    export, mapping = copy_sample(
        tmp_path, "qualtrics_culture.csv", "qualtrics_culture_mapping.json"
    )
    async with running_ingest(tmp_path) as ingest:
        records_before, _ = await all_topic_bytes(ingest)

        status, checked, _ = await jedi(capsys, *push_args(ingest, export, mapping, "--check"))
        assert status == 0, checked
        assert "--check: nothing was stored (ingest at" in checked
        assert "would store 38 new responses)" in checked
        records_after_check, _ = await all_topic_bytes(ingest)
        assert records_after_check == records_before  # not one record produced
        assert not (tmp_path / "qualtrics_culture.csv.rejects.csv").exists()

        status, pushed, stderr = await jedi(capsys, *push_args(ingest, export, mapping))
        assert status == 0, stderr
        assert file_summary(pushed) == file_summary(checked)  # the same summary as the check
        assert "38 readable, 0 with errors" in pushed
        assert (
            "40 rows: 38 new (sent), 0 already sent unchanged, 0 changed since sent (refused), "
            "0 rejected, 2 skipped"
        ) in pushed
        assert (
            "  response id: ResponseId (keyed with the site's response key into the event id, "
            "then dropped: never sent)"
        ) in pushed
        assert (
            "dropped, could identify a respondent (never read, never sent): IPAddress, "
            "RecipientLastName, RecipientFirstName, RecipientEmail, ExternalReference, LocationLatitude, "
            "LocationLongitude, Q7_TEXT"
        ) in pushed
        assert (
            "skipped: 1 survey preview" in pushed
            and "unfinished but kept (at least one item answered): 1" in pushed
        )

        assert len(await survey_records(ingest)) == 38
        _, raw = await all_topic_bytes(ingest)
        assert [value for value in IDENTIFYING if value in raw] == []


async def test_a_redcap_export_with_its_dictionary_is_pushed(tmp_path, capsys):
    export, mapping, dictionary = copy_sample(
        tmp_path,
        "redcap_culture.csv",
        "redcap_culture_mapping.json",
        "redcap_culture_dictionary.csv",
    )
    async with running_ingest(tmp_path) as ingest:
        status, stdout, stderr = await jedi(
            capsys, *push_args(ingest, export, mapping, "--dictionary", str(dictionary))
        )
        assert status == 0, stdout + stderr
        assert "redcap export, 30 responses" in stdout
        assert (
            "dropped, could identify a respondent (never read, never sent): "
            "redcap_survey_identifier, email, comments" in stdout
        )
        assert "  response id: record_id (keyed with the site's response key" in stdout
        assert "skipped: 3 not complete (REDCap status other than 2)" in stdout
        assert (
            "30 rows: 27 new (sent), 0 already sent unchanged, 0 changed since sent (refused), "
            "0 rejected, 3 skipped"
        ) in stdout
        assert len(await survey_records(ingest)) == 27
        _, raw = await all_topic_bytes(ingest)
        assert [value for value in IDENTIFYING if value in raw] == []

        status, stdout, _ = await jedi(
            capsys, *push_args(ingest, export, mapping, "--dictionary", str(dictionary))
        )
        assert (
            "30 rows: 0 new (sent), 27 already sent unchanged" in stdout
            and len(await survey_records(ingest)) == 27
        )  # pushed twice, counted once


def write(tmp_path: Path, name: str, content: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


async def test_bad_files_get_one_clear_line_per_problem_and_send_nothing(tmp_path, capsys):
    qualtrics, qualtrics_mapping = copy_sample(
        tmp_path, "qualtrics_culture.csv", "qualtrics_culture_mapping.json"
    )
    latin1 = copy_sample(tmp_path, "latin1_culture.csv")[0]
    mapping = json.loads(qualtrics_mapping.read_text())
    wrong_item = write(
        tmp_path,
        "wrong_item.json",
        json.dumps({**mapping, "columns": {**mapping["columns"], "Q4_1": "item:BELONG1"}}),
    )
    missing_column = write(
        tmp_path,
        "missing_column.json",
        json.dumps(
            {**mapping, "columns": {k: v for k, v in mapping["columns"].items() if k != "Q6"}}
        ),
    )
    plain_mapping = write(
        tmp_path,
        "plain.json",
        json.dumps(
            {
                "site_id": "site-north",
                "instrument_id": "jedi-culture",
                "instrument_version": 1,
                "wave": "baseline",
            }
        ),
    )
    bad_dates = write(
        tmp_path,
        "bad_dates.csv",
        "response_id,submitted_at,BEL1,PSY2\r\nd1,10/02/2025 09:00,4,5\r\nd2,02.10.2025,3,3\r\n",
    )
    cases = [
        (
            qualtrics,
            wrong_item,
            [],
            2,
            ["Q4_1: maps to 'BELONG1', not an item of instrument 'jedi-culture' version 1"],
        ),
        (
            qualtrics,
            missing_column,
            [],
            2,
            ["Q6: unknown column: map it in the mapping file's columns or list it under ignore"],
        ),
        (
            latin1,
            plain_mapping,
            [],
            2,
            [
                "is not UTF-8 text (byte 0xe9 on line 2); save it again as 'CSV UTF-8', or "
                "name its encoding: --encoding latin-1 (Latin-1 / Windows-1252 files)"
            ],
        ),
        (
            write(tmp_path, "empty.csv", b""),
            plain_mapping,
            [],
            2,
            ["is empty: export the survey's responses again"],
        ),
        (
            write(tmp_path, "header_only.csv", "submitted_at,BEL1\r\n"),
            plain_mapping,
            [],
            2,
            ["has a header but no responses"],
        ),
        (
            write(tmp_path, "workbook.csv", b"PK\x03\x04\x14\x00"),
            plain_mapping,
            [],
            2,
            ["is an Excel workbook or a zip file, not CSV: export the responses as CSV"],
        ),
        (
            latin1,
            plain_mapping,
            ["--encoding", "latin-1", "--format", "qualtrics"],
            2,
            [
                "is not a Qualtrics export as Qualtrics writes it: its third row is not the ImportId row "
                "(pass --format csv for a single header row)"
            ],
        ),
    ]
    async with running_ingest(tmp_path) as ingest:
        for export, mapping_file, extra, expected_status, expected_lines in cases:
            status, _, stderr = await jedi(capsys, *push_args(ingest, export, mapping_file, *extra))
            problems = [
                line for line in stderr.splitlines() if not line.startswith("jedi push: nothing")
            ]
            assert (status, problems) == (
                expected_status,
                [f"jedi push: {export.name}: {line}" for line in expected_lines],
            ), stderr
            assert stderr.splitlines()[-1] == f"jedi push: nothing was sent from {export}"

        # Unreadable dates are row problems: each row rejected here, with the column and the value.
        status, stdout, _ = await jedi(capsys, *push_args(ingest, bad_dates, plain_mapping))
        assert status == 1 and "0 readable, 2 with errors (not sent)" in stdout
        with open(tmp_path / "bad_dates.csv.rejects.csv", newline="") as handle:
            rejects = list(csv.DictReader(handle))
        assert [(r["row"], r["field"], r["reason"].split(" is not")[0]) for r in rejects] == [
            ("1", "submitted_at", "'10/02/2025 09:00'"),
            ("2", "submitted_at", "'02.10.2025'"),
        ]

        # The latin-1 file, its encoding named, is read correctly (and its French roles need values).
        status, stdout, _ = await jedi(
            capsys, *push_args(ingest, latin1, plain_mapping, "--encoding", "latin-1", "--check")
        )
        assert status == 1 and "row 1: role: 'Résident' is not one of" in stdout, stdout
        assert await survey_records(ingest) == []  # nothing was sent from any of these files


async def test_get_and_list_instruments_over_a_real_socket(tmp_path):
    async with running_ingest(tmp_path) as ingest:
        site_key = call_metadata(ingest.keys.sites["site-north"])
        v2 = instrument_to_proto(JEDI_CULTURE)
        v2.version = 2
        await ingest.stub.PutInstrument(
            ingest_pb2.PutInstrumentRequest(instrument=v2),
            metadata=call_metadata(ingest.keys.coordinator),
        )
        exact = await ingest.stub.GetInstrument(
            ingest_pb2.GetInstrumentRequest(instrument_id="jedi-culture", version=1),
            metadata=site_key,
        )
        assert instrument_from_proto(exact.instrument) == JEDI_CULTURE
        latest = await ingest.stub.GetInstrument(
            ingest_pb2.GetInstrumentRequest(instrument_id="jedi-culture"), metadata=site_key
        )
        assert latest.instrument.version == 2
        listed = await ingest.stub.ListInstruments(
            ingest_pb2.ListInstrumentsRequest(), metadata=site_key
        )
        assert [(i.instrument_id, i.version) for i in listed.instruments] == [
            ("jedi-culture", 1),
            ("jedi-culture", 2),
        ]
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await ingest.stub.GetInstrument(
                ingest_pb2.GetInstrumentRequest(instrument_id="jedi-culture", version=7),
                metadata=site_key,
            )
        assert (
            missing.value.code() is grpc.StatusCode.NOT_FOUND
            and "registered versions: 1, 2" in missing.value.details()
        )
        with pytest.raises(grpc.aio.AioRpcError) as anonymous:
            await ingest.stub.GetInstrument(
                ingest_pb2.GetInstrumentRequest(instrument_id="jedi-culture")
            )
        assert anonymous.value.code() is grpc.StatusCode.UNAUTHENTICATED
