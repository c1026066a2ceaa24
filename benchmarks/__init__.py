"""Benchmarks (``make bench-…``): they print tables and are never run by the test suite."""
