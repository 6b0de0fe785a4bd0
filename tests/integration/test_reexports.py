"""A grown export uploaded again counts each response once (issue 21), on the real broker.

A steward exports *all responses so far* and uploads the file again every few days: 50, 100,
150, 200 and 260 rows, each file holding the previous one. `jedi push` keys each row's
survey-tool id (Qualtrics `ResponseId`, REDCap `record_id`) with the site's response key, asks
ingest what it holds, and sends only the new rows. The processor (a real process) counts the
distinct responses; a reordered file or one with an added column changes nothing; a changed row
is refused and counted once; the survey topic never holds a survey-tool id nor its plain hash;
an upload beyond the site's eligible headcount is refused whole and flagged for coordinators.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import hashlib
import io
import json
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from jedi.v1 import common_pb2, query_pb2
from services.cli import main
from shared.clients import call_metadata
from shared.domain.model import Role
from shared.domain.sample_instrument import JEDI_CULTURE
from tests.support.ingest import demo_dataset, running_ingest
from tests.support.kafka import read_topic
from tests.support.processor_process import ProcessorProcess, processor_env, stopped_afterwards
from tests.support.query import running_query
from tests.support.waiting import eventually

SIZES = (50, 100, 150, 200, 260)
ITEMS = [item for item in JEDI_CULTURE.items]
LIKERT = ["Strongly disagree", "Disagree", "Neither agree nor disagree", "Agree", "Strongly agree"]
ROLES = ["Resident physician", "Attending physician", "Fellow", "Nurse", "Staff"]
QUALTRICS_META = [
    "StartDate",
    "EndDate",
    "Status",
    "IPAddress",
    "Progress",
    "Duration (in seconds)",
    "Finished",
    "RecordedDate",
    "ResponseId",
    "RecipientEmail",
    "DistributionChannel",
    "UserLanguage",
]
QUALTRICS_QUESTIONS = ["Q1", *[f"Q4_{i}" for i in range(1, len(ITEMS) + 1)], "Q5"]
QUALTRICS_MAPPING = {
    "site_id": "site-north",
    "instrument_id": JEDI_CULTURE.instrument_id,
    "instrument_version": JEDI_CULTURE.version,
    "wave": "baseline",
    "source_system": "qualtrics",
    "timezone": "America/New_York",
    "columns": {
        "ResponseId": "response_id",
        "EndDate": "submitted_at",
        "Q1": "role",
        **{f"Q4_{i}": f"item:{item.code}" for i, item in enumerate(ITEMS, start=1)},
        "Q5": "experienced_discrimination",
    },
    "values": {
        "role": {
            "Resident physician": "resident",
            "Attending physician": "faculty",
            "Fellow": "fellow",
            "Nurse": "nurse",
            "Staff": "staff",
        }
    },
}
REDCAP_COLUMNS = [
    "record_id",
    "redcap_survey_identifier",
    "jedi_culture_timestamp",
    "role",
    *[item.code.lower() for item in ITEMS],
    "exp_disc",
    "jedi_culture_complete",
]
REDCAP_MAPPING = {
    "site_id": "site-north",
    "instrument_id": JEDI_CULTURE.instrument_id,
    "instrument_version": JEDI_CULTURE.version,
    "wave": "midpoint",
    "source_system": "redcap",
    "timezone": "America/Chicago",
    "columns": {"record_id": "response_id", "exp_disc": "experienced_discrimination"},
    "values": {"role": {"1": "resident", "2": "faculty", "3": "nurse"}},
}


def response_id(row: int) -> str:
    return f"R_{row:04d}Zq8WvLm3Tk"


def record_id(row: int) -> str:
    return f"NRT-{row:05d}"


def qualtrics_row(row: int) -> dict[str, str]:
    """Row `row` of the survey, the same in every export that holds it."""
    rng = random.Random(row)
    begun = datetime(2025, 10, 6, 8) + timedelta(hours=row * 2, minutes=rng.randint(0, 59))
    ended = begun + timedelta(seconds=rng.randint(200, 900))
    return {
        "StartDate": begun.strftime("%Y-%m-%d %H:%M:%S"),
        "EndDate": ended.strftime("%Y-%m-%d %H:%M:%S"),
        "Status": "IP Address",
        "IPAddress": f"198.51.100.{row % 250}",
        "Progress": "100",
        "Duration (in seconds)": str(int((ended - begun).total_seconds())),
        "Finished": "True",
        "RecordedDate": (ended + timedelta(seconds=2)).strftime("%Y-%m-%d %H:%M:%S"),
        "ResponseId": response_id(row),
        "RecipientEmail": f"person{row}@hospital.example.org",
        "DistributionChannel": "anonymous",
        "UserLanguage": "EN",
        "Q1": rng.choice(ROLES),
        **{f"Q4_{i}": rng.choice(LIKERT) for i in range(1, len(ITEMS) + 1)},
        "Q5": rng.choice(["Yes", "No", ""]),
    }


def redcap_row(row: int) -> dict[str, str]:
    rng = random.Random(10_000 + row)
    at = datetime(2026, 3, 9, 7) + timedelta(hours=row * 2, minutes=rng.randint(0, 59))
    return {
        "record_id": record_id(row),
        "redcap_survey_identifier": f"SID-{row}",
        "jedi_culture_timestamp": at.strftime("%Y-%m-%d %H:%M:%S"),
        "role": rng.choice(["1", "2", "3"]),
        **{item.code.lower(): str(rng.randint(1, 5)) for item in ITEMS},
        "exp_disc": rng.choice(["1", "0", ""]),
        "jedi_culture_complete": "2",
    }


def write_qualtrics(
    path: Path,
    rows: list[dict[str, str]],
    *,
    extra: dict[str, str] | None = None,
) -> Path:
    """As Qualtrics writes it: BOM, CRLF, the three header rows; `extra` adds a column."""
    columns = [*QUALTRICS_META, *(extra or {}), *QUALTRICS_QUESTIONS]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerow(columns)  # question texts: the names do here
    writer.writerow([json.dumps({"ImportId": f"_{c.lower()}"}) for c in columns])
    for row in rows:
        writer.writerow([{**row, **(extra or {})}[c] for c in columns])
    path.write_bytes(b"\xef\xbb\xbf" + buffer.getvalue().encode())
    return path


def write_redcap(
    path: Path, rows: list[dict[str, str]], *, extra: dict[str, str] | None = None
) -> Path:
    columns = [*REDCAP_COLUMNS[:2], *(extra or {}), *REDCAP_COLUMNS[2:]]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([{**row, **(extra or {})}[c] for c in columns])
    return path


async def jedi(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    status = await asyncio.to_thread(main, list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def push_args(ingest, export: Path, mapping: Path, key_file: Path, *extra: str) -> list[str]:
    return [
        "push",
        "survey",
        str(export),
        "--mapping",
        str(mapping),
        "--response-key",
        str(key_file),
        "--address",
        f"127.0.0.1:{ingest.server.port}",
        "--api-key",
        ingest.keys.sites["site-north"],
        *extra,
    ]


def report_line(stdout: str, name: str) -> str:
    [line] = [
        line for line in stdout.splitlines() if line.startswith(f"{name}: ") and " rows: " in line
    ]
    return line


async def survey_topic(ingest) -> list:
    return await read_topic(
        ingest.settings.kafka_bootstrap_servers, ingest.topics.survey_responses.name
    )


def counted(reply: query_pb2.ListReleasesResponse, wave: str) -> int:
    """The responses of site-north's wave the processor received: covered plus held back."""
    for status in reply.releases:
        if status.site_id == "site-north":
            return status.covered.get(wave, 0) + status.held_back.get(wave, 0)
    return 0


