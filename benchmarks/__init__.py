"""Performance comparisons run by ``python -m benchmarks``; never part of the test suite."""
