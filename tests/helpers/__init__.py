"""Modules the tests share (record builders, the S3 server, Spark parity, policy ground truth, paths).

Importable as ``helpers.*`` because pytest puts ``tests/`` on ``sys.path`` (``pythonpath`` in pyproject.toml).
No tests live here.
"""
