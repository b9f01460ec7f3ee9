"""Benchmarks (`make bench-*`): our figures beside a baseline measured in the same run."""
