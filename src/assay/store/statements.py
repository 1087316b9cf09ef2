"""Hot statements: built once per dialect, and on PostgreSQL run on the psycopg cursor directly.

Dispatch runs about ten statements per next+submit. Building a SQLAlchemy expression costs more
than running it, so each is built once per dialect (:func:`run` takes a key and a builder). And
SQLAlchemy's execution (an execution context, parameter and result processing, Row objects)
costs about 65 µs of CPU per statement on PostgreSQL where psycopg alone costs about 40 (the
submit's SELECT: 107 µs against 42, measured on the 2-core machine). So on PostgreSQL a statement
is compiled once into its SQL text and the converters its parameters and columns need (the type
processors SQLAlchemy itself would apply, and the Python-side defaults such as ``updated_at``),
and then runs on a raw cursor (``$n`` placeholders, each SQL text converted once: see
:func:`_positional`) of the connection's open transaction: one cursor kept per connection, whose
converters for each column type are set up once (a new cursor per statement set them up again
for every result). Errors are wrapped the way
SQLAlchemy wraps them, and a lost connection is invalidated. SQLite keeps SQLAlchemy's path: it
has no round trips to save and its parameters are positional.

Rows come back as dicts on both paths.

**Carried writes.** Each statement is a round trip, and on this machine a round trip costs about
as much CPU as a small statement's own work (about 50 µs in the server and 45 in PostgreSQL). A
write whose result nobody reads can be *deferred* (``run(..., defer=True)``): on PostgreSQL,
inside a transaction of :meth:`Store.tx`, it waits on the connection and goes out with the next
statement that agrees to *carry* it (``carry=True``), as a data-modifying ``WITH`` of that
statement: one round trip for all of them. Any other statement, and the commit, first sends the
waiting writes on their own (one statement), so that what runs later sees them. Statements that
carry writes must neither read nor write the rows those writes touch: the parts of one statement
see the same snapshot, and the order they run in is PostgreSQL's choice (and two writes of the
same statement never wait together: they may touch the same row). Errors of a deferred
write come from the statement that sends it. SQLite runs every statement at once.

The parts of one statement run in an order of PostgreSQL's choosing, except that a part runs
before whatever reads its ``RETURNING`` rows. So a deferred write may be given a ``name`` (its
``WITH`` part is called so) and return rows, and a carrier that must come after it refers to it by
that name (:func:`waiting` says whether it waits): the next lease of a chained answer waits so for
the update that closes the answered lease and for the answer's audit events.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Connection

__all__ = [
    "DEFERRED",
    "READ_AHEAD",
    "SHARED",
    "WRITES",
    "Busy",
    "Rows",
    "count_write",
    "flush_deferred",
    "run",
    "waiting",
]

# A connection whose ``info`` holds this key (a list) collects deferred writes there (Store.tx).
DEFERRED = "assay_deferred_writes"
# How many statements that may write a connection has sent: a transaction shared by several
# calls (Store.shared_tx) tells by it whether a call that failed wrote anything.
WRITES = "assay_writes_sent"


# Set in a connection's ``info`` while its transaction is shared by several calls (Store.shared_tx).
SHARED = "assay_shared_tx"
# Where a shared transaction keeps what it read ahead for its calls (dispatch.read_ahead).
READ_AHEAD = "assay_read_ahead"


class Busy(Exception):
    """A call in a shared transaction would wait for a row that another transaction holds: it
    leaves the transaction (having written nothing) and runs on its own after it. Two shared
    transactions that waited on each other's rows would wait until one gave up."""


def count_write(conn: Connection) -> None:
    """Count a statement that may write, sent on ``conn``."""
    conn.info[WRITES] = conn.info.get(WRITES, 0) + 1


_BUILT: dict[tuple[str, str], Any] = {}
_PREPARED: dict[tuple[str, tuple[str, ...]], _Prepared] = {}


def _statement(conn: Connection, key: str, build: Callable[[bool], Any]) -> Any:
    """The statement ``build(is_postgresql)`` makes, built once per dialect under ``key``."""
    k = (key, conn.dialect.name)
    found = _BUILT.get(k)
    if found is None:
        found = _BUILT[k] = build(conn.dialect.name == "postgresql")
    return found


