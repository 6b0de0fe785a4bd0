"""Scaling: the processor scenario at growing sizes, as the cost per event (µs of wall time).

Two series, each point a full processor run (benchmarks/processor_throughput.py) with its own
baseline (the same records produced and read back), in the same run:
- the demo dataset at 1×, 4× and 16× (13 sites, more people per site);
- the same number of events as the demo at 4×, spread over 13, 100 and 1,000 sites
  (national sites, benchmarks/dataset.py).
Beside each series, its growth: the cost per event at its largest point against its smallest.
"""

from __future__ import annotations

from collections.abc import Sequence

from benchmarks import processor_throughput
from benchmarks.dataset import demo, describe, national
from benchmarks.processor_throughput import ProcessorRun
from benchmarks.progress import say
from benchmarks.results import ScenarioResult


def _cost(run: ProcessorRun) -> tuple[float, float]:
    return 1e6 * run.seconds / run.events, 1e6 * run.kafka_seconds / run.events


def _add(result: ScenarioResult, label: str, run: ProcessorRun) -> float:
    cost, baseline = _cost(run)
    result.add(f"{label}: cost per event", cost, "µs/ev", "produce and read back", baseline)
    return cost


def run(
    result: ScenarioResult,
    base_scale: float,
    factors: Sequence[int],
    site_counts: Sequence[int],
    first: ProcessorRun,
) -> None:
    """`first`: the processor scenario's run, the demo at `base_scale` (the 1× point)."""
    result.parameters.update(
        base_scale=base_scale, factors=list(factors), site_counts=list(site_counts)
    )
    by_factor: dict[int, float] = {factors[0]: _add(result, f"demo ×{factors[0]}", first)}
    runs: dict[int, ProcessorRun] = {}
    for factor in factors[1:]:
        dataset = demo(base_scale * factor)
        say(f"scaling: demo ×{factor} ({describe(dataset)})")
        runs[factor] = processor_throughput.measure(dataset, f"demo ×{factor}")
        by_factor[factor] = _add(result, f"demo ×{factor}", runs[factor])
    result.add(
        f"growth ×{factors[0]} → ×{factors[-1]}",
        by_factor[factors[-1]],
        "µs/ev",
        f"cost at ×{factors[0]}",
        by_factor[factors[0]],
    )
    # The sites series holds the events of the demo at its second factor.
    middle = factors[1]
    reference = demo(base_scale * middle)
    responses, interventions = len(reference.responses), len(reference.interventions)
    by_sites: dict[int, float] = {}
    for sites in site_counts:
        if sites == len(reference.sites) and middle in runs:
            by_sites[sites] = _add(result, f"{sites} sites", runs[middle])
            continue
        dataset = national(sites, responses, interventions, seed=sites)
        say(f"scaling: {sites} sites ({describe(dataset)})")
        measured = processor_throughput.measure(dataset, f"{sites} sites")
        by_sites[sites] = _add(result, f"{sites} sites", measured)
    result.add(
        f"growth {site_counts[0]} → {site_counts[-1]} sites",
        by_sites[site_counts[-1]],
        "µs/ev",
        f"cost at {site_counts[0]} sites",
        by_sites[site_counts[0]],
    )
