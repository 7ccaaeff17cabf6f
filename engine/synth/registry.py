"""The registry of event templates: every ``events_*`` module's ``TEMPLATES``, by key.

>>> templates()["s3.GetObject"].name
'GetObject'
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from trailsmith.synth import events_compute, events_data, events_identity, events_ops, events_s3, events_tags
from trailsmith.synth.catalog import Template

#: The template modules, each with its ``TEMPLATES``.
MODULES = (events_s3, events_compute, events_data, events_identity, events_ops)

#: The modules of archives made with ``SynthConfig(tags=True)`` only (tagging calls, session tags).
TAG_MODULES = (events_tags,)


@functools.lru_cache(maxsize=2)
def templates(tags: bool = False) -> Mapping[str, Template]:
    """Every template, by key (built on first use, not at import); with ``tags``, the tagging ones too."""
    table: dict[str, Template] = {}
    for module in MODULES + (TAG_MODULES if tags else ()):
        for template in module.TEMPLATES:
            if template.key in table:
                raise ValueError(f"template {template.key} is declared twice")
            table[template.key] = template
    return table
