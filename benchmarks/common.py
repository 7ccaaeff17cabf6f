"""What every benchmark needs: cached synthetic archives, timed runs in fresh processes, peak memory.

Each measured run is a fresh Python process (nothing cached between runs), and its peak memory is the
peak of the *sum* of resident memory over its whole process tree (workers included), sampled from /proc.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

WORK = Path(__file__).resolve().parent / "work"
#: The synthetic archives' shape (the sizes and file lengths vary by benchmark):
#: 3 accounts, 3 regions, a week.
ARCHIVE: dict[str, Any] = {"accounts": 3, "regions": ("us-east-1", "eu-west-1", "ap-southeast-2"), "days": 7}


@dataclass(frozen=True)
class Run:
    """One measured run."""

    name: str
    seconds: float
    peak_rss_mb: float
    result: dict[str, Any]


def archive(name: str, **config: Any) -> tuple[Path, dict[str, Any]]:
    """A synthetic archive for ``config`` (SynthConfig fields), generated once and reused; (path, totals)."""
    from trailsmith.synth import SynthConfig, generate

    settings = SynthConfig(**config)
    key = hashlib.sha256(json.dumps(settings.describe(), sort_keys=True).encode()).hexdigest()[:10]
    root = WORK / "archives" / f"{name}-{key}"
    done = root / "totals.json"
    if not done.exists():
        target = root / "archive"
        report = generate(target, settings.replace(workers=os.cpu_count() or 1), force=True)
        done.write_text(json.dumps(asdict(report.totals)))
    return root / "archive", json.loads(done.read_text())


def warm(path: Path) -> int:
    """Read every file once so that every measured run finds the same (warm) page cache; returns bytes."""
    total = 0
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        total += len(file.read_bytes())
    return total


def _tree_rss_kb(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants, in KB (Linux /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            parent, pages = int(fields[1]), int(fields[21])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
        rss[int(entry.name)] = pages * os.sysconf("SC_PAGE_SIZE") // 1024
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += rss.get(current, 0)
        todo.extend(children.get(current, []))
    return total


def run_python(name: str, code: str, *args: str, timeout: float = 7200) -> Run:
    """Run ``code`` (which prints one JSON object last) in a fresh interpreter; time it and its memory."""
    began = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_rss_kb(process.pid))
            stop.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = process.communicate(timeout=timeout)
    seconds = time.perf_counter() - began
    stop.set()
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(f"{name} failed ({process.returncode}):\n{err[-4000:]}")
    result = _last_object(name, out)
    return Run(name, result.get("seconds", seconds), peak / 1024, result)


def fastest(runs: list[Run]) -> Run:
    """The fastest of repeated runs of one measurement (the machine is shared: noise only ever slows a run
    down), with the highest peak memory of them all (memory is not helped by noise, so none is hidden)."""
    best = min(runs, key=lambda run: run.seconds)
    return replace(best, peak_rss_mb=max(run.peak_rss_mb for run in runs))


def write_json(path: str | None, payload: Any) -> None:
    text = json.dumps(payload, indent=2, default=str)
    if path:
        Path(path).write_text(text + "\n")
    print(text)


def _last_object(name: str, out: str) -> dict[str, Any]:
    """The last line of ``out`` that is a JSON object: worker processes share the script's stdout, so a
    library's stray line may come after it. No such line is an error that shows what was printed."""
    if not out.strip():
        return {}
    lines = out.strip().splitlines()
    for position in range(len(lines) - 1, -1, -1):
        if lines[position].startswith("{"):
            try:
                value = json.loads(lines[position])
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                if position < len(lines) - 1:
                    stray = "\n".join(lines[position + 1 :])[-1000:]
                    print(f"{name}: stray output after the result (ignored):\n{stray}", file=sys.stderr)
                return value
    raise RuntimeError(f"{name} printed no JSON result; its output ended with:\n{out[-2000:]}")
