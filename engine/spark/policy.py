"""Policy generation's queries on Spark: the usage aggregation goes to the cluster, the documents do not.

:func:`trailsmith.policy.usage.usage_sql` is the one pass over the events; it is translated by sqlglot and
run on Spark, which returns a few thousand aggregated rows to this process, where
:mod:`trailsmith.policy.generator` turns them into documents exactly as it does for DuckDB's rows. The parity
test (``tests/spark/test_spark_policy.py``) checks that the sample's policies come out byte for byte the same.

The two small lookups are written here in Spark SQL; they mirror ``known_principals`` and
``instance_profile_roles`` of :mod:`trailsmith.policy.usage` (the same test keeps them in step).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pyarrow as pa

from trailsmith.engines import DEFAULT_MASTER
from trailsmith.errors import QueryError
from trailsmith.policy.source import UsageSource
from trailsmith.policy.usage import EVENT_CALLS_SQL, Filters, usage_sql
from trailsmith.spark.session import session
from trailsmith.spark.sql import attach_views, run
from trailsmith.spark.translate import to_spark
from trailsmith.warehouse.store import Warehouse, default_path

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

_PRINCIPALS = "SELECT DISTINCT principalArn FROM events WHERE principalArn IS NOT NULL ORDER BY principalArn"

_INSTANCE_PROFILES = """
SELECT recipientAccountId,
       get_json_object(requestParameters, '$.instanceProfileName') AS profile,
       get_json_object(requestParameters, '$.roleName') AS role
FROM events
WHERE eventSource = 'iam.amazonaws.com' AND eventName = 'AddRoleToInstanceProfile' AND errorCode IS NULL
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
"""


class SparkUsage(UsageSource):
    """The usage queries on Spark, over the ``events`` temp view of one snapshot of the warehouse."""

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark

    @classmethod
    def open(
        cls,
        warehouse: str | os.PathLike[str] | None = None,
        *,
        master: str = DEFAULT_MASTER,
        spark: SparkSession | None = None,
    ) -> SparkUsage:
        """Attach the warehouse's latest snapshot (``events`` only: no derived view is needed)."""
        target = Warehouse(warehouse if warehouse is not None else default_path())
        target.require()
        spark = spark if spark is not None else session(master)
        attach_views(spark, target, derived=False)
        return cls(spark)

    def event_calls(self) -> list[tuple[str, str]]:
        rows = run(self.spark, EVENT_CALLS_SQL).to_pylist()
        return [(row["eventSource"], row["eventName"]) for row in rows]

    def known_principals(self) -> list[str]:
        return [row["principalArn"] for row in run(self.spark, _PRINCIPALS).to_pylist()]

    def instance_profile_roles(self) -> dict[tuple[str, str], tuple[str, ...]]:
        out: dict[tuple[str, str], list[str]] = {}
        for row in run(self.spark, _INSTANCE_PROFILES).to_pylist():
            account, profile, role = row["recipientAccountId"], row["profile"], row["role"]
            if account and profile and role:
                out.setdefault((account, profile), []).append(role)
        return {key: tuple(roles) for key, roles in out.items()}

    def query(self, sql: str, params: dict[str, object] | None = None) -> pa.Table:
        return run(self.spark, to_spark(sql), params)

    def aggregate(self, filters: Filters) -> pa.Table:
        sql, params = usage_sql(filters, packed=False)
        try:
            return run(self.spark, to_spark(sql), params)
        except QueryError as exc:
            raise QueryError(f"usage aggregation failed: {exc.message}") from None
