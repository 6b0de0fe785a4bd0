"""`jedi push survey`: a survey export checked, compared with what ingest holds, and the new rows sent.

1. The export is read whole and checked against the registered instrument; each row's event id
   is its survey-tool id keyed with the site's response key (`services.cli.response_key`).
2. Every readable row is judged by ingest without storing anything (a validate-only
   `StreamEvents`): new, already sent unchanged, changed since it was sent (refused: the version
   sent first stays the one counted), or rejected, such as an upload that would take the wave
   past the site's eligible headcount.
3. `--check` stops there. Otherwise only the new rows are sent (and those ingest refused in the
   check, for it to refuse them for real), in one stream (ingest judges an upload whole, so an
   implausible one is refused whole), with a progress bar.

So a grown re-export sends only its new rows, and an interrupted upload is finished by pushing
the same file again. Every row that is not sent for a reason (rejected, changed) is written to
the rejects file with its column and reason.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Never

import grpc
from tqdm import tqdm

from jedi.v1 import ingest_pb2, ingest_pb2_grpc
from services.cli.exports import ExportError, ExportFormat, Keyer, read_export
from services.cli.instruments import fetch_instrument
from services.cli.mapping import MappingError, SurveyMapping, plan_columns
from services.cli.redcap import read_dictionary
from services.cli.response_key import default_key_file, load_response_key
from services.cli.summary import FileSummary
from services.cli.survey_csv import read_rows
from shared.clients import call_metadata, open_channel
from shared.convert import event_to_proto
from shared.domain.response_keys import ResponseKeyError, response_event_id
from shared.domain.validation import FieldError

STREAM_LIMIT = 100_000  # events per stream ingest takes by default (5,000 per call × 20)
_RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}


class RowState(StrEnum):
    NEW = "new"
    UNCHANGED = "already sent unchanged"
    CHANGED = "changed since sent"
    REJECTED = "rejected"
    SKIPPED = "skipped"


@dataclass
class Row:
    row_number: int
    event_id: str
    event: ingest_pb2.Event | None
    state: RowState
    errors: tuple[FieldError, ...] = ()


@dataclass
class Report:
    """Per file: how many rows are in each state."""

    name: str
    rows: list[Row] = field(default_factory=list)

    def count(self, state: RowState) -> int:
        return sum(1 for row in self.rows if row.state is state)

    def line(self, *, sent: bool) -> str:
        new = self.count(RowState.NEW)
        return (
            f"{self.name}: {len(self.rows)} rows: {new} new{' (sent)' if sent else ''}, "
            f"{self.count(RowState.UNCHANGED)} already sent unchanged, "
            f"{self.count(RowState.CHANGED)} changed since sent (refused), "
            f"{self.count(RowState.REJECTED)} rejected, {self.count(RowState.SKIPPED)} skipped"
        )


class UploadFailed(Exception):
    """Ingest could not be reached or refused the call as a whole."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--response-key",
        type=Path,
        help="the site's response key file (default: $JEDI_RESPONSE_KEY_FILE, else "
        "$XDG_CONFIG_HOME/jedi/response-keys/SITE.key; made once with jedi response-key create)",
    )


def run(arguments: argparse.Namespace) -> int:
    try:
        report, key_column = read_and_check(arguments)
    except (ExportError, MappingError) as error:
        for problem in error.errors:
            where = "" if problem.field == arguments.file.name else f"{problem.field}: "
            print(f"jedi push: {arguments.file.name}: {where}{problem.reason}", file=sys.stderr)
        print(f"jedi push: nothing was sent from {arguments.file}", file=sys.stderr)
        return 2
    except UploadFailed as error:
        print(f"jedi push: {error}; nothing was sent", file=sys.stderr)
        return 2
    refused = [row for row in report.rows if row.state in (RowState.REJECTED, RowState.CHANGED)]
    if arguments.check:
        _print_first_problems(refused, key_column)
        print(report.line(sent=False))
        print(
            f"--check: nothing was stored (ingest at {arguments.address} would store "
            f"{report.count(RowState.NEW)} new responses)"
        )
        return 1 if refused else 0
    try:
        asyncio.run(_send_new_rows(arguments, report))
    except UploadFailed as error:
        print(f"jedi push: {error}", file=sys.stderr)
        return 2
    refused = [row for row in report.rows if row.state in (RowState.REJECTED, RowState.CHANGED)]
    rejects_path = arguments.rejects or arguments.file.with_suffix(
        arguments.file.suffix + ".rejects.csv"
    )
    _write_rejects(rejects_path, refused, key_column)
    _print_first_problems(refused, key_column)
    print(report.line(sent=True) + (f" (reasons in {rejects_path})" if refused else ""))
    return 1 if refused else 0


