"""What the uploader made of a survey export: the same lines for `jedi push --check` and `jedi push`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from services.cli.exports import Export
from services.cli.mapping import ColumnPlan, SurveyMapping
from services.cli.survey_csv import RowOutcome

FIRST_ERRORS = 10


@dataclass
class FileSummary:
    name: str
    format: str
    rows: int = 0
    dropped: tuple[str, ...] = ()
    key_columns: tuple[str, ...] = ()
    tool_columns: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()
    skipped: Counter[str] = field(default_factory=Counter)
    unfinished_kept: int = 0
    to_send: int = 0
    rejected_rows: int = 0
    timezone: str | None = None
    cycle: str | None = None
    first_errors: list[str] = field(default_factory=list)

    @classmethod
    def start(
        cls, name: str, export: Export, plan: ColumnPlan, mapping: SurveyMapping
    ) -> FileSummary:
        return cls(
            name,
            export.format.value,
            dropped=export.dropped,
            key_columns=export.key_columns,
            tool_columns=plan.tool_columns,
            ignored=plan.ignored,
            timezone=mapping.timezone,
            cycle=mapping.cycle,
        )

    def add(self, outcome: RowOutcome) -> None:
        self.rows += 1
        if outcome.skipped:
            self.skipped[outcome.skipped] += 1
        elif outcome.errors:
            self.rejected_rows += 1
            if len(self.first_errors) < FIRST_ERRORS:
                self.first_errors += [
                    f"row {outcome.row_number}: {e.field}: {e.reason}" for e in outcome.errors
                ]
        else:
            self.to_send += 1
            self.unfinished_kept += outcome.unfinished

    def lines(self) -> list[str]:
        lines = [f"{self.name}: {self.format} export, {self.rows} responses"]
        if self.dropped:
            lines.append(
                f"  dropped, could identify a respondent (never read, never sent): {', '.join(self.dropped)}"
            )
        if self.key_columns:
            lines.append(
                f"  response id: {', '.join(self.key_columns)} (keyed with the site's response "
                "key into the event id, then dropped: never sent)"
            )
        if self.tool_columns:
            lines.append(f"  survey-tool columns, not sent: {', '.join(self.tool_columns)}")
        if self.ignored:
            lines.append(f"  ignored by the mapping: {', '.join(self.ignored)}")
        for reason, count in sorted(self.skipped.items()):
            lines.append(f"  skipped: {count} {reason}")
        if self.unfinished_kept:
            lines.append(
                f"  unfinished but kept (at least one item answered): {self.unfinished_kept}"
            )
        if self.timezone is None:
            lines.append(
                '  warning: dates read as UTC; set "timezone" in the mapping or pass --timezone '
                "if the export's dates are local times"
            )
        else:
            lines.append(f"  dates read in {self.timezone}")
        if self.cycle is not None:
            lines.append(f"  survey cycle: {self.cycle} (ingest checks each response against it)")
        lines.append(f"  {self.to_send} readable, {self.rejected_rows} with errors (not sent)")
        return lines