class Rows:
    """The rows of one execution, as dicts, and the count of rows it changed."""

    __slots__ = ("rowcount", "rows")

    def __init__(self, rows: list[dict[str, Any]], rowcount: int) -> None:
        self.rows = rows
        self.rowcount = rowcount

    def first(self) -> dict[str, Any] | None:
        return self.rows[0] if self.rows else None

    def one(self) -> dict[str, Any]:
        if len(self.rows) != 1:
            raise sa.exc.NoResultFound("expected one row") if not self.rows else sa.exc.MultipleResultsFound()
        return self.rows[0]

    def all(self) -> list[dict[str, Any]]:
        return self.rows


def run(
    conn: Connection,
    key: str,
    build: Callable[[bool], Any],
    params: dict[str, Any] | Sequence[dict[str, Any]],
    *,
    defer: bool = False,
    carry: bool = False,
    name: str | None = None,
) -> Rows:
    """Run the statement ``key`` (built by ``build`` once per dialect) with ``params``.

    A list of parameter dicts runs it once per dict (no rows come back then). ``defer``: a write
    whose result is not needed may wait and go out with a later statement (no rows come back,
    and the row count is unknown: -1); ``carry``: this statement takes the waiting writes along.
    ``name``: the name of a deferred write's ``WITH`` part, for a carrier that must refer to it
    (a part runs before whatever reads its ``RETURNING`` rows; see :func:`waiting`).
    """
    stmt = _statement(conn, key, build)
    if conn.dialect.name != "postgresql":  # (the engine's hooks count its writes)
        result = conn.execute(stmt, params)
        rows = [dict(r._mapping) for r in result] if result.returns_rows else []
        return Rows(rows, result.rowcount)
    first = params if isinstance(params, dict) else params[0]
    # An INSERT is compiled for the columns it is given (the others take their defaults).
    pkey = (key, tuple(first)) if isinstance(stmt, sa.Insert) else (key, ())
    prepared = _PREPARED.get(pkey)
    if prepared is None:
        keys = list(first) if isinstance(stmt, sa.Insert) else None
        prepared = _PREPARED[pkey] = _Prepared(stmt, conn.dialect, keys)
    waiting: list[_Waiting] | None = conn.info.get(DEFERRED)
    if defer and waiting is not None and (part := prepared.part(params)) is not None:
        if any(w[0] == key for w in waiting):  # it may touch the same rows: not together
            flush_deferred(conn)
        waiting.append((key, *part, name))
        return Rows([], -1)
    if waiting and not carry:
        flush_deferred(conn)
    if waiting or prepared.writes:
        count_write(conn)
    return prepared.run(conn, params)


# A deferred write: its statement key, SQL, parameters, and the name of its WITH part (or None).
_Waiting = tuple[str, str, dict[str, Any], str | None]


def waiting(conn: Connection, *names: str) -> bool:
    """Whether the deferred writes of these names all wait on the connection (PostgreSQL): a
    statement that carries them may then refer to their ``WITH`` parts by those names."""
    found = {w[3] for w in conn.info.get(DEFERRED) or ()}
    return all(n in found for n in names)


def flush_deferred(conn: Connection) -> None:
    """Send the connection's deferred writes now, in one statement (before a commit or a read)."""
    waiting: list[_Waiting] | None = conn.info.get(DEFERRED)
    if not waiting:
        return
    count_write(conn)
    _, sql, params, _ = waiting.pop()
    if waiting:
        carried, extra = _carried(waiting, sql)
        sql, params = carried, {**extra, **params}
    with _executed(conn, conn.dialect, sql, params, many=False):
        pass


def _carried(waiting: list[_Waiting], sql: str) -> tuple[str, dict[str, Any]]:
    """``sql`` with the waiting writes as data-modifying WITH parts ahead of it, and their parameters."""
    key = (tuple((w[1], w[3]) for w in waiting), sql)
    found = _CARRIED.get(key)
    if found is None:
        parts = ", ".join(
            "%s AS (%s)" % (name or f"_w{i}", _PARAM.sub(rf"%(\1__w{i})s", w))  # noqa: UP031 (the SQL holds %(…)s)
            for i, (_, w, _, name) in enumerate(waiting)
        )
        text = f"WITH {parts}, {sql[len('WITH ') :]}" if sql.startswith("WITH ") else f"WITH {parts} {sql}"
        # (a part's SQL text fixes its parameters' names and order: renamed once, here)
        found = _CARRIED[key] = (text, [[f"{k}__w{i}" for k in p] for i, (_, _, p, _) in enumerate(waiting)])
    text, renamed = found
    params: dict[str, Any] = {}
    for names, (_, _, p, _) in zip(renamed, waiting, strict=True):
        params.update(zip(names, p.values(), strict=True))
    waiting.clear()
    return text, params