def read_and_check(arguments: argparse.Namespace) -> tuple[Report, str]:
    """Every row of the export, read, checked and judged by ingest (nothing stored); prints
    the file's summary. Raises ExportError / MappingError with every problem at once."""
    mapping = SurveyMapping.from_file(
        arguments.mapping,
        site_id=arguments.site,
        wave=arguments.wave,
        cycle=arguments.cycle,
        timezone=arguments.timezone,
        instrument_id=arguments.instrument,
        instrument_version=arguments.instrument_version,
    )
    key_errors: list[FieldError] = []
    keyer: Keyer | None = None
    key_path = arguments.response_key or default_key_file(mapping.site_id)
    try:
        keyer = _keyer(load_response_key(key_path, mapping.site_id), mapping)
    except ResponseKeyError as error:
        key_errors.append(FieldError("--response-key", str(error)))
    try:
        export = read_export(
            arguments.file,
            format=ExportFormat(arguments.format) if arguments.format else None,
            encoding=arguments.encoding,
            response_id_column=mapping.response_id_column,
            keyer=keyer,
        )
    except ExportError as error:
        raise ExportError(error.errors + key_errors) from None
    if key_errors:  # before asking ingest anything: without the key no row has its event id
        raise MappingError(key_errors)
    instrument = asyncio.run(
        fetch_instrument(
            arguments.address,
            arguments.api_key,
            mapping.instrument_id,
            mapping.instrument_version,
            ca_file=arguments.ca_file,
        )
    )
    plan = plan_columns(export, mapping, instrument)
    dictionary = (
        read_dictionary(arguments.dictionary, arguments.encoding) if arguments.dictionary else None
    )
    summary = FileSummary.start(arguments.file.name, export, plan, mapping)
    report = Report(arguments.file.name)
    for outcome in read_rows(
        export, plan, mapping, instrument, now=datetime.now(UTC), dictionary=dictionary
    ):
        summary.add(outcome)
        if outcome.skipped is not None:
            state = RowState.SKIPPED
        elif outcome.errors:
            state = RowState.REJECTED
        else:
            state = RowState.NEW  # until ingest says otherwise
        event = event_to_proto(outcome.response) if outcome.response else None
        report.rows.append(
            Row(outcome.row_number, outcome.event_id, event, state, tuple(outcome.errors))
        )
    print("\n".join(summary.lines()), flush=True)
    readable = [row for row in report.rows if row.event is not None]
    if readable:
        asyncio.run(_judge(arguments, readable, validate_only=True))
    return report, export.key_columns[0]


def _keyer(key: bytes, mapping: SurveyMapping) -> Keyer:
    def keyed(parts: Sequence[str]) -> str:
        return response_event_id(
            key,
            site_id=mapping.site_id,
            instrument_id=mapping.instrument_id,
            wave=mapping.wave or "",
            parts=parts,
        )

    return keyed


async def _send_new_rows(arguments: argparse.Namespace, report: Report) -> None:
    # The new rows, and those ingest refused in the check (an upload beyond the eligible
    # headcount, say): ingest judges them again for real, so its refusal is recorded (and the
    # site flagged for coordinators), not only foreseen.
    new = [
        row
        for row in report.rows
        if row.event is not None and row.state in (RowState.NEW, RowState.REJECTED)
    ]
    if not new:
        return
    with tqdm(
        total=len(new),
        unit="row",
        file=sys.stderr,
        desc=arguments.file.name,
        mininterval=0.5,
    ) as bar:
        await _judge(arguments, new, validate_only=False, bar=bar)


