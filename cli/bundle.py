"""Files per principal and an ``index.json`` in one directory: ``policy --out`` and ``unused --suggest``.

Each principal's files get plain names made from its ARN (:func:`trailsmith.policy.render.unique_names`);
every name is checked again here to be a plain file directly inside the directory, so no ARN, however
made, can name a file anywhere else. Each file is replaced only once complete.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from trailsmith.cli.output import output_error
from trailsmith.errors import OutputError, TrailsmithError
from trailsmith.files import write_atomically


def write_bundle(
    out: Path,
    bundle: Mapping[str, tuple[Mapping[str, str], Mapping[str, object]]],
    *,
    option: str,
) -> None:
    """Into ``out``: for each principal of ``bundle``, its files (name -> text), then ``index.json``
    mapping each principal to ``{"files": [...], **summary}``, principals and keys sorted.

    ``option`` names the command line option that chose ``out``, for the error messages.
    """
    if out.exists() and not out.is_dir():
        raise OutputError(
            option, str(out), "exists and is not a directory", hint=f"Give a directory for {option}"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        index: dict[str, dict[str, object]] = {}
        for principal, (files, summary) in bundle.items():
            for name, text in files.items():
                write_atomically(_inside(out, name), text)
            index[principal] = {"files": sorted(files), **summary}
        text = json.dumps(index, indent=2, sort_keys=True) + "\n"
        write_atomically(_inside(out, "index.json"), text)
    except OSError as exc:
        raise output_error(option, out, exc) from None


def _inside(directory: Path, name: str) -> Path:
    root = directory.resolve()
    path = (root / name).resolve()
    if path.parent != root or name.startswith(".") or "/" in name or "\\" in name:
        raise TrailsmithError(f"refusing to write {name!r}: not a plain file name inside {directory}")
    return path
