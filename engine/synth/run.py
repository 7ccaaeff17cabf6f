"""``generate()``: check the output, run the units (in worker processes if asked), chain the digests, report.

Units are handed out in (account, region, day) order and their results come back in that order, so the
parent can write each (account, region)'s digest chain as the days arrive and keep nothing else: the
records stay in the worker that wrote them. The bytes do not depend on ``workers``.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from trailsmith.files import writing
from trailsmith.synth.config import SynthConfig
from trailsmith.synth.digest import DigestChain
from trailsmith.synth.errors import OutputNotEmptyError, SynthError, TruthPathError
from trailsmith.synth.scenario import DAY, Unit, UnitResult, event_counts, generate_unit, units
from trailsmith.synth.truth import SynthReport, Tally
from trailsmith.synth.world import build_world
from trailsmith.synth.writer import Writer


@dataclass(frozen=True)
class SynthProgress:
    """Where a run is: handed to the progress callback after each unit."""

    units_done: int
    units_total: int
    events_done: int
    events_total: int
    files: int


ProgressCallback = Callable[[SynthProgress], None]


def generate(
    out_dir: str | os.PathLike[str],
    config: SynthConfig | None = None,
    *,
    truth: str | os.PathLike[str] | None = None,
    force: bool = False,
    progress: ProgressCallback | None = None,
) -> SynthReport:
    """Write a synthetic CloudTrail archive under ``out_dir`` and return its ground truth.

    ``truth`` also writes :meth:`SynthReport.to_json` to that file (never inside ``out_dir``). ``out_dir``
    must be empty or new unless ``force``.

    >>> import tempfile
    >>> report = generate(
    ...     tempfile.mkdtemp(), SynthConfig(accounts=1, regions=("us-east-1",), days=1, events=50)
    ... )
    >>> report.totals.events
    50
    """
    config = config or SynthConfig()
    root = os.fspath(out_dir)
    _check_output(root, force)
    truth_path = os.fspath(truth) if truth is not None else None
    if truth_path is not None:
        _check_truth(truth_path, root)
    os.makedirs(root, exist_ok=True)

    began = time.perf_counter()
    world = build_world(config)
    work = units(config)
    counts = event_counts(config)
    events_total = sum(counts.values())
    writer = Writer(root)
    tally = Tally()
    chains: dict[tuple[int, int], DigestChain] = {}
    events_done = 0
    for done, result in enumerate(_results(config, root, work), start=1):
        unit = result.unit
        tally.merge(result.tally)
        where = (unit.account, unit.region)
        chain = chains.get(where)
        if chain is None:
            chain = chains[where] = DigestChain(
                seed=config.seed,
                org=world.org_id,
                bucket=world.bucket,
                trail=world.trail,
                home_region=world.home_region,
                account=world.accounts[unit.account].id,
                region=config.regions[unit.region],
                start=config.start_epoch,
                writer=writer,
            )
        chain.add(result.files)
        if unit.day == config.days - 1:  # the last day of this (account, region): close its chain
            chain.finish(config.start_epoch + config.days * DAY)
            tally.totals.digests += chain.written
            tally.totals.digest_bytes += chain.bytes
            del chains[where]
        else:
            chain.flush(config.start_epoch + (unit.day + 1) * DAY)
        events_done += counts[unit]
        if progress is not None:
            progress(SynthProgress(done, len(work), events_done, events_total, tally.totals.files))

    report = SynthReport.from_tally(
        tally,
        config=config.describe(),
        organization=world.org_id,
        bucket=world.bucket,
        trail=world.trail,
        accounts=tuple(a.id for a in world.accounts),
        seconds=time.perf_counter() - began,
    )
    if truth_path is not None:
        _write_atomic(truth_path, report.to_json())
    return report


def _results(config: SynthConfig, root: str, work: list[Unit]) -> Iterator[UnitResult]:
    job = functools.partial(_run_unit, config, root)
    workers = min(config.workers, len(work))
    if workers <= 1:
        yield from map(job, work)
        return
    with multiprocessing.get_context().Pool(workers) as pool:
        yield from pool.imap(job, work, chunksize=1)


def _run_unit(config: SynthConfig, root: str, unit: Unit) -> UnitResult:
    return generate_unit(config, unit, root)


def _check_output(root: str, force: bool) -> None:
    if os.path.exists(root) and not os.path.isdir(root):
        raise SynthError(
            f"{root}: exists and is not a directory", hint="Give a directory path for the archive"
        )
    if not force and os.path.isdir(root) and any(os.scandir(root)):
        raise OutputNotEmptyError(root)


def _check_truth(path: str, root: str) -> None:
    truth = os.path.realpath(path)
    archive = os.path.realpath(root)
    if truth == archive or truth.startswith(archive + os.sep):
        raise TruthPathError(path, root)
    if os.path.isdir(truth):
        raise SynthError(
            f"{path}: is a directory", hint="Give a file name for the truth, e.g. --truth truth.json"
        )


def _write_atomic(path: str, data: bytes) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    with writing(path) as handle:  # a device or FIFO is written into, never replaced
        handle.write(data)
