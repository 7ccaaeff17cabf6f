"""The exceptions trailsmith raises.

Every error the library raises on purpose derives from :class:`TrailsmithError`. Each carries the
context a user needs to fix the problem, and ``hint`` says how; the CLI prints ``message`` and
``hint`` on one line and exits non-zero, without a traceback.
"""

from __future__ import annotations


class TrailsmithError(Exception):
    """Base class of every error raised on purpose by trailsmith."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}. {self.hint}" if self.hint else self.message


class SourceError(TrailsmithError):
    """A SOURCE argument cannot be listed: missing path, empty glob, unreachable bucket."""

    def __init__(self, source: str, problem: str, *, hint: str | None = None) -> None:
        super().__init__(f"{source}: {problem}", hint=hint)
        self.source = source


class WarehouseError(TrailsmithError):
    """The warehouse directory is missing, not a warehouse, or damaged."""

    def __init__(self, path: str, problem: str, *, hint: str | None = None) -> None:
        super().__init__(f"warehouse {path}: {problem}", hint=hint)
        self.path = path


class WarehouseBusyError(WarehouseError):
    """Another ingest holds the warehouse's write lock."""

    exit_code = 3


class BadInputError(TrailsmithError):
    """Raised by ``--strict`` runs when input files or records had to be quarantined.

    ``problems`` lists ``(source, record_index_or_None, reason)`` for every item, in input order.
    """

    exit_code = 2

    def __init__(self, problems: list[tuple[str, int | None, str]]) -> None:
        first = problems[0]
        where = first[0] if first[1] is None else f"{first[0]} record {first[1]}"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(
            f"bad input in strict mode: {where}: {first[2]}{more}",
            hint="Nothing from this batch was committed; fix or remove the input, or run without --strict "
            "to quarantine it and go on",
        )
        self.problems = problems


class QueryError(TrailsmithError):
    """A SQL query failed to parse, bind or run."""


class MissingDependencyError(TrailsmithError):
    """An optional dependency is needed for what was asked."""


class OutputError(TrailsmithError):
    """What the user asked to write to cannot be written: missing folder, a directory, no permission, full."""

    def __init__(self, option: str, path: str, problem: str, *, hint: str | None = None) -> None:
        super().__init__(f"{option} {path}: {problem}", hint=hint)
        self.path = path
