"""Helpers shared by tests and benchmarks (the test support package); conftest.py holds fixtures only."""
