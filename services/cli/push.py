"""`jedi push`: upload a site's survey export (CSV) or intervention events (JSONL) to ingest.

A survey export is read whole first, as the survey tool wrote it (`--format
qualtrics|redcap|csv`, detected when not given), checked against the instrument registered in
ingest (`IngestService.GetInstrument`) and compared with what ingest holds: the summary says
what was dropped and skipped, and per file how many rows are new, already sent unchanged,
changed since sent, rejected and skipped; only the new rows are sent (`survey_push`). Nothing
is sent from a file that cannot be read or whose mapping is wrong: each problem is one line on
stderr, and the exit status is 2. `--check` stops after the summary: it stores nothing.

Intervention events (JSONL) are sent in batches with a progress bar; what ingest could not
store is retried; every rejected line is written with its reasons to a rejects file; how far it
got is remembered so an interrupted upload resumes where it stopped. Exits 1 when anything was
rejected (or, for a survey, changed since sent), 2 when the upload could not run at all.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import json
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import grpc
from google.protobuf import json_format
from tqdm import tqdm

from jedi.v1 import events_pb2, ingest_pb2, ingest_pb2_grpc
from services.cli import survey_push
from services.cli.arguments import readable_file
from services.cli.exports import ExportFormat
from services.cli.instruments import InstrumentUnavailable
from shared.clients import call_metadata, open_channel
from shared.domain.validation import FieldError

_RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}


@dataclass
class Progress:
    """What an upload has done so far; saved after every batch so it can resume."""

    rows_done: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    skipped: int = 0


@dataclass(frozen=True)
class Submission:
    row_number: int
    event_id: str
    event: ingest_pb2.Event | None  # None when the row was rejected or skipped before sending
    errors: tuple[FieldError, ...] = ()
    skipped: bool = (
        False  # not taken (a survey preview, an incomplete REDCap record, ...): not an error
    )


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "push", help="upload survey responses (CSV) or interventions (JSONL)"
    )
    parser.add_argument("kind", choices=["survey", "interventions"])
    parser.add_argument("file", type=readable_file)
    parser.add_argument(
        "--mapping", type=readable_file, help="column mapping for a CSV export (JSON)"
    )
    parser.add_argument(
        "--format",
        choices=[f.value for f in ExportFormat],
        help="the survey tool that wrote the export (default: detected)",
    )
    parser.add_argument(
        "--dictionary",
        type=readable_file,
        help="REDCap data dictionary (CSV): codes read as labels",
    )
    parser.add_argument(
        "--encoding", help="the export's text encoding when it is not UTF-8 (e.g. latin-1)"
    )
    parser.add_argument(
        "--timezone", help="time zone of the export's dates (overrides the mapping; default UTC)"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="read and check the whole file against the registered instrument; send nothing",
    )
    parser.add_argument("--site", help="site id (overrides the mapping)")
    parser.add_argument("--wave", help="survey wave (overrides the mapping)")
    parser.add_argument(
        "--cycle",
        help="the registered survey cycle the responses belong to (overrides the mapping's "
        '"cycle"; see jedi cycle list)',
    )
    parser.add_argument("--instrument", help="instrument id (overrides the mapping)")
    parser.add_argument(
        "--instrument-version", type=int, help="instrument version (overrides the mapping)"
    )
    add_connection_arguments(parser)
    survey_push.add_arguments(parser)
    parser.add_argument("--batch-size", type=int, default=500, help="intervention events per call")
    parser.add_argument(
        "--rejects", type=Path, help="where rejected rows go (default: FILE.rejects.csv)"
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path(".jedi-push"),
        help="where an intervention upload's progress is kept for resuming (a survey upload "
        "resumes by pushing the file again: what ingest holds comes back as already sent)",
    )
    parser.add_argument(
        "--restart",
        action="store_true",
        help="ignore an intervention upload's saved progress and start over",
    )
    parser.set_defaults(handler=run)


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--address", default=os.environ.get("JEDI_INGEST_ADDRESS", "127.0.0.1:50051")
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get("JEDI_API_KEY"),
        help="the site's API key (default: $JEDI_API_KEY)",
    )
    parser.add_argument("--ca-file", type=readable_file, help="CA bundle: connect with TLS")


def run(arguments: argparse.Namespace) -> int:
    if not arguments.api_key:
        print("jedi push: no API key: pass --api-key or set JEDI_API_KEY", file=sys.stderr)
        return 2
    if arguments.kind == "survey":
        try:
            return survey_push.run(arguments)
        except (InstrumentUnavailable, OSError, ValueError) as error:
            print(f"jedi push: cannot read {arguments.file}: {error}", file=sys.stderr)
            return 2
    try:
        total, submissions = _intervention_submissions(arguments.file)
    except (OSError, ValueError) as error:
        print(f"jedi push: cannot read {arguments.file}: {error}", file=sys.stderr)
        return 2
    if arguments.check:
        every = list(submissions)
        unreadable = [s for s in every if s.errors]
        for submission in unreadable[:10]:
            print(f"line {submission.row_number}: {submission.errors[0].reason}")
        print(
            f"{arguments.file}: {len(every)} events, {len(unreadable)} unreadable; "
            "--check: nothing was sent"
        )
        return 1 if unreadable else 0
    digest = file_digest(arguments.file)
    state_file = arguments.state_dir / f"{digest}.json"
    progress = Progress()
    if state_file.exists() and not arguments.restart:
        progress = Progress(**json.loads(state_file.read_text()))
        print(f"jedi push: resuming after row {progress.rows_done}", file=sys.stderr)
    rejects_path = arguments.rejects or arguments.file.with_suffix(
        arguments.file.suffix + ".rejects.csv"
    )
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


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _intervention_submissions(path: Path) -> tuple[int, Iterator[Submission]]:
    with open(path, encoding="utf-8") as handle:
        total = sum(1 for line in handle if line.strip())

    def generate() -> Iterator[Submission]:
        with open(path, encoding="utf-8") as handle:
            lines = (line for line in handle if line.strip())
            for row_number, line in enumerate(lines, start=1):
                try:
                    message = json_format.Parse(line, events_pb2.InterventionEvent())
                except json_format.ParseError as error:
                    yield Submission(
                        row_number,
                        "",
                        None,
                        (FieldError("intervention", str(error)),),
                    )
                    continue
                yield Submission(
                    row_number, message.event_id, ingest_pb2.Event(intervention=message)
                )

    return total, generate()


async def _upload(
    arguments: argparse.Namespace,
    total: int,
    submissions: Iterable[Submission],
    progress: Progress,
    state_file: Path,
    rejects_path: Path,
) -> None:
    state_file.parent.mkdir(parents=True, exist_ok=True)
    new_rejects_file = progress.rows_done == 0 or not rejects_path.exists()
    with (
        open(rejects_path, "w" if new_rejects_file else "a", newline="") as rejects_handle,
        tqdm(
            total=total,
            initial=progress.rows_done,
            unit="row",
            file=sys.stderr,
            desc=arguments.file.name,
            mininterval=0.5,
        ) as bar,
    ):
        rejects = csv.writer(rejects_handle)
        if new_rejects_file:
            rejects.writerow(["row", "event_id", "field", "reason"])
        async with open_channel(arguments.address, ca_file=arguments.ca_file) as channel:
            stub = ingest_pb2_grpc.IngestServiceStub(channel)
            pending = _skip(submissions, progress.rows_done)
            for batch in _batches(pending, arguments.batch_size):
                sendable = [s for s in batch if s.event is not None]
                results = (
                    await _submit_with_retries(stub, sendable, arguments.api_key)
                    if sendable
                    else []
                )
                by_index = {sendable[r.index].row_number: r for r in results}
                for submission in batch:
                    result = by_index.get(submission.row_number)
                    if submission.skipped:
                        progress.skipped += 1
                    elif result is None or result.status == ingest_pb2.EVENT_STATUS_REJECTED:
                        progress.rejected += 1
                        errors = (
                            submission.errors
                            if result is None
                            else submission.errors
                            or tuple(FieldError(e.field, e.reason) for e in result.errors)
                        )
                        for error in errors:
                            rejects.writerow(
                                [
                                    submission.row_number,
                                    submission.event_id,
                                    error.field,
                                    error.reason,
                                ]
                            )
                    elif result.status == ingest_pb2.EVENT_STATUS_DUPLICATE:
                        progress.duplicates += 1
                    else:
                        progress.accepted += 1
                progress.rows_done = batch[-1].row_number
                rejects_handle.flush()
                partial = state_file.with_suffix(
                    ".tmp"
                )  # replaced whole: a reader never sees half a file
                partial.write_text(json.dumps(asdict(progress)))
                os.replace(partial, state_file)
                bar.update(len(batch))


async def _submit_with_retries(
    stub: ingest_pb2_grpc.IngestServiceAsyncStub,
    submissions: list[Submission],
    api_key: str,
    attempts: int = 5,
) -> list[ingest_pb2.EventResult]:
    request = ingest_pb2.SubmitEventsRequest(
        events=[s.event for s in submissions if s.event is not None]
    )
    for attempt in range(attempts):
        try:
            reply = await stub.SubmitEvents(request, metadata=call_metadata(api_key), timeout=60)
            return list(reply.results)
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
