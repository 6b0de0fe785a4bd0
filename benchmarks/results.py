"""The results of one `make bench` run: figures beside their baselines, and the two files they go to.

`bench/results/latest.json` holds the machine, the run and, per scenario, its figures, the
baseline figures measured in the same run, the ratios and the parameters;
`bench/results/latest.md` is the same as tables. Neither is committed.
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "bench" / "results"


def percentile(values: list[float], q: int) -> float:
    """The q-th percentile (1..99), inclusive of the extremes."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[q - 1]


@dataclass(frozen=True)
class Figure:
    """One measured figure beside the baseline it is compared with (ratio = value / baseline)."""

    name: str
    value: float
    unit: str
    baseline_name: str | None = None
    baseline: float | None = None

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline


@dataclass
class ScenarioResult:
    name: str
    title: str
    parameters: dict[str, Any] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None

    def add(
        self,
        name: str,
        value: float,
        unit: str,
        baseline_name: str | None = None,
        baseline: float | None = None,
    ) -> Figure:
        figure = Figure(name, value, unit, baseline_name, baseline)
        self.figures.append(figure)
        return figure

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "parameters": self.parameters,
            "seconds": round(self.seconds, 2),
            "error": self.error,
            "notes": self.notes,
            "figures": {
                f.name: {"value": f.value, "unit": f.unit, "baseline_name": f.baseline_name}
                for f in self.figures
            },
            "baselines": {
                f.name: f.baseline
                for f in self.figures
                if f.baseline is not None and f.baseline_name is not None
            },
            "ratios": {f.name: f.ratio for f in self.figures if f.ratio is not None},
        }


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else platform.processor() or "unknown"


def _ram_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _kafka_version() -> str:
    """The local broker's version: what kafka.sh started (its log names it), else its default."""
    if version := os.environ.get("KAFKA_VERSION"):
        return version
    for path, pattern in (
        (ROOT / ".local" / "kafka.log", r"Kafka version: (\S+)"),
        (ROOT / "scripts" / "kafka.sh", r'KAFKA_VERSION="\$\{KAFKA_VERSION:-([^}]+)\}"'),
    ):
        try:
            match = re.search(pattern, path.read_text(errors="replace"))
        except OSError:
            continue
        if match:
            return match.group(1)
    return "unknown"


def machine() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "ram_bytes": _ram_bytes(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "kafka_version": _kafka_version(),
    }


@dataclass
class Run:
    quick: bool
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    scenarios: list[ScenarioResult] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "quick": self.quick,
            "started_at": self.started_at.isoformat(timespec="seconds"),
            "seconds": round(self.seconds, 1),
            "machine": machine(),
            "scenarios": {s.name: s.to_json() for s in self.scenarios},
        }

    def write(self, directory: Path = RESULTS_DIR) -> tuple[Path, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        data = self.to_json()
        json_path, md_path = directory / "latest.json", directory / "latest.md"
        json_path.write_text(json.dumps(data, indent=2, default=str) + "\n")
        md_path.write_text(markdown(data))
        return json_path, md_path


def _number(value: float | None) -> str:
    if value is None:
        return "–"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:,.1f}"
    return f"{value:,.3g}"


def machine_line(data: dict[str, Any]) -> str:
    m = data["machine"]
    ram = f"{m['ram_bytes'] / 2**30:.1f} GiB RAM" if m.get("ram_bytes") else "RAM unknown"
    return (
        f"{m['cpu_count']} CPUs ({m['cpu_model']}), {ram}, Python {m['python']}, "
        f"Kafka {m['kafka_version']}; run {data['started_at']} UTC, {data['seconds']:.0f} s"
        + (" (quick: scaled down)" if data["quick"] else "")
    )


def markdown(data: dict[str, Any]) -> str:
    """Every scenario's figures as one table: ours, the baseline of the same run, the ratio."""
    lines = [
        f"# Benchmarks{' (quick)' if data['quick'] else ''}",
        "",
        machine_line(data),
        "",
        "| scenario | figure | ours | baseline, same run | ratio (ours / baseline) |",
        "|---|---|---|---|---|",
    ]
    for name, scenario in data["scenarios"].items():
        if scenario["error"]:
            lines.append(f"| {name} | **failed** | {scenario['error'][:120]} | | |")
        for figure, details in scenario["figures"].items():
            unit = details["unit"]
            baseline = scenario["baselines"].get(figure)
            baseline_text = (
                f"{_number(baseline)} {unit} ({details['baseline_name']})"
                if baseline is not None
                else "–"
            )
            ratio = scenario["ratios"].get(figure)
            lines.append(
                f"| {name} | {figure} | {_number(details['value'])} {unit} | {baseline_text} "
                f"| {_number(ratio)} |"
            )
    lines.append("")
    for name, scenario in data["scenarios"].items():
        lines.append(f"## {name}: {scenario['title']}")
        lines.append("")
        parameters = ", ".join(f"{k}={v}" for k, v in scenario["parameters"].items())
        lines.append(f"Parameters: {parameters or 'none'}; took {scenario['seconds']:.0f} s.")
        lines.extend(f"- {note}" for note in scenario["notes"])
        lines.append("")
    return "\n".join(lines)
