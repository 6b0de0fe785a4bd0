"""The benchmark query service: gRPC over a view materialised from the benchmarks topic."""
