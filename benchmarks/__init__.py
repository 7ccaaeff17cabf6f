"""Benchmarks: ``python -m benchmarks.<name> --json out.json``. Never part of the test suite or the wheel.

Every speed is reported as a ratio against a baseline measured in the same run, on the same files: this
machine is shared and noisy, absolute numbers are context, ratios are the result.
"""
