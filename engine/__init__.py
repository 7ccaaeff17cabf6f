"""trailsmith: offline analytics for AWS CloudTrail archives.

>>> import trailsmith
>>> report = trailsmith.ingest(["data/sample"], "warehouse")          # doctest: +SKIP
>>> trailsmith.query("SELECT count(*) FROM events", "warehouse")      # doctest: +SKIP
"""

from __future__ import annotations

from trailsmith._version import __version__
from trailsmith.db import connect, query
from trailsmith.errors import TrailsmithError
from trailsmith.ingest import IngestReport, ingest

__all__ = ["IngestReport", "TrailsmithError", "__version__", "connect", "ingest", "query"]
