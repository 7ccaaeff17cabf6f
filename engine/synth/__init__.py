"""Seeded generator of synthetic CloudTrail archives in the S3 export layout, with their ground truth.

>>> from trailsmith.synth import SynthConfig, generate
>>> report = generate("out", SynthConfig.sample(), truth="truth.json")   # doctest: +SKIP

``generate`` writes gzipped ``{"Records": [...]}`` log files under
``AWSLogs/o-<org>/<account>/CloudTrail/<region>/YYYY/MM/DD/``, hourly digest files under
``CloudTrail-Digest/``, and returns a :class:`SynthReport`: per policy holder, the (action, resource) pairs
its authorised calls needed, the ones it was denied, the roles it passed, and event counts. The actions
come from hand-written facts in the event catalog (:func:`templates`), never from mapping code, so the
report can judge the project's event-to-action mapping and policy generator.
"""

from __future__ import annotations

from trailsmith.synth.catalog import Call, Template
from trailsmith.synth.config import PRESETS, SynthConfig
from trailsmith.synth.errors import OutputNotEmptyError, SynthConfigError, SynthError, TruthPathError
from trailsmith.synth.registry import templates
from trailsmith.synth.run import ProgressCallback, SynthProgress, generate
from trailsmith.synth.truth import HolderTruth, SynthReport, Totals

__all__ = [
    "PRESETS",
    "Call",
    "HolderTruth",
    "OutputNotEmptyError",
    "ProgressCallback",
    "SynthConfig",
    "SynthConfigError",
    "SynthError",
    "SynthProgress",
    "SynthReport",
    "Template",
    "Totals",
    "TruthPathError",
    "generate",
    "templates",
]
