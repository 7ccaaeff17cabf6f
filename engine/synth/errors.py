"""Errors of the synthetic archive generator, each with a hint that says how to fix the call."""

from __future__ import annotations

from trailsmith.errors import TrailsmithError


class SynthError(TrailsmithError):
    """Base class of the generator's errors."""


class SynthConfigError(SynthError):
    """A configuration value is out of range or malformed; ``option`` names it as the CLI spells it."""

    def __init__(self, option: str, problem: str, *, hint: str | None = None) -> None:
        super().__init__(f"{option}: {problem}", hint=hint)
        self.option = option


class OutputNotEmptyError(SynthError):
    """The output directory already holds files: writing there would mix two archives."""

    def __init__(self, path: str) -> None:
        super().__init__(
            f"{path}: the output directory is not empty",
            hint="Choose a new or empty directory, or pass --force to write into it anyway "
            "(files of the same name are replaced, other files are left alone)",
        )
        self.path = path


class TruthPathError(SynthError):
    """The ground-truth file would land inside the archive, where ingest would take it for input."""

    def __init__(self, path: str, out_dir: str) -> None:
        super().__init__(
            f"{path}: the truth file must not be written inside the archive {out_dir}",
            hint="Write it beside the archive, e.g. --truth truth.json",
        )
        self.path = path