_CARRIED: dict[tuple[tuple[tuple[str, str | None], ...], str], tuple[str, list[list[str]]]] = {}


def _processor(
    kind: str, type_: Any, dialect: sa.Dialect, coltype: Any = None
) -> Callable[[Any], Any] | None:
    impl = type_.dialect_impl(dialect)
    if kind == "bind":
        fn: Callable[[Any], Any] | None = impl.bind_processor(dialect)
        return fn
    return impl.result_processor(dialect, coltype)  # type: ignore[no-any-return]


def _default(column: sa.Column[Any], update: bool) -> Callable[[], Any]:
    """The Python-side default (or onupdate) of a column, as a function of nothing."""
    default: Any = column.onupdate if update else column.default
    if default.is_callable:
        return lambda: default.arg(None)
    return lambda: default.arg


_PARAM = re.compile(r"%\((\w+)\)s")
_WRITING_PART = re.compile(r"\bAS\s*\(\s*(INSERT|UPDATE|DELETE)\b")


def _positional(sql: str) -> tuple[str, list[str]]:
    """``sql`` with ``$n`` placeholders (for psycopg's raw cursor) and the parameter names in order.

    psycopg parses a query with named placeholders again on every execution once it is longer
    than 4 KB or has more than 50 parameters, as a statement carrying writes does: about a sixth
    of the server's CPU per answer. Here each text is parsed once.
    """
    found = _POSITIONAL.get(sql)
    if found is None:
        names: list[str] = []
        numbers: dict[str, int] = {}

        def number(m: re.Match[str]) -> str:
            name = m[1]
            if name not in numbers:
                names.append(name)
                numbers[name] = len(names)
            return f"${numbers[name]}"

        found = _POSITIONAL[sql] = (_PARAM.sub(number, sql).replace("%%", "%"), names)
    return found


_POSITIONAL: dict[str, tuple[str, list[str]]] = {}


def _values_clause(sql: str) -> tuple[int, int] | None:
    """Where the ``(…)`` of an INSERT's single VALUES row starts and ends in its SQL text."""
    start = sql.find(" VALUES (")
    if start < 0:
        return None
    start += len(" VALUES ")
    depth = 0
    for i in range(start, len(sql)):
        depth += {"(": 1, ")": -1}.get(sql[i], 0)
        if depth == 0:
            return start, i + 1
    return None


def _suffixed(batch: list[dict[str, Any]]) -> dict[str, Any]:
    return {f"{k}__{i}": v for i, row in enumerate(batch) for k, v in row.items()}


