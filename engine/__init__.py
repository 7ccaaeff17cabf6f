"""trailsmith: offline analytics for AWS CloudTrail archives.

>>> import trailsmith
>>> report = trailsmith.ingest(["data/sample"], "warehouse")          # doctest: +SKIP
>>> trailsmith.query("SELECT count(*) FROM events", "warehouse")      # doctest: +SKIP
>>> trailsmith.run_saved("denied_calls", "warehouse", start="2024-08-01")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from trailsmith._version import __version__
from trailsmith.errors import TrailsmithError
from trailsmith.ingestion.driver import IngestReport, ingest

if TYPE_CHECKING:
    from trailsmith.sql.db import connect, query
    from trailsmith.sql.frames import query_frame, saved_frame
    from trailsmith.sql.saved import SavedQuery, run_saved, saved_queries

# The public API, imported on first use: worker processes import ``trailsmith.ingestion.worker`` and need none
# of DuckDB, polars or the query layer (each costs tens of MB per process).
_LAZY = {
    "connect": "trailsmith.sql.db",
    "query": "trailsmith.sql.db",
    "query_frame": "trailsmith.sql.frames",
    "saved_frame": "trailsmith.sql.frames",
    "SavedQuery": "trailsmith.sql.saved",
    "run_saved": "trailsmith.sql.saved",
    "saved_queries": "trailsmith.sql.saved",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'trailsmith' has no attribute {name!r}")


__all__ = [
    "IngestReport",
    "SavedQuery",
    "TrailsmithError",
    "__version__",
    "connect",
    "ingest",
    "query",
    "query_frame",
    "run_saved",
    "saved_frame",
    "saved_queries",
]
