"""What to generate: :class:`SynthConfig`, its checks and its presets.

The configuration is a frozen value so that it can be shipped to worker processes and echoed in the
ground truth. ``workers`` changes how fast an archive is written, never what is written; that is why it is
left out of :meth:`SynthConfig.describe`.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from trailsmith.synth.errors import SynthConfigError

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_MINUTES_PER_DAY = 1440


@dataclass(frozen=True)
class SynthConfig:
    """Knobs of a synthetic archive. The same configuration always yields the same bytes.

    >>> SynthConfig(events=1000, days=2).days
    2
    >>> SynthConfig.sample().accounts
    3
    """

    #: every random choice derives from this number
    seed: int = 1
    #: member accounts of the organization (the first id has a leading zero)
    accounts: int = 3
    #: regions the multi-region trail records; global services (IAM, sign-in) appear in us-east-1 only
    regions: tuple[str, ...] = ("us-east-1", "eu-west-1", "ap-southeast-2")
    #: first UTC day of activity
    start: date = date(2024, 8, 1)
    #: number of days of activity
    days: int = 7
    #: approximate number of distinct events in the whole archive
    events: int = 100_000
    #: minutes of activity per log file (CloudTrail delivers about every 5 minutes)
    file_minutes: int = 5
    #: share of log files that are delivered a second time under another name (0 to 1)
    duplicates: float = 0.02
    #: processes that generate (account, region, day) units in parallel; the output does not depend on it
    workers: int = 1
    #: also tag resources over time and assume a role with session tags (``trailsmith.synth.events_tags``);
    #: off, the archive is what it was before the option existed
    tags: bool = False

    def __post_init__(self) -> None:
        _check(self)

    @classmethod
    def sample(cls) -> SynthConfig:
        """The preset ``data/sample/`` is made of: small (a few hundred KB) yet covering every case the
        generator knows (denied, throttled, service events, SSO role, renamed events, duplicates ...)."""
        return cls(
            seed=20240801,
            accounts=3,
            regions=("us-east-1", "eu-west-1"),
            start=date(2024, 8, 1),
            days=2,
            events=1000,
            file_minutes=120,
            duplicates=0.06,
        )

    def replace(self, **changes: Any) -> SynthConfig:
        """A copy with some fields changed; ``None`` values are ignored (unset CLI options)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def start_epoch(self) -> int:
        return int(
            datetime(self.start.year, self.start.month, self.start.day, tzinfo=timezone.utc).timestamp()
        )

    def describe(self) -> dict[str, Any]:
        """The fields that decide the output (everything but ``workers``), JSON-ready."""
        return {
            "seed": self.seed,
            "accounts": self.accounts,
            "regions": list(self.regions),
            "start": self.start.isoformat(),
            "days": self.days,
            "events": self.events,
            "file_minutes": self.file_minutes,
            "duplicates": self.duplicates,
            # only when on: the truth of an archive without tags keeps its bytes
            **({"tags": True} if self.tags else {}),
        }


def _abac() -> SynthConfig:
    """The sample's configuration with tagged resources and session tags."""
    return SynthConfig.sample().replace(tags=True)


PRESETS = {"sample": SynthConfig.sample, "abac": _abac}


def parse_start(text: str) -> date:
    """``--start`` text -> date.

    >>> parse_start("2024-08-01")
    datetime.date(2024, 8, 1)
    """
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise SynthConfigError(
            "--start", f"{text!r} is not a date", hint="Give it as YYYY-MM-DD, e.g. 2024-08-01"
        ) from None


def parse_regions(text: str) -> tuple[str, ...]:
    """``--regions`` text -> region names (checked when the config is built).

    >>> parse_regions("us-east-1, eu-west-1")
    ('us-east-1', 'eu-west-1')
    """
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _check(config: SynthConfig) -> None:
    if not isinstance(config.regions, tuple) or not isinstance(config.start, date):
        raise SynthConfigError(
            "regions/start",
            "regions must be a tuple and start a date",
            hint="Use parse_regions() and parse_start() for text",
        )
    if not 1 <= config.accounts <= 100:
        raise SynthConfigError(
            "--accounts", f"{config.accounts} is out of range", hint="Use 1 to 100 accounts"
        )
    if not config.regions:
        raise SynthConfigError(
            "--regions", "no region given", hint="Give a comma-separated list, e.g. us-east-1,eu-west-1"
        )
    for region in config.regions:
        if not _REGION.match(region):
            raise SynthConfigError(
                "--regions",
                f"{region!r} is not a region name",
                hint="Use names like us-east-1 or ap-southeast-2",
            )
    if len(set(config.regions)) != len(config.regions):
        raise SynthConfigError("--regions", "a region is listed twice", hint="List each region once")
    if not 1 <= config.days <= 3660:
        raise SynthConfigError("--days", f"{config.days} is out of range", hint="Use 1 to 3660 days")
    if config.events < 0:
        raise SynthConfigError("--events", "must not be negative")
    if not 1 <= config.file_minutes <= _MINUTES_PER_DAY or _MINUTES_PER_DAY % config.file_minutes:
        raise SynthConfigError(
            "--file-minutes",
            f"{config.file_minutes} does not divide a day into whole files",
            hint="Use a divisor of 1440 such as 5, 10, 15, 30, 60 or 120",
        )
    if not 0.0 <= config.duplicates <= 1.0:
        raise SynthConfigError(
            "--duplicates", f"{config.duplicates} is not a share", hint="Use a number from 0 to 1, e.g. 0.02"
        )
    if config.workers < 1:
        raise SynthConfigError("--workers", "must be at least 1")
