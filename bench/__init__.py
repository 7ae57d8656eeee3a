"""Benchmarks. Each module `bench/<topic>.py` has `run(quick: bool) -> str` returning a Markdown section.

`python -m bench [--quick] [TOPIC ...]` (or `make bench`) runs them, writes each section to
`docs/bench/<topic>.md` and rebuilds `docs/benchmarks.md` from all sections. Timings are medians over
several runs with their spread; comparisons are ratios measured in the same run (machines are noisy).
"""
