"""`jedi push` uploads a 10,000-row survey export to a real ingest over a real socket; killed
while ingest holds the upload, it stores nothing, and pushing the file again finishes it."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import json
import os
import random
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.ingest.servicer import IngestServicer
from shared.domain.model import Role
from shared.domain.response_keys import new_response_key
from shared.domain.sample_instrument import JEDI_CULTURE
from tests.support.ingest import demo_dataset, running_ingest
from tests.support.kafka import read_topic
from tests.support.waiting import eventually

ROWS = 10_000
BAD_ROWS = {17: ("BEL1", "7"), 2500: ("Q_Role", "astronaut"), 9999: ("EndDate", "yesterday")}
MAPPING = {
    "site_id": "site-north",
    "instrument_id": JEDI_CULTURE.instrument_id,
    "instrument_version": JEDI_CULTURE.version,
    "wave": "baseline",
    "source_system": "qualtrics",
    "columns": {
        "EndDate": "submitted_at",
        "Q_Role": "role",
        "Q_Dept": "department",
        "Q_URiM": "group:urim",
        "Q_Disc": "experienced_discrimination",
    },
    "values": {"role": {"Resident physician": "resident", "Attending": "faculty"}},
    "ignore": ["Progress", "Finished"],
}


def write_export(path: Path) -> None:
    """A survey tool's export: item-code columns, tool columns and labelled answers."""
    rng = random.Random(7)
    items = [item.code for item in JEDI_CULTURE.items]
    start = datetime(2025, 9, 2, tzinfo=UTC)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "response_id",
                "Progress",
                "Finished",
                "EndDate",
                "Q_Role",
                "Q_Dept",
                "Q_URiM",
                "Q_Disc",
                *items,
            ]
        )
        for row in range(1, ROWS + 1):
            values = {
                "response_id": f"resp-{row:05d}",
                "Progress": "100",
                "Finished": "True",
                "EndDate": (start + timedelta(minutes=row)).strftime("%Y-%m-%d %H:%M:%S"),
                "Q_Role": rng.choice(["Resident physician", "Attending", "nurse", "staff"]),
                "Q_Dept": rng.choice(["medicine", "surgery", "pediatrics"]),
                "Q_URiM": rng.choice(["yes", "no", "prefer_not_to_say", ""]),
                "Q_Disc": rng.choice(["yes", "no", ""]),
                **{code: rng.choice(["1", "2", "3", "4", "5", "", "Agree"]) for code in items},
            }
            if row in BAD_ROWS:
                column, value = BAD_ROWS[row]
                values[column] = value
            writer.writerow(
                values[column]
                for column in [
                    "response_id",
                    "Progress",
                    "Finished",
                    "EndDate",
                    "Q_Role",
                    "Q_Dept",
                    "Q_URiM",
                    "Q_Disc",
                    *items,
                ]
            )


class Stall:
    """While `on`, ingest holds every StreamEvents call that stores (not the validate-only
    check), never answering, until its client goes away."""

    def __init__(self) -> None:
        self.on = True
        self.held = 0
        self.streamed = 0  # events of the held streams that ingest had received


@pytest.fixture
def stall(monkeypatch) -> Stall:
    stall = Stall()
    original = IngestServicer.StreamEvents

    async def stalling(self, request_iterator, context):
        if not stall.on:
            return await original(self, request_iterator, context)
        messages = [message async for message in request_iterator]
        if messages and messages[0].validate_only:
            return await original(self, _replay(messages), context)
        stall.held += 1
        stall.streamed = len(messages)
        await asyncio.Event().wait()  # cancelled when the killed client's connection drops

    monkeypatch.setattr(IngestServicer, "StreamEvents", stalling)
    return stall


async def _replay(messages):
    for message in messages:
        yield message


async def run_push(export: Path, mapping: Path, address: str, api_key: str, key_file: Path):
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        "push",
        "survey",
        str(export),
        "--mapping",
        str(mapping),
        "--address",
        address,
        "--response-key",
        str(key_file),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "JEDI_API_KEY": api_key},
    )
    return process


async def test_push_uploads_a_10000_row_export_finishes_after_a_kill_and_summarises(
    tmp_path, stall
):
    export, mapping = tmp_path / "export.csv", tmp_path / "mapping.json"
    write_export(export)
    mapping.write_text(json.dumps(MAPPING))
    key_file = tmp_path / "site-north.key"
    key_file.write_text(new_response_key())
    good = ROWS - len(BAD_ROWS)
    # A site large enough for 10,000 responses in a wave (the headcount check allows them).
    dataset = demo_dataset()
    sites = tuple(
        dataclasses.replace(s, eligible_headcount={Role.RESIDENT: 4000, Role.NURSE: 8000})
        if s.site_id == "site-north"
        else s
        for s in dataset.sites
    )
    async with running_ingest(
        tmp_path, dataset=dataclasses.replace(dataset, sites=sites)
    ) as ingest:
        address, key = f"127.0.0.1:{ingest.server.port}", ingest.keys.sites["site-north"]

        # Interrupted upload: killed once ingest holds the whole upload, before answering it.
        first = await run_push(export, mapping, address, key, key_file)
        await eventually(
            lambda: stall.streamed,
            120,
            what="the upload's rows streamed to ingest and held there",
            until=lambda streamed: streamed == good,
        )
        first.send_signal(signal.SIGKILL)
        await first.wait()
        stall.on = False
        records = await read_topic(
            ingest.settings.kafka_bootstrap_servers, ingest.topics.survey_responses.name
        )
        assert records == []  # an upload is stored whole or not at all

        # Pushed again, it finishes.
        second = await run_push(export, mapping, address, key, key_file)
        stdout, stderr = await second.communicate()
        assert second.returncode == 1, stderr.decode()  # some rows were rejected
        assert "100%" in stderr.decode()  # the progress bar reached the end
        summary = stdout.decode()
        assert (
            f"{ROWS} rows: {good} new (sent), 0 already sent unchanged, 0 changed since sent "
            f"(refused), {len(BAD_ROWS)} rejected, 0 skipped"
        ) in summary, summary

        with open(tmp_path / "export.csv.rejects.csv", newline="") as handle:
            rejects = list(csv.DictReader(handle))
        assert {int(r["row"]) for r in rejects} == set(BAD_ROWS)
        # All three are refused by the uploader before sending (it checks rows as ingest does), by column.
        assert {r["field"] for r in rejects} == {"BEL1", "Q_Role", "EndDate"}

        records = await read_topic(
            ingest.settings.kafka_bootstrap_servers, ingest.topics.survey_responses.name
        )
        event_ids = [dict(r.headers)["event-id"] for r in records]
        assert len(event_ids) == len(set(event_ids)) == good

        # Pushing the same file again adds nothing: every row is already sent or rejected again.
        third = await run_push(export, mapping, address, key, key_file)
        stdout, _ = await third.communicate()
        assert f"0 new (sent), {good} already sent unchanged" in stdout.decode()
