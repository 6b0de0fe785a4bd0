"""Runs every benchmark in turn against the local broker."""

import importlib

BENCHMARKS = (
    "benchmarks.ingest_throughput",
    "benchmarks.processor_throughput",
    "benchmarks.watch_latency",
)

for name in BENCHMARKS:
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as error:
        print(f"{name}: skipped ({error})")
        continue
    module.main()
