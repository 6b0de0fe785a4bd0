"""`jedi push`: upload a site's survey export (CSV) or intervention events (JSONL) to ingest.

Streams the file in batches with a progress bar, retries what ingest could not store,
writes every rejected row with its reasons to a rejects file, remembers how far it got so
an interrupted upload resumes where it stopped, and prints a summary. Exits 1 when
anything was rejected, 2 when the upload could not run at all.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Iterator

import grpc
from google.protobuf import json_format
from jedi.v1 import events_pb2, ingest_pb2, ingest_pb2_grpc
from tqdm import tqdm

from shared.clients import call_metadata, open_channel
from shared.convert import event_to_proto
from shared.domain.validation import FieldError

from services.cli.arguments import readable_file
from services.cli.survey_csv import (
    MappingError,
    SurveyMapping,
    column_targets,
    file_digest,
    read_rows,
    row_event_id,
)

# Item codes as survey exports name their columns: BEL1, PSY12, ...
_ITEM_CODE = re.compile(r"^[A-Z]{2,6}\d{1,3}$")
_RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}


@dataclass
class Progress:
    """What an upload has done so far; saved after every batch so it can resume."""

    rows_done: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0


@dataclass(frozen=True)
class Submission:
    row_number: int
    event_id: str
    event: ingest_pb2.Event | None  # None when the row was rejected before sending
    errors: tuple[FieldError, ...] = ()


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("push", help="upload survey responses (CSV) or interventions (JSONL)")
    parser.add_argument("kind", choices=["survey", "interventions"])
    parser.add_argument("file", type=Path)
    parser.add_argument("--mapping", type=Path, help="column mapping for a CSV export (JSON)")
    parser.add_argument("--site", help="site id (overrides the mapping)")
    parser.add_argument("--wave", help="survey wave (overrides the mapping)")
    parser.add_argument("--instrument", help="instrument id (overrides the mapping)")
    parser.add_argument("--instrument-version", type=int, help="instrument version (overrides the mapping)")
    parser.add_argument("--address", default=os.environ.get("JEDI_INGEST_ADDRESS", "127.0.0.1:50051"))
    parser.add_argument("--api-key", default=os.environ.get("JEDI_API_KEY"),
                        help="the site's API key (default: $JEDI_API_KEY)")
    parser.add_argument("--ca-file", type=readable_file, help="CA bundle: connect with TLS")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--rejects", type=Path, help="where rejected rows go (default: FILE.rejects.csv)")
    parser.add_argument("--state-dir", type=Path, default=Path(".jedi-push"),
                        help="where progress is kept for resuming")
    parser.add_argument("--restart", action="store_true", help="ignore saved progress and start over")
    parser.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    if not arguments.api_key:
        print("jedi push: no API key: pass --api-key or set JEDI_API_KEY", file=sys.stderr)
        return 2
    try:
        total, submissions = _submissions(arguments)
    except (MappingError, OSError, ValueError) as error:
        print(f"jedi push: cannot read {arguments.file}: {error}", file=sys.stderr)
        return 2
    digest = file_digest(arguments.file)
    state_file = arguments.state_dir / f"{digest}.json"
    progress = Progress()
    if state_file.exists() and not arguments.restart:
        progress = Progress(**json.loads(state_file.read_text()))
        print(f"jedi push: resuming after row {progress.rows_done}", file=sys.stderr)
    rejects_path = arguments.rejects or arguments.file.with_suffix(arguments.file.suffix + ".rejects.csv")
    try:
        asyncio.run(_upload(arguments, total, submissions, progress, state_file, rejects_path))
    except _Fatal as error:
        print(f"jedi push: {error}", file=sys.stderr)
        return 2
    state_file.unlink(missing_ok=True)
    print(
        f"{arguments.file}: {progress.rows_done} rows: {progress.accepted} accepted, "
        f"{progress.duplicates} duplicates, {progress.rejected} rejected"
        + (f" (reasons in {rejects_path})" if progress.rejected else "")
    )
    return 1 if progress.rejected else 0


class _Fatal(Exception):
    """The upload cannot go on; progress so far is saved."""


def _submissions(arguments) -> tuple[int, Iterator[Submission]]:
    if arguments.kind == "survey":
        return _survey_submissions(arguments)
    return _intervention_submissions(arguments.file)


def _survey_submissions(arguments) -> tuple[int, Iterator[Submission]]:
    mapping = SurveyMapping.from_file(
        arguments.mapping, site_id=arguments.site, wave=arguments.wave,
        instrument_id=arguments.instrument, instrument_version=arguments.instrument_version,
    )
    with open(arguments.file, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        total = sum(1 for _ in reader)
    item_codes = {column for column in header if _ITEM_CODE.match(column)}
    targets = column_targets(header, mapping, item_codes)
    digest = file_digest(arguments.file)

    def generate() -> Iterator[Submission]:
        with open(arguments.file, newline="", encoding="utf-8-sig") as handle:
            for outcome in read_rows(csv.DictReader(handle), targets, mapping, digest):
                event = event_to_proto(outcome.response) if outcome.response else None
                yield Submission(outcome.row_number, outcome.event_id, event, tuple(outcome.errors))

    return total, generate()


def _intervention_submissions(path: Path) -> tuple[int, Iterator[Submission]]:
    with open(path, encoding="utf-8") as handle:
        total = sum(1 for line in handle if line.strip())
    digest = file_digest(path)

    def generate() -> Iterator[Submission]:
        with open(path, encoding="utf-8") as handle:
            lines = (line for line in handle if line.strip())
            for row_number, line in enumerate(lines, start=1):
                try:
                    message = json_format.Parse(line, events_pb2.InterventionEvent())
                except json_format.ParseError as error:
                    yield Submission(row_number, row_event_id(digest, row_number), None,
                                     (FieldError("intervention", str(error)),))
                    continue
                yield Submission(row_number, message.event_id, ingest_pb2.Event(intervention=message))

    return total, generate()


async def _upload(arguments, total, submissions, progress: Progress, state_file: Path, rejects_path: Path) -> None:
    state_file.parent.mkdir(parents=True, exist_ok=True)
    new_rejects_file = progress.rows_done == 0 or not rejects_path.exists()
    with open(rejects_path, "w" if new_rejects_file else "a", newline="") as rejects_handle, \
            tqdm(total=total, initial=progress.rows_done, unit="row", file=sys.stderr,
                 desc=arguments.file.name, mininterval=0.5) as bar:
        rejects = csv.writer(rejects_handle)
        if new_rejects_file:
            rejects.writerow(["row", "event_id", "field", "reason"])
        async with open_channel(arguments.address, ca_file=arguments.ca_file) as channel:
            stub = ingest_pb2_grpc.IngestServiceStub(channel)
            pending = _skip(submissions, progress.rows_done)
            for batch in _batches(pending, arguments.batch_size):
                sendable = [s for s in batch if s.event is not None]
                results = await _submit_with_retries(stub, sendable, arguments.api_key) if sendable else []
                by_index = {sendable[r.index].row_number: r for r in results}
                for submission in batch:
                    result = by_index.get(submission.row_number)
                    if result is None or result.status == ingest_pb2.EVENT_STATUS_REJECTED:
                        progress.rejected += 1
                        errors = submission.errors or tuple(FieldError(e.field, e.reason) for e in result.errors)
                        for error in errors:
                            rejects.writerow([submission.row_number, submission.event_id, error.field, error.reason])
                    elif result.status == ingest_pb2.EVENT_STATUS_DUPLICATE:
                        progress.duplicates += 1
                    else:
                        progress.accepted += 1
                progress.rows_done = batch[-1].row_number
                rejects_handle.flush()
                state_file.write_text(json.dumps(asdict(progress)))
                bar.update(len(batch))


async def _submit_with_retries(stub, submissions: list[Submission], api_key: str, attempts: int = 5):
    request = ingest_pb2.SubmitEventsRequest(events=[s.event for s in submissions])
    for attempt in range(attempts):
        try:
            reply = await stub.SubmitEvents(request, metadata=call_metadata(api_key), timeout=60)
            return reply.results
        except grpc.aio.AioRpcError as error:
            if error.code() in _RETRYABLE and attempt + 1 < attempts:
                # Safe to resend: what ingest stored already comes back as a duplicate.
                await asyncio.sleep(0.5 * 2**attempt)
                continue
            raise _Fatal(f"ingest answered {error.code().name}: {error.details()}") from error
    raise AssertionError("unreachable")


def _skip(submissions: Iterable[Submission], rows_done: int) -> Iterator[Submission]:
    return (s for s in submissions if s.row_number > rows_done)


def _batches(submissions: Iterator[Submission], size: int) -> Iterator[list[Submission]]:
    batch: list[Submission] = []
    for submission in submissions:
        batch.append(submission)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
