"""`make test-faults`: the figures of every run, printed as one table at the end and written to
bench/results/faults.{md,json}."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.faults.harness import Figures

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"
COLUMNS = [
    ("scenario", "scenario"),
    ("faults", "faults injected"),
    ("sent", "sent"),
    ("acknowledged", "acknowledged"),
    ("present", "present"),
    ("counted", "counted"),
    ("covered", "covered"),
    ("duplicates", "duplicates on topics"),
    ("counted_twice", "counted twice"),
    ("audits", "audits run"),
    ("inputs", "inputs tried"),
]
_ROWS: list[Figures] = []
_STARTED = time.monotonic()


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[Figures]:
    """The test's row of the table; kept even when the test fails (marked so)."""
    row = Figures(scenario=request.node.name.removeprefix("test_"))
    yield row
    report = getattr(request.node, "rep_call", None)
    if report is not None and not report.passed:
        row.notes.append("FAILED")
    _ROWS.append(row)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]


def table(rows: list[Figures]) -> str:
    header = "| " + " | ".join(title for _, title in COLUMNS) + " | notes |"
    lines = [header, "|" + "---|" * (len(COLUMNS) + 1)]
    for row in rows:
        values = [str(getattr(row, name)) for name, _ in COLUMNS]
        lines.append("| " + " | ".join(values) + " | " + "; ".join(row.notes) + " |")
    return "\n".join(lines)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _ROWS:
        return
    elapsed = time.monotonic() - _STARTED
    text = table(_ROWS)
    terminalreporter.section("make test-faults: figures")
    terminalreporter.write_line(text)
    terminalreporter.write_line(f"total {elapsed:.0f} s")
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    (RESULTS / "faults.md").write_text(f"# make test-faults, {stamp} ({elapsed:.0f} s)\n\n{text}\n")
    (RESULTS / "faults.json").write_text(
        json.dumps(
            {
                "finished": stamp,
                "seconds": round(elapsed),
                "rows": [dataclasses.asdict(r) for r in _ROWS],
            },
            indent=2,
        )
        + "\n"
    )