class _Prepared:
    """One statement compiled for psycopg: SQL text, parameter and column converters, defaults."""

    def __init__(self, stmt: Any, dialect: sa.Dialect, column_keys: list[str] | None) -> None:
        compiled = stmt.compile(dialect=dialect, column_keys=column_keys)
        self.sql = str(compiled)
        # A SELECT may write too, in its WITH parts (a lease takes a record and inserts the lease).
        self.writes = not isinstance(stmt, sa.Select) or bool(_WRITING_PART.search(self.sql))
        self.dialect = dialect
        # Each parameter the SQL names: where its value comes from, and its type's converter.
        # (What compiled.construct_params works out again on every call, worked out once.)
        escaped = compiled.escaped_bind_names
        self.slots = [
            (escaped.get(name, name), bind.key, name, bind, _processor("bind", bind.type, dialect))
            for bind, name in compiled.bind_names.items()
        ]
        self.plain = [(out, key, proc) for out, key, _, _, proc in self.slots]
        self.defaults = [(c.key, _default(c, False)) for c in compiled.insert_prefetch] + [
            (c.key, _default(c, True)) for c in compiled.update_prefetch
        ]
        self.values = _values_clause(self.sql) if isinstance(stmt, sa.Insert) else None
        self.multi: dict[int, str] = {}
        columns: list[Any] = []
        if isinstance(stmt, sa.Select):
            columns = list(stmt.selected_columns)
        elif getattr(stmt, "_returning", ()):
            columns = list(stmt.exported_columns)
        self.columns = columns
        self.keys = [c.key for c in columns]
        # Known at the first execution: some processors depend on the column's type code.
        self.results: list[tuple[int, Callable[[Any], Any]]] | None = None

    def _rows_sql(self, n: int) -> str:
        sql = self.multi.get(n)
        if sql is None:
            assert self.values is not None
            start, end = self.values
            one = self.sql[start:end]
            rows = ", ".join(_PARAM.sub(rf"%(\1__{i})s", one) for i in range(n))
            sql = self.multi[n] = self.sql[:start] + rows + self.sql[end:]
        return sql

    def _params(self, given: dict[str, Any]) -> dict[str, Any]:
        for key, make in self.defaults:
            if key not in given:
                given = {**given, key: make()}
        try:  # each parameter given under its key, as the hot paths give them
            return {out: given[key] if proc is None else proc(given[key]) for out, key, proc in self.plain}
        except KeyError:
            pass
        full: dict[str, Any] = {}
        for out, key, name, bind, proc in self.slots:
            if key in given:
                value = given[key]
            elif name in given:
                value = given[name]
            elif bind.required:
                raise sa.exc.InvalidRequestError(f"A value is required for bind parameter {key!r}")
            else:
                value = bind.effective_value if bind.callable else bind.value
            full[out] = value if proc is None else proc(value)
        return full

    def _shaped(self, params: dict[str, Any] | Sequence[dict[str, Any]]) -> tuple[str, Any, bool]:
        """The SQL to send, its parameters, and whether it runs once per row (executemany)."""
        if isinstance(params, dict):
            return self.sql, self._params(params), False
        batch = [self._params(p) for p in params]
        if self.values is not None and len(batch) <= 16:
            # A few rows as one INSERT … VALUES (…), (…): psycopg's executemany goes through
            # its pipeline, which costs more CPU than the statement for a handful of rows.
            return self._rows_sql(len(batch)), _suffixed(batch), False
        return self.sql, batch, True

    def part(self, params: dict[str, Any] | Sequence[dict[str, Any]]) -> tuple[str, dict[str, Any]] | None:
        """The SQL and parameters to send this write later as one statement; None if it cannot be."""
        sql, args, many = self._shaped(params)
        return None if many else (sql, args)

    def run(self, conn: Connection, params: dict[str, Any] | Sequence[dict[str, Any]]) -> Rows:
        sql, args, many = self._shaped(params)
        waiting = conn.info.get(DEFERRED)
        if waiting and many:
            flush_deferred(conn)
        elif waiting:
            carried, extra = _carried(waiting, sql)
            sql, args = carried, {**extra, **args}
        with _executed(conn, self.dialect, sql, args, many=many) as cursor:
            if many:
                return Rows([], cursor.rowcount)
            rows: list[dict[str, Any]] = []
            if self.keys:
                # (cursor.description builds column objects: read it once only)
                if self.results is None:
                    self.results = [
                        (i, proc)
                        for i, (c, d) in enumerate(zip(self.columns, cursor.description, strict=True))
                        if (proc := _processor("result", c.type, self.dialect, d.type_code)) is not None
                    ]
                for values in cursor.fetchall():
                    if self.results:
                        values = list(values)
                        for i, proc in self.results:
                            values[i] = proc(values[i])
                    rows.append(dict(zip(self.keys, values, strict=True)))
            return Rows(rows, cursor.rowcount)


@contextmanager
def _executed(conn: Connection, dialect: sa.Dialect, sql: str, params: Any, *, many: bool) -> Iterator[Any]:
    """A psycopg cursor of the connection's transaction that has run ``sql`` (named placeholders)
    with ``params`` (a dict, or a list of dicts with ``many``); driver errors wrapped as SQLAlchemy's."""
    fairy = conn.connection
    raw = fairy.driver_connection
    assert raw is not None
    # One cursor per connection, kept: a cursor sets up a converter for each column type it
    # meets, once (a new cursor per statement cost about 30 µs of CPU for a 15-column result).
    cursor: Any = fairy.info.get(_CURSOR)
    if cursor is None or cursor.connection is not raw:
        cursor = fairy.info[_CURSOR] = psycopg.RawCursor(raw)
    text, names = _positional(sql)
    try:
        if many:
            cursor.executemany(text, [[row[n] for n in names] for row in params])
        else:
            cursor.execute(text, [params[n] for n in names])
        yield cursor
    except dialect.loaded_dbapi.Error as e:
        lost = dialect.is_disconnect(e, raw, cursor)
        fairy.info.pop(_CURSOR, None)
        cursor.close()
        if lost:  # the server is likely gone for every connection: the pool makes new ones
            conn.engine.pool._invalidate(fairy, e)
            conn.invalidate(e)
        raise sa.exc.DBAPIError.instance(
            sql, params, e, dialect.loaded_dbapi.Error, dialect=dialect, connection_invalidated=lost
        ) from e


# Where a connection keeps the cursor hot statements run on (its pool record's info).
_CURSOR = "assay_cursor"
