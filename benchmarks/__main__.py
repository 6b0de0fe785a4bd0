"""`python -m benchmarks [--quick] [--only NAME ...]`: every scenario in turn on the local broker.

Writes bench/results/latest.json and latest.md (benchmarks/results.py). `--quick` runs the same
scenarios scaled down (`make bench-quick`, a few minutes) to the same files, marked "quick".
A scenario that fails is recorded with its error; the others still run.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks import (
    cross_site_stage,
    freshness,
    ingest_throughput,
    national_wave,
    processor_throughput,
    query_load,
    recovery,
    scaling,
)
from benchmarks.dataset import demo, national
from benchmarks.processor_throughput import ProcessorRun
from benchmarks.progress import quiet_logs, say
from benchmarks.results import Run, ScenarioResult, machine_line

SCENARIOS = {
    "ingest": "events/s through IngestService against a plain aiokafka producer",
    "processor": "raw events to complete benchmarks against producing and reading back",
    "freshness": "a response to its release on a Watch subscriber, under steady load",
    "query": "GetSiteScorecard and CompareSites against the health Check",
    "national": "a national wave end to end: ingest → processor → query",
    "recovery": "processor restart to ready on the national state",
    "scaling": "cost per event at growing datasets and site counts",
    "cross_site": "the single-partition cross-site stage on its own",
}


@dataclass(frozen=True)
class Plan:
    """Sizes of every scenario: `FULL` for `make bench`, `QUICK` for `make bench-quick`."""

    ingest_scale: float
    processor_scale: float
    freshness_rate: int
    freshness_seconds: float
    query_scale: float
    query_seconds: float
    national: tuple[int, int, int]  # sites, responses, intervention events
    scaling_factors: tuple[int, ...]
    scaling_sites: tuple[int, ...]
    cross_site_sites: tuple[int, ...]
    cross_site_seconds: float  # of batches of one summary, per site count


FULL = Plan(
    ingest_scale=4.0,
    processor_scale=1.0,
    freshness_rate=2000,
    freshness_seconds=60.0,
    query_scale=1.0,
    query_seconds=5.0,
    national=(1000, 160_000, 50_000),
    scaling_factors=(1, 4, 16),
    scaling_sites=(13, 100, 1000),
    cross_site_sites=(13, 100, 1000),
    cross_site_seconds=20.0,
)
QUICK = Plan(
    ingest_scale=0.15,
    processor_scale=0.05,
    freshness_rate=2000,
    freshness_seconds=5.0,
    query_scale=0.2,
    query_seconds=1.0,
    national=(20, 1000, 300),
    scaling_factors=(1, 4),
    scaling_sites=(13, 100),
    cross_site_sites=(13, 100, 300),
    cross_site_seconds=1.0,
)


def scenario(run: Run, name: str, body: Callable[[ScenarioResult], object]) -> object:
    result = ScenarioResult(name, SCENARIOS[name])
    run.scenarios.append(result)
    say(f"--- {name}: {result.title}")
    started = time.monotonic()
    outcome: object = None
    try:
        outcome = body(result)
    except Exception as error:  # noqa: BLE001 -- any failure is recorded in the results; the other scenarios still run
        result.error = f"{type(error).__name__}: {error}"
        traceback.print_exc(file=sys.stderr)
    result.seconds = time.monotonic() - started
    say(
        f"{name} took {result.seconds:.0f} s"
        + (f", FAILED: {result.error}" if result.error else "")
    )
    run.write()
    return outcome


def after_midnight_if_close(minutes: float) -> None:
    """The processor stamps releases with the UTC day and releases every site again when the day
    changes: a wave that runs across midnight measures that too. Within `minutes` of midnight,
    the national wave waits for the new day instead."""
    now = datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    if (midnight - now).total_seconds() < minutes * 60:
        say(f"national: waiting for the UTC day to change ({midnight - now})")
        time.sleep((midnight - now).total_seconds() + 30)


def national_and_recovery(run: Run, plan: Plan, wanted: set[str]) -> None:
    sites, responses, interventions = plan.national
    say(f"national: building {sites} sites, {responses} responses, {interventions} interventions")
    dataset = national(sites, responses, interventions)
    if not run.quick:
        after_midnight_if_close(45)
    with tempfile.TemporaryDirectory() as directory:

        async def both() -> None:
            national_result = ScenarioResult("national", SCENARIOS["national"])
            run.scenarios.append(national_result)
            say("--- national")
            started = time.monotonic()
            try:
                state = await national_wave.measure(national_result, dataset, Path(directory))
            except Exception as error:  # noqa: BLE001 -- recorded in the results; recovery cannot run without the state
                national_result.error = f"{type(error).__name__}: {error}"
                traceback.print_exc(file=sys.stderr)
                return
            finally:
                national_result.seconds = time.monotonic() - started
                run.write()
            if "recovery" not in wanted:
                await state.platform.stop()
                return
            recovery_result = ScenarioResult("recovery", SCENARIOS["recovery"])
            run.scenarios.append(recovery_result)
            say("--- recovery")
            started = time.monotonic()
            try:
                await recovery.measure(recovery_result, state)
            except Exception as error:  # noqa: BLE001 -- any failure is recorded in the results
                recovery_result.error = f"{type(error).__name__}: {error}"
                traceback.print_exc(file=sys.stderr)
            finally:
                await state.topic.__aexit__()
                recovery_result.seconds = time.monotonic() - started
                run.write()

        asyncio.run(both())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="every scenario, scaled down")
    parser.add_argument("--only", nargs="+", choices=sorted(SCENARIOS), help="these scenarios")
    arguments = parser.parse_args(argv)
    quiet_logs()
    plan = QUICK if arguments.quick else FULL
    wanted = set(arguments.only or SCENARIOS)
    run = Run(quick=arguments.quick)
    started = time.monotonic()
    first: ProcessorRun | None = None

    if "ingest" in wanted:
        scenario(run, "ingest", lambda r: ingest_throughput.run(r, demo(plan.ingest_scale)))
    if "processor" in wanted or "scaling" in wanted:
        outcome = scenario(
            run,
            "processor",
            lambda r: processor_throughput.run(r, demo(plan.processor_scale), plan.processor_scale),
        )
        first = outcome if isinstance(outcome, ProcessorRun) else None
    if "cross_site" in wanted:
        scenario(
            run,
            "cross_site",
            lambda r: cross_site_stage.run(r, plan.cross_site_sites, plan.cross_site_seconds),
        )
    if "freshness" in wanted:
        scenario(
            run,
            "freshness",
            lambda r: freshness.run(r, plan.freshness_rate, plan.freshness_seconds),
        )
    if "query" in wanted:
        scenario(
            run, "query", lambda r: query_load.run(r, demo(plan.query_scale), plan.query_seconds)
        )
    if wanted & {"national", "recovery"}:
        national_and_recovery(run, plan, wanted)
    # Last: at full size the longest, and it only repeats the processor scenario at other sizes.
    if "scaling" in wanted and first is not None:
        scenario(
            run,
            "scaling",
            lambda r: scaling.run(
                r, plan.processor_scale, plan.scaling_factors, plan.scaling_sites, first
            ),
        )
    run.seconds = time.monotonic() - started
    json_path, md_path = run.write()
    print(Path(md_path).read_text())
    say(f"wrote {json_path} and {md_path}: {machine_line(run.to_json())}")
    return 1 if any(s.error for s in run.scenarios) else 0


if __name__ == "__main__":
    sys.exit(main())
