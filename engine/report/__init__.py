"""``trailsmith report``: one self-contained HTML page per warehouse, for people who will not run a CLI.

>>> from trailsmith.report import build, render
>>> page = render.render(build.gather("warehouse", since="90d"))   # doctest: +SKIP

The numbers come from the same code as the CLI: the ``calls`` view and the saved queries of
:mod:`trailsmith.sql` (:mod:`trailsmith.report.build`), the policy generator, and ``unused`` when an IAM
export is given. :mod:`trailsmith.report.chart` draws the charts as SVG in Python, and
:mod:`trailsmith.report.render` fills the Jinja2 templates (autoescaped: every ARN and event name comes
from an archive nobody vetted), so the page loads nothing from the network.
"""