@pytest.fixture
def key_file(tmp_path) -> Path:
    for name in ("ingest", "query"):
        (tmp_path / name).mkdir()
    path = tmp_path / "site-north.key"
    assert main(["response-key", "create", "--site", "site-north", "--file", str(path)]) == 0
    return path


@dataclasses.dataclass(frozen=True)
class Tool:
    name: str
    row: Callable[[int], dict[str, str]]
    write: Callable[..., Path]
    mapping: dict
    wave: str
    ids: Callable[[int], str]
    extra: dict[str, str]  # a column a later export gained (the mapping need not know it)


QUALTRICS = Tool(
    "qualtrics",
    qualtrics_row,
    write_qualtrics,
    QUALTRICS_MAPPING,
    "baseline",
    response_id,
    {"Q_RecaptchaScore": "0.9"},
)
REDCAP = Tool(
    "redcap",
    redcap_row,
    write_redcap,
    REDCAP_MAPPING,
    "midpoint",
    record_id,
    {"redcap_data_access_group": "north"},
)


async def test_growing_qualtrics_and_redcap_exports_count_each_response_once(
    tmp_path, capsys, key_file
):
    async with running_ingest(tmp_path / "ingest") as ingest:
        namespace = ingest.settings.topic_namespace
        processor = ProcessorProcess(
            processor_env(
                namespace=namespace,
                state_dir=tmp_path / "state",
                servers=ingest.settings.kafka_bootstrap_servers,
                app_id=f"{namespace}processor",
            ),
            tmp_path / "processor.log",
        )
        with stopped_afterwards([processor]):
            processor.start()
            async with running_query(tmp_path / "query", namespace=namespace, fill=False) as query:
                coordinator = call_metadata(query.keys.coordinator)

                async def releases() -> query_pb2.ListReleasesResponse:
                    return await query.stub.ListReleases(
                        query_pb2.ListReleasesRequest(), metadata=coordinator, timeout=10
                    )

                for tool in (QUALTRICS, REDCAP):
                    mapping = tmp_path / f"{tool.name}_mapping.json"
                    mapping.write_text(json.dumps(tool.mapping))
                    before = 0
                    for size in SIZES:
                        export = tool.write(
                            tmp_path / f"{tool.name}_{size}.csv",
                            [tool.row(n) for n in range(1, size + 1)],
                        )
                        name = export.name
                        status, checked, err = await jedi(
                            capsys, *push_args(ingest, export, mapping, key_file, "--check")
                        )
                        assert status == 0, err + checked
                        expected = (
                            f"{name}: {size} rows: {size - before} new, {before} already sent "
                            "unchanged, 0 changed since sent (refused), 0 rejected, 0 skipped"
                        )
                        assert report_line(checked, name) == expected
                        status, pushed, err = await jedi(
                            capsys, *push_args(ingest, export, mapping, key_file)
                        )
                        assert status == 0, err + pushed
                        assert report_line(pushed, name) == expected.replace(
                            " new,", " new (sent),"
                        )
                        assert len(await survey_topic(ingest)) == size + (
                            260 if tool is REDCAP else 0
                        )
                        before = size
                    # The processor has counted the distinct responses, no more.
                    await eventually(
                        releases,
                        180,
                        what=f"the processor counting 260 {tool.wave} responses",
                        until=lambda reply, wave=tool.wave: counted(reply, wave) == 260,
                    )

                    # Reordered rows and a column gained since: nothing new, nothing changed.
                    rows = [tool.row(n) for n in range(1, 261)]
                    random.Random(5).shuffle(rows)
                    shuffled = tool.write(
                        tmp_path / f"{tool.name}_reordered.csv", rows, extra=tool.extra
                    )
                    status, pushed, err = await jedi(
                        capsys, *push_args(ingest, shuffled, mapping, key_file)
                    )
                    assert status == 0, err + pushed
                    assert report_line(pushed, shuffled.name) == (
                        f"{shuffled.name}: 260 rows: 0 new (sent), 260 already sent unchanged, "
                        "0 changed since sent (refused), 0 rejected, 0 skipped"
                    )

                # A changed row: refused with the reason, counted once, the first version kept.
                rows = [qualtrics_row(n) for n in range(1, 261)]
                rows[9] = {**rows[9], "Q4_1": "Strongly disagree", "Q4_2": "Strongly agree"}
                rows.append(qualtrics_row(261))
                changed = write_qualtrics(tmp_path / "qualtrics_changed.csv", rows)
                mapping = tmp_path / "qualtrics_mapping.json"
                status, checked, _ = await jedi(
                    capsys, *push_args(ingest, changed, mapping, key_file, "--check")
                )
                assert status == 1
                line = (
                    f"{changed.name}: 261 rows: 1 new, 259 already sent unchanged, "
                    "1 changed since sent (refused), 0 rejected, 0 skipped"
                )
                assert report_line(checked, changed.name) == line
                status, pushed, _ = await jedi(
                    capsys, *push_args(ingest, changed, mapping, key_file)
                )
                assert status == 1
                assert report_line(pushed, changed.name).startswith(
                    line.replace(" new,", " new (sent),")
                )
                assert (
                    "  row 10: ResponseId: this response was sent before with different content"
                    in pushed
                )
                with open(tmp_path / "qualtrics_changed.csv.rejects.csv", newline="") as handle:
                    [reject] = list(csv.DictReader(handle))
                assert (reject["row"], reject["state"], reject["field"]) == (
                    "10",
                    "changed since sent",
                    "ResponseId",
                )
                await eventually(
                    releases,
                    180,
                    what="261 baseline responses counted (the changed one once)",
                    until=lambda reply: counted(reply, "baseline") == 261,
                )

                # The raw topic: no survey-tool id, nor an unkeyed hash of one, anywhere.
                records = await survey_topic(ingest)
                assert len(records) == 261 + 260
                raw = b"\n".join(
                    b"".join(
                        [r.key or b"", r.value or b"", *(k.encode() + v for k, v in r.headers)]
                    )
                    for r in records
                )
                ids = [response_id(n) for n in range(1, 262)] + [
                    record_id(n) for n in range(1, 261)
                ]
                found = []
                for value in ids:
                    data = value.encode()
                    forms = [data]
                    for algorithm in ("sha256", "sha1", "md5", "sha512"):
                        digest = hashlib.new(algorithm, data)
                        forms += [digest.digest(), digest.hexdigest().encode()]
                        forms.append(digest.hexdigest()[:32].encode())
                    found += [value for form in forms if form in raw]
                assert found == []
                event_ids = [dict(r.headers)["event-id"] for r in records]
                assert len(set(event_ids)) == len(event_ids)


