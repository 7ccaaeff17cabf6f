"""One unit of work: the log files of one account in one region on one day.

A unit draws every choice from its own ``Random`` (seeded by seed, account, region and day), so units can
run in any process and order. It spreads its events over the day's delivery slots with a daytime peak,
writes one gzipped ``{"Records": [...]}`` file per non-empty slot (and sometimes the same records a second
time under another name, as CloudTrail does), and forgets the records once written: only the bounded
truth tally and each file's digest entry leave the unit.
"""

from __future__ import annotations

import functools
import math
import random
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import timedelta

import orjson

from trailsmith.synth.catalog import API_CALL, Ctx, Template
from trailsmith.synth.config import SynthConfig
from trailsmith.synth.identity import Identity, Sessions, identity_for
from trailsmith.synth.ids import date_path, rng_for
from trailsmith.synth.personas import ISSUER, Persona, personas
from trailsmith.synth.record import DENIED, NOT_FOUND, OK, THROTTLED, assemble, denied_error, throttled_error
from trailsmith.synth.registry import templates
from trailsmith.synth.truth import Tally
from trailsmith.synth.world import build_world
from trailsmith.synth.writer import LogFileMeta, Writer, gzip_bytes, log_key, sha256_hex

DAY = 86_400
THROTTLE_SHARE = 0.008
NOT_FOUND_SHARE = 0.012


@dataclass(frozen=True)
class Unit:
    account: int
    region: int
    day: int


@dataclass
class UnitResult:
    unit: Unit
    tally: Tally
    files: list[LogFileMeta] = field(default_factory=list)


def units(config: SynthConfig) -> list[Unit]:
    """All units, in the order their digests must be chained: account, then region, then day."""
    return [
        Unit(a, r, d)
        for a in range(config.accounts)
        for r in range(len(config.regions))
        for d in range(config.days)
    ]


@functools.lru_cache(maxsize=8)
def event_counts(config: SynthConfig) -> dict[Unit, int]:
    """Events per unit, summing exactly to ``config.events``: the first region and weekdays are busier, and
    each further account is quieter than the one before (largest-remainder rounding)."""
    weights: dict[Unit, float] = {}
    for unit in units(config):
        weekday = (config.start + timedelta(days=unit.day)).weekday()
        weights[unit] = (
            (1.0 / (1 + 0.35 * unit.account))
            * (1.0 if unit.region == 0 else 0.4)
            * (1.0 if weekday < 5 else 0.45)
        )
    total = sum(weights.values())
    exact = {unit: config.events * w / total for unit, w in weights.items()}
    counts = {unit: math.floor(x) for unit, x in exact.items()}
    short = config.events - sum(counts.values())
    for unit in sorted(exact, key=lambda u: (counts[u] - exact[u], u.account, u.region, u.day))[:short]:
        counts[unit] += 1
    return counts


def _hour_weight(hour: int) -> float:
    """Daytime peak around 14:00 UTC over a steady background (machines never sleep)."""
    return 0.25 + math.exp(-(((hour - 14) / 4.5) ** 2))


def _spread(rng: random.Random, count: int, weights: list[float]) -> list[int]:
    """``count`` events over slots in proportion to ``weights`` with some burstiness; O(slots) memory, so a
    unit of ten million events costs no more to plan than one of ten."""
    noisy = [w * (0.4 + 1.2 * rng.random()) for w in weights]
    total = sum(noisy)
    out = [int(count * w / total + rng.random()) for w in noisy]
    drift = count - sum(out)
    while drift:
        slot = int(rng.random() * len(out))
        if drift > 0:
            out[slot] += 1
            drift -= 1
        elif out[slot] > 0:
            out[slot] -= 1
            drift += 1
    return out


@dataclass(frozen=True)
class _Choice:
    persona: Persona
    allowed: tuple[Template, ...]
    allowed_cum: tuple[float, ...]
    denied: tuple[Template, ...]


def _cumulative(weights: list[float]) -> tuple[float, ...]:
    out, running = [], 0.0
    for w in weights:
        running += w
        out.append(running)
    return tuple(out)


@functools.lru_cache(maxsize=64)
def _choices(region: str, tags: bool = False) -> tuple[tuple[_Choice, ...], tuple[float, ...]]:
    """Each persona's templates available in ``region`` (global services only in their home region); with
    ``tags``, the tagging personas' too (after the others, so that they change nothing of their draws'
    meaning without it)."""
    table = templates(tags)
    out: list[_Choice] = []
    weights: list[float] = []
    for persona in personas(tags):
        pairs = [(table[k], w) for k, w in persona.allowed if table[k].only_region in ("", region)]
        if not pairs:
            continue
        denied = tuple(table[k] for k in persona.denied if table[k].only_region in ("", region))
        out.append(_Choice(persona, tuple(t for t, _ in pairs), _cumulative([w for _, w in pairs]), denied))
        weights.append(persona.weight)
    return tuple(out), _cumulative(weights)


