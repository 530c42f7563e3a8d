"""Benchmarks and experiments; run by hand, never by the test suite."""
