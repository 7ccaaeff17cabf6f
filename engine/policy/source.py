"""Where policy generation gets its usage rows: the queries it sends to an engine.

The heavy aggregation (:func:`trailsmith.policy.usage.usage_sql`) and two small lookups run where the
warehouse is read (DuckDB here, Spark in :mod:`trailsmith.spark.policy`); the few thousand rows they return
become documents in this process, the same way for every engine.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING

from trailsmith.policy.abac import Abac
from trailsmith.policy.usage import (
    Filters,
    access_keys_sql,
    aggregate,
    event_calls,
    instance_profile_roles,
    known_principals,
    requested_tags_sql,
)
from trailsmith.sql.tags import resource_events_sql, resource_tags, session_events_sql, session_tags

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa


class UsageSource(abc.ABC):
    """The queries policy generation sends to an engine: the heavy aggregation, and the two small lookups
    that resolve principals and instance profiles."""

    @abc.abstractmethod
    def event_calls(self) -> list[tuple[str, str]]:
        """Every (eventSource, eventName) in the warehouse, sorted (which request fields to read)."""

    @abc.abstractmethod
    def known_principals(self) -> list[str]:
        """Every policy holder ARN in the warehouse, sorted."""

    @abc.abstractmethod
    def instance_profile_roles(self) -> dict[tuple[str, str], tuple[str, ...]]:
        """(account, instance profile name) -> role names, from successful AddRoleToInstanceProfile."""

    @abc.abstractmethod
    def aggregate(self, filters: Filters) -> pa.Table:
        """The usage aggregation (:func:`trailsmith.policy.usage.usage_sql`) as an Arrow table."""

    @abc.abstractmethod
    def query(self, sql: str, params: dict[str, object] | None = None) -> pa.Table:
        """One reading query in DuckDB's dialect (the portable subset other engines translate)."""

    def abac(self, filters: Filters) -> Abac:
        """What ``--abac`` works from: the tags the trail shows (every resource's and session's, as the
        ``resource_tags`` and ``session_tags`` views build them), the filtered principals' tagging calls and
        the access keys their calls carried. Only tagging and session calls are read whole."""
        requested, params = requested_tags_sql(filters)
        keys, _ = access_keys_sql(filters)
        return Abac.from_tables(
            resource_tags(self.query(resource_events_sql())),
            session_tags(self.query(session_events_sql())),
            self.query(requested, params),
            self.query(keys, params),
        )


class DuckDBUsage(UsageSource):
    """The usage queries on a DuckDB connection of :func:`trailsmith.sql.db.connect`."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self.connection = connection

    def event_calls(self) -> list[tuple[str, str]]:
        return event_calls(self.connection)

    def known_principals(self) -> list[str]:
        return known_principals(self.connection)

    def instance_profile_roles(self) -> dict[tuple[str, str], tuple[str, ...]]:
        return instance_profile_roles(self.connection)

    def aggregate(self, filters: Filters) -> pa.Table:
        return aggregate(self.connection, filters)

    def query(self, sql: str, params: dict[str, object] | None = None) -> pa.Table:
        return self.connection.sql(sql, params=params or {}).to_arrow_table()
