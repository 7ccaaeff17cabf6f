"""What Spark SQL a user may run: one query over the warehouse's views, decided on Spark's own parse of it.

A SparkSession has no sandbox like the one :mod:`trailsmith.sql.sandbox` gives DuckDB: it can write any
path (``INSERT OVERWRITE DIRECTORY``), read any file (``text.`/etc/passwd```), run programs
(``TRANSFORM ... USING``) and call Java (``reflect``). A list of forbidden words cannot keep up with that
(a raw literal ``r'\\'`` once hid a whole statement from one), so :func:`check` asks the parser that will
run the text for its plan and accepts it only when everything in that plan is known to be harmless:

- **plan nodes** from an allow-list of query operators (:data:`QUERY_NODES`): no command, insert, DDL,
  ``SET``, ``CACHE``, ``ADD JAR``, ``EXPLAIN``, script transformation, time travel or streaming;
- **relations** named by one bare name that is a view of the warehouse (:data:`VIEWS`) or a CTE in
  scope: ``text.`/path```, ``parquet.`...```, catalog tables and ``IDENTIFIER(...)`` are refused;
- **table functions** from a short allow-list (``range``, ``explode`` ...): none reads outside;
- **functions** by one bare name, built into Spark (so no UDF or catalog function can be named) and not
  in :data:`DENIED_FUNCTIONS` (``reflect`` and its kin call any Java method);
- **expressions** of the parser's own classes (the ``expressions`` package, and the unresolved forms of
  :data:`UNRESOLVED_EXPRESSIONS`), so a construct added by a later Spark is refused until it is looked at.

The walk goes through every field of every node (not only ``children``: a CTE's body, a subquery in an
expression and a generator are fields), so nothing is left unchecked because it sits somewhere unusual.
:func:`check_plan` is also run on the plan Spark built from the text with its parameters bound, so
what runs is what was checked, whatever the parameter values.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trailsmith.errors import QueryError
from trailsmith.spark.views import NAMES

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

HINT = "Queries on Spark are read-only: one SELECT (or WITH ... SELECT) over the warehouse's views"

#: The tables a query may read: the warehouse's temp views (:func:`trailsmith.spark.sql.attach_views`).
VIEWS: frozenset[str] = frozenset(("events", "quarantine", "sources", *NAMES))

_LOGICAL = "org.apache.spark.sql.catalyst.plans.logical."
_ANALYSIS = "org.apache.spark.sql.catalyst.analysis."
_EXPRESSIONS = "org.apache.spark.sql.catalyst.expressions."


def _names(prefix: str, names: str) -> frozenset[str]:
    """The blank-separated ``names``, each after ``prefix`` (a package, for class names)."""
    return frozenset(prefix + name for name in names.split())


#: Plan nodes that only compute over their inputs (the classes Spark's parser builds for queries; the
#: ``...ParameterizedQuery`` ones hold the bound values in a Spark that binds them in the plan, not the text).
QUERY_NODES = _names(
    _LOGICAL,
    """Aggregate Deduplicate Distinct Except Expand Filter Generate GlobalLimit Intersect Join LateralJoin
    LocalLimit LocalRelation Offset OneRowRelation Pivot Project Repartition RepartitionByExpression Sample
    Sort SubqueryAlias Tail Union Unpivot UnresolvedHint UnresolvedWith Window WithWindowDefinition""",
) | _names(
    _ANALYSIS,
    """NameParameterizedQuery PosParameterizedQuery UnresolvedHaving UnresolvedInlineTable
    UnresolvedSubqueryColumnAliases UnresolvedTVFAliases""",
)

#: Unresolved expressions the parser builds that only name columns, values and built-in functions.
UNRESOLVED_EXPRESSIONS = _names(
    _ANALYSIS,
    """NamedParameter PosParameter UnresolvedAlias UnresolvedAttribute UnresolvedExtractValue
    UnresolvedOrdinal UnresolvedRegex UnresolvedStar""",
)

#: Expressions of the ``expressions`` package that still may not appear (the parser never builds them).
DENIED_EXPRESSIONS = _names(_EXPRESSIONS, "CallMethodViaReflection TryReflect ScalaUDF PythonUDF")

#: Built-in functions that reach outside the data: Java methods of any class, descriptor files by path.
DENIED_FUNCTIONS: dict[str, str] = {
    "reflect": "it calls Java methods (the environment, files, the JVM)",
    "java_method": "it calls Java methods (the environment, files, the JVM)",
    "try_reflect": "it calls Java methods (the environment, files, the JVM)",
    "from_protobuf": "it reads a descriptor file by path",
    "to_protobuf": "it reads a descriptor file by path",
}

#: Table functions that only make rows from their arguments.
TABLE_FUNCTIONS = _names(
    "",
    """range explode explode_outer posexplode posexplode_outer inline inline_outer stack json_tuple
    variant_explode variant_explode_outer""",
)

#: What the common refused nodes are called in SQL, for the message.
_STATEMENTS = {
    "InsertIntoDir": "INSERT OVERWRITE DIRECTORY",
    "InsertIntoStatement": "INSERT",
    "ScriptTransformation": "TRANSFORM ... USING (it runs a program)",
    "SetCommand": "SET",
    "ResetCommand": "RESET",
    "ExplainCommand": "EXPLAIN",
    "CacheTable": "CACHE TABLE",
    "CacheTableAsSelect": "CACHE TABLE",
    "AddJarsCommand": "ADD JAR",
    "AddFilesCommand": "ADD FILE",
    "AddArchivesCommand": "ADD ARCHIVE",
    "DropView": "DROP VIEW",
    "DropTable": "DROP TABLE",
    "CreateViewCommand": "CREATE VIEW",
    "CreateTable": "CREATE TABLE",
    "CreateTableAsSelect": "CREATE TABLE",
    "RelationTimeTravel": "time travel (VERSION/TIMESTAMP AS OF)",
    "NamedStreamingRelation": "STREAM",
    "PlanWithUnresolvedIdentifier": "IDENTIFIER(...) as a table name",
    "ExpressionWithUnresolvedIdentifier": "IDENTIFIER(...) as a function name",
}


def check(spark: SparkSession, text: str) -> None:
    """:class:`QueryError` unless Spark parses ``text`` (``:name`` parameters) as one reading query.

    >>> check(spark, "INSERT OVERWRITE DIRECTORY '/tmp/x' SELECT 1")  # doctest: +SKIP
    Traceback (most recent call last):
    trailsmith.errors.QueryError: INSERT OVERWRITE DIRECTORY is not allowed: ...
    """
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException

    if type(spark).__module__.startswith("pyspark.sql.connect"):
        raise QueryError(
            "on Spark Connect (sc://) only saved queries run: Spark's parser is on the server, out of reach",
            hint="Run your own SQL with a local or cluster master (--spark-master local[*])",
        )
    parser = spark._jsparkSession.sessionState().sqlParser()
    try:
        plan = parser.parsePlan(text)
    except PySparkException as exc:  # pyspark's own form of the parser's errors
        raise QueryError(_first_line(str(exc), type(exc).__name__), hint=HINT) from None
    except Py4JJavaError as exc:  # those pyspark does not convert (SQL scripting's, for one)
        message = exc.java_exception.getMessage() or ""
        raise QueryError(_first_line(message, "Spark cannot parse the query"), hint=HINT) from None
    check_plan(spark, plan)


def check_plan(spark: SparkSession, plan: Any) -> None:
    """:class:`QueryError` unless the (unresolved) JVM ``LogicalPlan`` ``plan`` is one reading query."""
    _Walk(_Jvm.of(spark)).node(plan, frozenset())


def _first_line(text: str, otherwise: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else otherwise


def _refuse(what: str, why: str) -> QueryError:
    return QueryError(f"{what} is not allowed: {why}", hint=HINT)


@dataclass(frozen=True)
class _Jvm:
    """The JVM classes the walk asks about, looked up once per session."""

    tree: Any
    iterable: Any
    option: Any
    functions: Any  # Spark's registry of built-in functions (not the session's: no temp function)
    identifier: Any  # FunctionIdentifier, to ask the registry

    @staticmethod
    def of(spark: SparkSession) -> _Jvm:
        jvm = spark._jvm
        assert jvm is not None  # a classic session: a Spark Connect one has no parser here
        find = jvm.java.lang.Class.forName
        return _Jvm(
            tree=find("org.apache.spark.sql.catalyst.trees.TreeNode"),
            iterable=find("scala.collection.Iterable"),
            option=find("scala.Option"),
            functions=jvm.org.apache.spark.sql.catalyst.analysis.FunctionRegistry.builtin(),
            identifier=jvm.org.apache.spark.sql.catalyst.FunctionIdentifier,
        )


class _Walk:
    """Every tree node reachable from a plan, checked; ``scope`` is the CTE names a relation may name."""

    def __init__(self, jvm: _Jvm) -> None:
        self.jvm = jvm
        self.kinds: dict[str, str] = {}

    def node(self, obj: Any, scope: frozenset[str]) -> None:
        name = obj.getClass().getName()
        simple = name.rsplit(".", 1)[-1]
        if name == _LOGICAL + "UnresolvedWith":
            self.cte(obj, scope)
            return
        if name == _ANALYSIS + "UnresolvedRelation":
            self.relation(obj, scope)
            return
        if name == _ANALYSIS + "UnresolvedFunction":
            self.function(list(_each(obj.nameParts().iterator())))
        elif name == _ANALYSIS + "UnresolvedGenerator":
            identifier = obj.name()
            self.function([*_each(identifier.database().iterator()), identifier.funcName()])
        elif name == _ANALYSIS + "UnresolvedTableValuedFunction":
            self.table_function(list(_each(obj.name().iterator())))
        elif name in _LEAVES:
            return
        elif not self.allowed(name):
            raise _refuse(_STATEMENTS.get(simple, simple), "it is not part of a reading query")
        for field in _each(obj.productIterator()):
            self.field(field, scope)

    def allowed(self, name: str) -> bool:
        if name in QUERY_NODES or name in UNRESOLVED_EXPRESSIONS:
            return True
        package, _, _ = name.rpartition(".")
        return package + "." == _EXPRESSIONS and name not in DENIED_EXPRESSIONS

    def field(self, value: Any, scope: frozenset[str]) -> None:
        """Walk a node's field: a node, or a collection, option or tuple that may hold nodes."""
        if not hasattr(value, "getClass"):  # a Python value: py4j converted a string, number or boolean
            return
        kind = self.kind(value)
        if kind == "tree":
            self.node(value, scope)
        elif kind == "iterable":
            for item in _each(value.iterator()):
                self.field(item, scope)
        elif kind == "option":
            if value.isDefined():
                self.field(value.get(), scope)
        elif kind == "tuple":
            for item in _each(value.productIterator()):
                self.field(item, scope)

    def kind(self, value: Any) -> str:
        cls = value.getClass()
        name = cls.getName()
        if name not in self.kinds:
            if self.jvm.tree.isAssignableFrom(cls):
                self.kinds[name] = "tree"
            elif self.jvm.iterable.isAssignableFrom(cls):
                self.kinds[name] = "iterable"
            elif self.jvm.option.isAssignableFrom(cls):
                self.kinds[name] = "option"
            else:
                self.kinds[name] = "tuple" if name.startswith("scala.Tuple") else "value"
        return self.kinds[name]

    def cte(self, plan: Any, scope: frozenset[str]) -> None:
        """``WITH``: a definition sees those before it (all of them if ``RECURSIVE``), the body all."""
        definitions = [(pair._1(), pair._2()) for pair in _each(plan.cteRelations().iterator())]
        names = {name.lower() for name, _ in definitions}
        recursive = plan.productArity() > 2 and bool(plan.allowRecursion())  # Spark 4.1 added RECURSIVE
        seen = set(scope)
        for name, body in definitions:
            self.node(body, frozenset(seen | names) if recursive else frozenset(seen))
            seen.add(name.lower())
        self.node(plan.child(), frozenset(seen))

    def relation(self, plan: Any, scope: frozenset[str]) -> None:
        parts = list(_each(plan.multipartIdentifier().iterator()))
        shown = ".".join(f"`{part}`" for part in parts)
        views = ", ".join(sorted(VIEWS))
        if len(parts) != 1 or (parts[0].lower() not in VIEWS and parts[0].lower() not in scope):
            raise _refuse(f"reading {shown}", f"a query reads only the warehouse's views ({views})")
        if plan.isStreaming() or not plan.options().isEmpty():
            raise _refuse(
                f"reading {shown} with options or as a stream", "a query reads the views as they are"
            )

    def function(self, parts: list[str]) -> None:
        shown = ".".join(parts)
        if len(parts) != 1:
            raise _refuse(f"{shown}()", "functions are named without a schema, and only built-in ones run")
        name = parts[0].lower()
        if name in DENIED_FUNCTIONS:
            raise _refuse(f"{name}()", DENIED_FUNCTIONS[name])
        if not self.jvm.functions.functionExists(self.jvm.identifier.apply(name)):
            raise _refuse(f"{shown}()", "only Spark's built-in functions run (no UDF or catalog function)")

    def table_function(self, parts: list[str]) -> None:
        if len(parts) != 1 or parts[0].lower() not in TABLE_FUNCTIONS:
            allowed = ", ".join(sorted(TABLE_FUNCTIONS))
            raise _refuse(f"table function {'.'.join(parts)}()", f"only these make rows: {allowed}")


#: Nodes with nothing to check below them (their fields are names and values): skipped for speed.
_LEAVES = frozenset(
    [_EXPRESSIONS + "Literal", _ANALYSIS + "UnresolvedAttribute", _ANALYSIS + "NamedParameter"]
)


def _each(iterator: Any) -> Iterator[Any]:
    """The items of a Scala iterator (``seq.iterator()``, ``node.productIterator()``)."""
    while iterator.hasNext():
        yield iterator.next()