Plan = tuple[_Choice, Template, str]


@functools.lru_cache(maxsize=64)
def _tour(choices: tuple[_Choice, ...]) -> tuple[Plan, ...]:
    """One call of every (persona, template) pair, each denied template once, and per persona one throttled
    and one "not found" call: planted in the first region's units so that even a small archive (the sample)
    covers the whole catalog. Large archives hardly notice a few hundred planted events."""
    plan: list[Plan] = []
    for choice in choices:
        plan.extend((choice, t, OK) for t in choice.allowed)
        plan.extend((choice, t, DENIED) for t in choice.denied)
        api = [t for t in choice.allowed if t.event_type == API_CALL]
        if api:
            plan.append((choice, api[0], THROTTLED))
        missing = [t for t in choice.allowed if t.not_found]
        if missing:
            plan.append((choice, missing[0], NOT_FOUND))
    return tuple(plan)


@functools.lru_cache(maxsize=8)
def _tour_shares(config: SynthConfig) -> dict[Unit, tuple[int, ...]]:
    """Which tour items each unit of the first region plants: each item goes to the unit with the most room
    left, a unit planting at most half of its events (deterministic, so every process agrees)."""
    counts = event_counts(config)
    choices, _ = _choices(config.regions[0], config.tags)
    room = {u: counts[u] // 2 for u in units(config) if u.region == 0}
    shares: dict[Unit, list[int]] = {u: [] for u in room}
    for item in range(len(_tour(choices))):
        unit = max(room, key=lambda u: (room[u], -u.account, -u.day))
        if room[unit] <= 0:
            break
        shares[unit].append(item)
        room[unit] -= 1
    return {u: tuple(items) for u, items in shares.items()}


def generate_unit(config: SynthConfig, unit: Unit, root: str) -> UnitResult:
    """Write the log files of ``unit`` under ``root`` and return its truth tally and digest entries."""
    world = build_world(config)
    account = world.accounts[unit.account]
    region = config.regions[unit.region]
    pool = world.pool(account, region)
    rng = rng_for(config.seed, "unit", account.id, region, unit.day)
    day_start = config.start_epoch + unit.day * DAY
    day = date_path(day_start)
    day_prefix = day.replace("/", "-") + "T"
    result = UnitResult(unit, Tally())
    delivery = _Delivery(Writer(root), rng, world.org_id, account.id, region, config.duplicates, result)

    count = event_counts(config)[unit]
    slot_seconds = config.file_minutes * 60
    per_slot = _spread(
        rng, count, [_hour_weight((s * slot_seconds) // 3600) for s in range(DAY // slot_seconds)]
    )
    choices, persona_cum = _choices(region, config.tags)
    tour = _tour(choices)
    mine = [tour[i] for i in _tour_shares(config).get(unit, ())]
    planned = dict(zip(rng.sample(range(count), len(mine)), mine, strict=True))
    sessions = Sessions(rng, account, pool, day_start, day)
    ctx = Ctx(rng, account, region, pool, "", day)
    index = 0
    for slot, n in enumerate(per_slot):
        if not n:
            continue
        first = slot * slot_seconds
        seconds = sorted([first + int(rng.random() * slot_seconds) for _ in range(n)])
        records = []
        for second in seconds:
            choice, template, outcome = planned.get(index) or _draw(rng, choices, persona_cum)
            index += 1
            persona = choice.persona
            session, ident = identity_for(sessions, persona, template, second)
            hh, rest = divmod(second, 3600)
            event_time = f"{day_prefix}{hh:02d}:{rest // 60:02d}:{rest % 60:02d}Z"
            for tagged, issued in sessions.issued():  # its AssumeRole first, in the same second
                records.append(
                    _issue(ctx, sessions, tagged, issued, second, event_time, region, result.tally)
                )
            ctx.session, ctx.home = session, persona.home
            call = template.build(ctx)
            needs = template.needs(call) if template.needs_permission else []
            error = _error(rng, template, ident.caller, outcome, needs)
            records.append(assemble(rng, template, call, ident, event_time, region, account.id, error))
            _count(result.tally, persona, template, ident.holder, account.id, outcome, error, needs, call.via)
            if outcome == OK and (call.tags or call.session_tags):
                result.tally.tagged(call.tags, call.session_tags)
        delivery.deliver(
            records, day_start + seconds[0], day_start + seconds[-1], day_start + first + slot_seconds
        )
    return result


def _issue(
    ctx: Ctx,
    sessions: Sessions,
    persona: Persona,
    issued: Identity,
    second: int,
    event_time: str,
    region: str,
    tally: Tally,
) -> dict[str, object]:
    """The ``AssumeRole`` by :data:`ISSUER` that starts ``persona``'s tagged session ``issued``."""
    template = templates(True)["sts.AssumeRole.tagged"]
    session, caller = identity_for(sessions, ISSUER, template, second)
    ctx.session, ctx.home, ctx.issued = session, ISSUER.home, (issued, persona.session_tags)
    try:
        call = template.build(ctx)
    finally:
        ctx.issued = None
    needs = template.needs(call)
    _count(tally, ISSUER, template, caller.holder, ctx.acct, OK, None, needs, call.via)
    tally.tagged(call.tags, call.session_tags)
    return assemble(ctx.rng, template, call, caller, event_time, region, ctx.acct, None)


def _draw(rng: random.Random, choices: tuple[_Choice, ...], persona_cum: tuple[float, ...]) -> Plan:
    """A random event: who calls (by persona weight), what (denied now and then), and how it ends."""
    draw = rng.random
    choice = choices[bisect_right(persona_cum, draw() * persona_cum[-1])]
    if choice.denied and draw() < choice.persona.denied_share:
        return choice, choice.denied[int(draw() * len(choice.denied))], DENIED
    template = choice.allowed[bisect_right(choice.allowed_cum, draw() * choice.allowed_cum[-1])]
    if template.event_type == API_CALL:
        roll = draw()
        if roll < THROTTLE_SHARE:
            return choice, template, THROTTLED
        if template.not_found and roll < THROTTLE_SHARE + NOT_FOUND_SHARE:
            return choice, template, NOT_FOUND
    return choice, template, OK


def _error(
    rng: random.Random, template: Template, caller: str, outcome: str, needs: list[tuple[str, str]]
) -> tuple[str, str] | None:
    if outcome == DENIED:
        action, resource = needs[0]
        return denied_error(rng, template.source, caller, action, resource)
    if outcome == THROTTLED:
        return throttled_error(template.source)
    if outcome == NOT_FOUND:
        return template.not_found
    return None


class _Delivery:
    """Encodes, compresses and writes one slot's records as a log file, sometimes twice (a duplicate
    delivery in the same folder under another name), and notes what the digest needs of each copy."""

    def __init__(
        self,
        writer: Writer,
        rng: random.Random,
        org: str,
        account: str,
        region: str,
        duplicates: float,
        result: UnitResult,
    ) -> None:
        self.writer, self.rng, self.org, self.account, self.region = writer, rng, org, account, region
        self.duplicates, self.result = duplicates, result

    def deliver(self, records: list[dict[str, object]], oldest: int, newest: int, slot_end: int) -> None:
        rng, totals = self.rng, self.result.tally.totals
        body = orjson.dumps({"Records": records})
        data = gzip_bytes(body)
        digest = sha256_hex(body)
        delivered = slot_end + rng.randrange(30, 300)
        copies = [delivered]
        if rng.random() < self.duplicates:
            again = delivered + rng.randrange(20, 240)
            copies.append(again if date_path(again) == date_path(delivered) else delivered)
            totals.duplicate_files += 1
        for when in copies:
            key = log_key(self.org, self.account, self.region, when, rng)
            self.writer.write(key, data)
            self.result.files.append(LogFileMeta(key, digest, oldest, newest, when))
        totals.events += len(records)
        totals.records += len(records) * len(copies)
        totals.files += len(copies)
        totals.bytes += len(data) * len(copies)
        totals.json_bytes += len(body) * len(copies)


def _count(
    tally: Tally,
    persona: Persona,
    template: Template,
    holder: str,
    account: str,
    outcome: str,
    error: tuple[str, str] | None,
    needs: list[tuple[str, str]],
    via: str,
) -> None:
    totals = tally.totals
    if outcome == DENIED:
        totals.denied_events += 1
    elif outcome == THROTTLED:
        totals.throttled_events += 1
    elif outcome == NOT_FOUND:
        totals.not_found_events += 1
    if not holder:
        totals.service_events += 1
        return
    entry = tally.holder(holder, account, persona.kind, persona.key)
    entry.events[f"{template.source}:{template.name}"] += 1
    if error is not None:
        entry.errors[error[0]] += 1
    if not needs:
        return
    if outcome == DENIED:
        entry.denied.add(needs[0])
        return
    entry.needed.update(needs)
    if template.passed_to:
        for action, arn in needs:
            if action == "iam:PassRole":
                entry.passroles.add((arn, template.passed_to, via))
