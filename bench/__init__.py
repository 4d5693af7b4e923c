"""Benchmarks: `python -m bench`. Each compares Tally against a baseline in the same run."""
