"""`jedi push` uploads a 10,000-row survey export to a real ingest over a real socket."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import random
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.ingest.servicer import IngestServicer
from shared.domain.sample_instrument import JEDI_CULTURE
from tests.support.ingest import running_ingest
from tests.support.kafka import read_topic
from tests.support.waiting import eventually

ROWS = 10_000
BATCHES_BEFORE_THE_KILL = 4  # of 500 rows (the uploader's default batch)
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
            ["Progress", "Finished", "EndDate", "Q_Role", "Q_Dept", "Q_URiM", "Q_Disc", *items]
        )
        for row in range(1, ROWS + 1):
            values = {
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
    """Ingest answers the first `answered` SubmitEvents calls; while `on`, every later call is
    held, never answered, until its client goes away."""

    def __init__(self, answered: int) -> None:
        self.answered = answered
        self.on = True
        self.calls = 0
        self.held = 0


@pytest.fixture
def stall(monkeypatch) -> Stall:
    stall = Stall(BATCHES_BEFORE_THE_KILL)
    original = IngestServicer.SubmitEvents

    async def stalling(self, request, context):
        stall.calls += 1
        if stall.on and stall.calls > stall.answered:
            stall.held += 1
            await asyncio.Event().wait()  # cancelled when the killed client's connection drops
        return await original(self, request, context)

    monkeypatch.setattr(IngestServicer, "SubmitEvents", stalling)
    return stall


async def run_push(export: Path, mapping: Path, address: str, api_key: str, state_dir: Path):
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
        "--state-dir",
        str(state_dir),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "JEDI_API_KEY": api_key},
    )
    return process


async def test_push_uploads_a_10000_row_export_resumes_after_a_kill_and_summarises(tmp_path, stall):
    export, mapping = tmp_path / "export.csv", tmp_path / "mapping.json"
    write_export(export)
    mapping.write_text(json.dumps(MAPPING))
    state_dir = tmp_path / "state"
    async with running_ingest(tmp_path) as ingest:
        address, key = f"127.0.0.1:{ingest.server.port}", ingest.keys.sites["site-north"]

        # Interrupted upload: killed once a few batches are in, while ingest holds the next one.
        first = await run_push(export, mapping, address, key, state_dir)

        def rows_saved() -> int:
            files = list(state_dir.glob("*.json")) if state_dir.exists() else []
            return json.loads(files[0].read_text())["rows_done"] if files else 0

        await eventually(
            lambda: (stall.held, rows_saved()),
            60,
            what="2,000 rows saved as done and the next batch held by ingest",
            until=lambda seen: seen[0] >= 1 and seen[1] >= 2000,
        )
        first.send_signal(signal.SIGKILL)
        await first.wait()
        stall.on = False
        rows_done = rows_saved()
        assert 2000 <= rows_done < ROWS

        # Resumed upload finishes the rest.
        second = await run_push(export, mapping, address, key, state_dir)
        stdout, stderr = await second.communicate()
        assert second.returncode == 1, stderr.decode()  # some rows were rejected
        assert f"resuming after row {rows_done}" in stderr.decode()
        assert "100%" in stderr.decode()  # the progress bar reached the end
        summary = stdout.decode()
        assert f"{ROWS} rows" in summary and f"{len(BAD_ROWS)} rejected" in summary, summary

        with open(tmp_path / "export.csv.rejects.csv", newline="") as handle:
            rejects = list(csv.DictReader(handle))
        assert {int(r["row"]) for r in rejects} == set(BAD_ROWS)
        # All three are refused by the uploader before sending (it checks rows as ingest does), by column.
        assert {r["field"] for r in rejects} == {"BEL1", "Q_Role", "EndDate"}

        records = await read_topic(
            ingest.settings.kafka_bootstrap_servers, ingest.topics.survey_responses.name
        )
        event_ids = [dict(r.headers)["event-id"] for r in records]
        assert len(event_ids) == len(set(event_ids)) == ROWS - len(BAD_ROWS)

        # Pushing the same file again adds nothing: every row is a duplicate or rejected again.
        third = await run_push(export, mapping, address, key, state_dir)
        stdout, _ = await third.communicate()
        assert f"0 accepted, {ROWS - len(BAD_ROWS)} duplicates" in stdout.decode()
