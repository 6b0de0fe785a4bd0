"""Benchmarks (`make bench`): each reports figures as ratios against a baseline from the same run."""