async def _judge(
    arguments: argparse.Namespace,
    rows: list[Row],
    *,
    validate_only: bool,
    bar: tqdm[Never] | None = None,
) -> None:
    """Streams the rows' events to ingest (at most STREAM_LIMIT per stream) and sets each row's
    state from ingest's answer. Retries a stream ingest could not take: what it stored comes
    back as already sent."""
    async with open_channel(arguments.address, ca_file=arguments.ca_file) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        for start in range(0, len(rows), STREAM_LIMIT):
            chunk = rows[start : start + STREAM_LIMIT]
            results = await _stream_with_retries(stub, chunk, arguments.api_key, validate_only, bar)
            for result in results:
                row = chunk[result.index]
                row.state = _STATES[result.status]
                if result.errors:
                    row.errors = tuple(FieldError(e.field, e.reason) for e in result.errors)


_STATES = {
    ingest_pb2.EVENT_STATUS_ACCEPTED: RowState.NEW,
    ingest_pb2.EVENT_STATUS_DUPLICATE: RowState.UNCHANGED,
    ingest_pb2.EVENT_STATUS_CHANGED: RowState.CHANGED,
    ingest_pb2.EVENT_STATUS_REJECTED: RowState.REJECTED,
}


async def _stream_with_retries(
    stub: ingest_pb2_grpc.IngestServiceAsyncStub,
    rows: list[Row],
    api_key: str,
    validate_only: bool,
    bar: tqdm[Never] | None,
    attempts: int = 5,
) -> list[ingest_pb2.EventResult]:
    def messages() -> Iterator[ingest_pb2.StreamEventsRequest]:
        if bar is not None:
            bar.reset(total=len(rows))
        for row in rows:
            yield ingest_pb2.StreamEventsRequest(event=row.event, validate_only=validate_only)
            if bar is not None:
                bar.update(1)

    for attempt in range(attempts):
        try:
            reply = await stub.StreamEvents(
                messages(), metadata=call_metadata(api_key), timeout=300
            )
            return list(reply.results)
        except grpc.aio.AioRpcError as error:
            if error.code() in _RETRYABLE and attempt + 1 < attempts:
                await asyncio.sleep(0.5 * 2**attempt)
                continue
            raise UploadFailed(f"ingest answered {error.code().name}: {error.details()}") from error
    raise AssertionError("unreachable")


def _column(field_path: str, key_column: str) -> str:
    """An ingest error's field as the export's column where it has one."""
    if field_path == "survey_response.event_id":
        return key_column
    return field_path.removeprefix("survey_response.")


def _print_first_problems(refused: list[Row], key_column: str, limit: int = 10) -> None:
    """The first refused rows, each reason once in a row; a reason shared by many rows (the
    headcount check) once, with their number."""
    if not refused:
        return
    by_reason: dict[tuple[str, str], list[int]] = {}
    for row in refused:
        for error in row.errors:
            by_reason.setdefault((_column(error.field, key_column), error.reason), []).append(
                row.row_number
            )
    print("not sent:")
    for (column, reason), rows in list(by_reason.items())[:limit]:
        where = f"row {rows[0]}" if len(rows) == 1 else f"{len(rows)} rows ({_ranges(rows)})"
        print(f"  {where}: {column}: {reason}")


def _ranges(numbers: list[int], shown: int = 5) -> str:
    text = ", ".join(str(n) for n in numbers[:shown])
    return text + (", ..." if len(numbers) > shown else "")


def _write_rejects(path: Path, refused: list[Row], key_column: str) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "event_id", "state", "field", "reason"])
        for row in refused:
            for error in row.errors:
                writer.writerow(
                    [
                        row.row_number,
                        row.event_id,
                        row.state.value,
                        _column(error.field, key_column),
                        error.reason,
                    ]
                )