async def test_an_upload_beyond_the_eligible_headcount_is_refused_whole_and_flagged(
    tmp_path, capsys, key_file
):
    dataset = demo_dataset()
    # site-north registers 40 eligible staff (all residents, say).
    sites = tuple(
        dataclasses.replace(s, eligible_headcount={Role.RESIDENT: 40})
        if s.site_id == "site-north"
        else s
        for s in dataset.sites
    )
    async with running_ingest(
        tmp_path / "ingest", dataset=dataclasses.replace(dataset, sites=sites)
    ) as ingest:
        mapping = tmp_path / "mapping.json"
        mapping.write_text(json.dumps(QUALTRICS_MAPPING))
        first = write_qualtrics(tmp_path / "first.csv", [qualtrics_row(n) for n in range(1, 41)])
        status, _, err = await jedi(capsys, *push_args(ingest, first, mapping, key_file))
        assert status == 0, err  # 40 of 40: a response rate of 100 % is plausible
        assert len(await survey_topic(ingest)) == 40

        grown = write_qualtrics(tmp_path / "grown.csv", [qualtrics_row(n) for n in range(1, 56)])
        reason = (
            "site 'site-north' would hold 55 responses for the baseline wave (40 stored + 15 "
            "new), more than its registered eligible headcount of 40 (a response rate of 138%); "
            "none of these responses was stored. Check that the export is this site's and this "
            "wave's"
        )
        status, checked, _ = await jedi(
            capsys, *push_args(ingest, grown, mapping, key_file, "--check")
        )
        assert status == 1 and reason in checked
        assert (
            "55 rows: 0 new, 40 already sent unchanged, 0 changed since sent (refused), 15 rejected"
            in checked
        )
        status, pushed, _ = await jedi(capsys, *push_args(ingest, grown, mapping, key_file))
        assert status == 1
        assert f"  15 rows (41, 42, 43, 44, 45, ...): wave: {reason}" in pushed
        assert len(await survey_topic(ingest)) == 40  # nothing of it was published

        # Coordinators see the site flagged in ListReleases (and so on the dashboard's status page).
        namespace = ingest.settings.topic_namespace
        async with running_query(tmp_path / "query", namespace=namespace, fill=False) as query:
            reply = await eventually(
                lambda: query.stub.ListReleases(
                    query_pb2.ListReleasesRequest(),
                    metadata=call_metadata(query.keys.coordinator),
                    timeout=10,
                ),
                30,
                what="site-north flagged in ListReleases",
                until=lambda reply: len(reply.flags) == 1,
            )
            [flag] = reply.flags
            assert (flag.site_id, flag.wave) == ("site-north", common_pb2.WAVE_BASELINE)
            assert (flag.eligible_headcount, flag.stored_responses, flag.refused_responses) == (
                40,
                40,
                15,
            )
            assert reason in flag.reason
            other = await query.stub.ListReleases(
                query_pb2.ListReleasesRequest(),
                metadata=call_metadata(query.keys.sites["site-south"]),
                timeout=10,
            )
            assert list(other.flags) == []  # another site does not see it
