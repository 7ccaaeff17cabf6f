"""The warehouse's Arrow schemas as Spark schemas: one description of each table, not two.

Spark reads and writes the warehouse with explicit schemas only. Its own inference fails on real
CloudTrail (keys that differ only by case), types a partition directory from its value, and would name a
column after whatever the first file holds; the schemas here come from
:data:`trailsmith.warehouse.schema.EVENTS_SCHEMA` and the index schemas, so the two engines cannot
drift apart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from trailsmith.warehouse.schema import EVENTS_SCHEMA, PARTITION_COLUMN

if TYPE_CHECKING:
    from pyspark.sql.types import DataType, StructType

#: The staged rows' extra column: the row's position in its task (file order, then record order), the
#: deduplication tie-break after ``sourceFile`` (see :mod:`trailsmith.spark.parse`).
ROW_COLUMN = "_row"

#: What the executors stage: the events, their partition date, and their position.
STAGED_SCHEMA: pa.Schema = EVENTS_SCHEMA.append(pa.field(PARTITION_COLUMN, pa.date32())).append(
    pa.field(ROW_COLUMN, pa.int64())
)


def spark_type(dtype: pa.DataType) -> DataType:
    """The Spark type that holds Arrow type ``dtype`` (only the types the warehouse uses)."""
    from pyspark.sql import types as T

    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return T.StringType()
    if pa.types.is_boolean(dtype):
        return T.BooleanType()
    if pa.types.is_int64(dtype):
        return T.LongType()
    if pa.types.is_int32(dtype):
        return T.IntegerType()
    if pa.types.is_timestamp(dtype):
        if dtype.tz is None:
            return T.TimestampNTZType()
        return T.TimestampType()  # an instant; shown in the session time zone, which is UTC
    if pa.types.is_date32(dtype):
        return T.DateType()
    if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype):
        return T.BinaryType()
    if pa.types.is_struct(dtype):
        return T.StructType([T.StructField(f.name, spark_type(f.type), True) for f in dtype])
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        return T.ArrayType(spark_type(dtype.value_type), True)
    raise TypeError(f"no Spark type for Arrow type {dtype}")


def spark_schema(schema: pa.Schema) -> StructType:
    """``schema`` as a Spark ``StructType``, every field nullable as in the Parquet files."""
    return spark_type(pa.struct(list(schema)))  # type: ignore[return-value]


def events_schema() -> StructType:
    """The ``events`` table as Spark reads it: the file columns, then ``eventDate`` as DATE."""
    return spark_schema(EVENTS_SCHEMA.append(pa.field(PARTITION_COLUMN, pa.date32())))
