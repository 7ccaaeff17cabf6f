"""The report as one HTML file: Jinja2 templates, autoescaped, with the CSS, the script and the SVG inline.

Every value from the archive (ARNs, event names, error codes, resources) goes through Jinja2's
autoescaping; the only markup that does not is the SVG drawn by :mod:`trailsmith.report.chart`, which
escapes the little text it holds itself. Nothing in the page refers to another file or host, so it opens
from disk, offline, and can be mailed as it is.

The page stays under :data:`MAX_BYTES`: when the sections of the most active principals would make it
larger, fewer get a section (halving until it fits) and the page says how many are shown.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

import jinja2
from markupsafe import Markup

from trailsmith._version import __version__
from trailsmith.report import chart
from trailsmith.report.build import Report

#: Upper bound of the page's size in bytes.
MAX_BYTES = 10 * 1024 * 1024


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("trailsmith.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["n"] = lambda value: f"{value:,}"
    environment.filters["when"] = _when
    environment.filters["share"] = lambda value: "" if value is None else f"{value:.0%}"
    return environment


def _when(value: Any) -> str:
    """A time as the page shows it: UTC, to the second."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def _page(report: Report) -> str:
    template = _environment().get_template("report.html.j2")
    charts = [Markup(chart.bars(d.days)) for d in report.details]
    return template.render(
        report=report,
        charts=charts,
        version=__version__,
        generated=datetime.now(timezone.utc),
    )


def render(report: Report, max_bytes: int = MAX_BYTES) -> bytes:
    """The page, UTF-8, at most ``max_bytes`` (fewer principal sections when the whole would be larger)."""
    page = _page(report).encode()
    while len(page) > max_bytes and report.details:
        report = replace(report, details=report.details[: len(report.details) // 2])
        page = _page(report).encode()
    return page
