"""The web dashboard: a browser view of the benchmarks, read from the query service over gRPC
with the signed-in user's own API key, and kept live from its Watch stream over SSE."""
