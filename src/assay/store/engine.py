"""Connecting to the database: SQLite (WAL, ``BEGIN IMMEDIATE`` writes) or PostgreSQL.

A :class:`Store` wraps one SQLAlchemy engine. Services open transactions with
``store.tx()`` (a write: on SQLite it takes the write lock at once, so two writers never
deadlock on a lock upgrade) or ``store.read()``; the functions of the repository modules
take the open connection.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg.pq import TransactionStatus
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from assay.domain.errors import AssayError, StorageFull, Unavailable, ValidationError
from assay.store.events import PENDING, flush_events
from assay.store.statements import DEFERRED, READ_AHEAD, SHARED, WRITES, count_write, flush_deferred
from assay.store.types import Unstorable, dumps, loads

__all__ = ["Store", "open_store"]

_MIGRATIONS = Path(__file__).parent / "migrations"


class Store:
    """One database: its engine, its dialect, and transactions over it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.is_sqlite = self.dialect == "sqlite"
        self.url = engine.url
        # The URL as text (password hidden), worked out once: the key of per-database caches.
        self.key = str(engine.url)
        self._shared = threading.local()  # the transaction shared_tx opened on this thread

    @contextmanager
    def shared_tx(self) -> Iterator[SharedTx]:
        """One transaction for several calls in turn on this thread: each ``tx()`` opened in it
        joins it, and the whole commits at the end (group commit: one ``BEGIN`` and one
        ``COMMIT``, one WAL flush, for all of them).

        A call that raises leaves out what it had not yet sent (its audit events, its deferred
        writes); when it had sent a write, or the database refused a statement, the transaction
        is :attr:`SharedTx.spoiled`: leave this block with an error (it rolls back) and run the
        calls again each on its own. On PostgreSQL a lock wait of more than
        :data:`SHARED_LOCK_TIMEOUT` fails (it spoils the transaction): two shared transactions
        that wait on each other's locks get out of it at once, not at the deadlock check.
        """
        with self.tx() as conn:
            if not self.is_sqlite:
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{SHARED_LOCK_TIMEOUT}'")
            shared = SharedTx(conn)
            self._shared.tx = shared
            conn.info[SHARED] = True
            try:
                yield shared
            finally:
                self._shared.tx = None
                if not conn.invalidated:  # (a lost connection's info waits for the rollback)
                    conn.info.pop(SHARED, None)

    @contextmanager
    def tx(self) -> Iterator[Connection]:
        """A write transaction (``BEGIN IMMEDIATE`` on SQLite); commits on success, rolls back on error.

        Audit events written in it are collected and written together just before the commit,
        and on PostgreSQL writes may wait to go out with a later statement
        (:mod:`assay.store.statements`).
        """
        shared: SharedTx | None = getattr(self._shared, "tx", None)
        if shared is not None:
            with database_errors(), shared.part() as conn:
                yield conn
            return
        with database_errors(), self.engine.connect() as conn:
            if self.is_sqlite:
                conn.info["immediate"] = True
            conn.info[PENDING] = []
            conn.info[DEFERRED] = []
            try:
                with conn.begin():
                    yield conn
                    flush_events(conn)
                    flush_deferred(conn)
            finally:
                conn.info.pop("immediate", None)
                conn.info.pop(PENDING, None)
                conn.info.pop(DEFERRED, None)
                conn.info.pop(READ_AHEAD, None)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (a consistent snapshot on both databases)."""
        with database_errors(), self.engine.connect() as conn, conn.begin():
            yield conn

    def migrate(self, revision: str = "head") -> None:
        """Bring the database's tables to the newest Alembic revision (or to ``revision``)."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        with self.engine.connect() as conn:
            # SQLite rebuilds a table to change a constraint; with foreign keys enforced, dropping
            # the old table would delete the rows that refer to it (ON DELETE CASCADE). So they
            # are off while migrating (a pragma that works outside a transaction only), and the
            # result is checked before the commit.
            raw = conn.connection.driver_connection if self.is_sqlite else None
            if raw is not None:
                raw.execute("PRAGMA foreign_keys=OFF")
            try:
                with conn.begin():
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, revision)
                    if raw is not None and conn.exec_driver_sql("PRAGMA foreign_key_check").first():
                        raise RuntimeError("a migration left rows that refer to missing rows")
            finally:
                if raw is not None:
                    raw.execute("PRAGMA foreign_keys=ON")

    def dispose(self) -> None:
        self.engine.dispose()


# Data exceptions (SQLSTATE class 22) that a value of the input causes: a text too long for its
# column, a number beyond it, a character the database cannot hold.
_INPUT_REFUSED = frozenset({"22001", "22003", "22021", "22P05"})


@contextmanager
def database_errors() -> Iterator[None]:
    """The database's errors that are not bugs, as the domain's errors (the database's own
    message is not passed on):

    * a value the database refuses (a NUL character in text, a number beyond its column) is
      invalid input (:class:`ValidationError`); the services check what they can name the field
      of first, this is the net under them. Other data errors (a division by zero) stay bugs;
    * a connection that dropped or could not be made (PostgreSQL restarting, a backend
      terminated, a network cut) or a database locked past its timeout is :class:`Unavailable`
      (HTTP 503 with ``Retry-After``): the pool replaces its connections, and asking again works;
    * a full disk is :class:`StorageFull` (HTTP 507): nothing of the transaction was stored.
    """
    try:
        yield
    except Unstorable as e:
        raise ValidationError(str(e)) from e
    except sa.exc.PendingRollbackError as e:  # (what a dropped connection's transaction says next)
        raise Unavailable(_UNAVAILABLE, details={"retry_after": 1}) from e
    except sa.exc.StatementError as e:
        if isinstance(e.orig, Unstorable):
            raise ValidationError(str(e.orig)) from e
        if isinstance(e, sa.exc.DataError) and _refused_input(e.orig):
            raise ValidationError(
                "the database cannot store a value of this request (text with a NUL character, a "
                "text too long, or a number beyond its column)"
            ) from e
        invalidated = isinstance(e, sa.exc.DBAPIError) and e.connection_invalidated
        fault = _fault(e.orig, operational=isinstance(e, sa.exc.OperationalError), invalidated=invalidated)
        if fault is not None:
            raise fault from e
        raise
    except (psycopg.Error, sqlite3.Error) as e:  # (the driver's own, from a COPY or a raw cursor)
        fault = _fault(e, operational=isinstance(e, psycopg.OperationalError | sqlite3.OperationalError))
        if fault is not None:
            raise fault from e
        raise


_UNAVAILABLE = (
    "the database cannot be reached just now (its connection dropped, or it is restarting); try again"
)
_FULL = "the database's disk is full: nothing of this request was stored; free space and try again"
# PostgreSQL: class 08 (connection exception) and 57P01-57P03 (shut down, crashed, starting).
_GONE = ("08", "57P01", "57P02", "57P03")
_PG_DISK_FULL = "53100"
# SQLite's primary result codes: SQLITE_BUSY, SQLITE_LOCKED, SQLITE_FULL.
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_FULL = 5, 6, 13


def _fault(orig: BaseException | None, *, operational: bool, invalidated: bool = False) -> AssayError | None:
    """The domain's error for a database fault that is not the request's (see database_errors):
    ``orig`` is the driver's error, ``operational`` whether it is an OperationalError."""
    if invalidated:
        return Unavailable(_UNAVAILABLE, details={"retry_after": 1})
    sqlstate = getattr(orig, "sqlstate", None)
    code = getattr(orig, "sqlite_errorcode", None)
    if sqlstate == _PG_DISK_FULL or (code is not None and code & 0xFF == _SQLITE_FULL):
        return StorageFull(_FULL)
    if operational:
        gone = code is None and (sqlstate is None or sqlstate.startswith(_GONE))
        if gone or (code is not None and code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)):
            return Unavailable(_UNAVAILABLE, details={"retry_after": 1})
    return None


def _refused_input(error: BaseException | None) -> bool:
    sqlstate = getattr(error, "sqlstate", None)
    if sqlstate is None:  # psycopg refuses NUL in a text parameter before sending it
        return "NUL" in str(error)
    return sqlstate in _INPUT_REFUSED


# How long a statement of a shared transaction may wait for a lock (PostgreSQL) before it fails.
SHARED_LOCK_TIMEOUT = "100ms"


class SharedTx:
    """A transaction several calls share (:meth:`Store.shared_tx`)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.spoiled = False

    @contextmanager
    def part(self) -> Iterator[Connection]:
        """One call's part: its events and deferred writes are sent when it ends, or dropped
        when it raises (then the transaction is spoiled if the call had sent a write)."""
        conn = self.conn
        if self.spoiled:
            raise RuntimeError("this shared transaction is spoiled: roll it back")
        pending, deferred = conn.info[PENDING], conn.info[DEFERRED]
        marks = len(pending), len(deferred), conn.info.get(WRITES, 0)
        try:
            yield conn
            flush_events(conn)
            flush_deferred(conn)
        except BaseException as e:
            del pending[marks[0] :], deferred[marks[1] :]
            if conn.info.get(WRITES, 0) != marks[2] or isinstance(e, sa.exc.DBAPIError):
                self.spoiled = True
            raise


def _count_writes(engine: Engine) -> None:
    """Statements SQLAlchemy runs count as writes unless they are a SELECT (assay.store.statements
    counts those it sends itself)."""

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip()[:6].upper() != "SELECT":
            count_write(conn)


def _sqlite_engine(url: sa.URL, **kw: Any) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url,
        json_serializer=dumps,
        json_deserializer=loads,
        connect_args={"timeout": 30, "check_same_thread": False},
        **kw,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA cache_size=-65536")
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("immediate") else "BEGIN")

    return engine


# A pooled connection unused for this long is checked (a round trip) before it is handed out,
# so a database restart costs no request; one in steady use is not (SQLAlchemy's pre_ping
# would add a round trip to every transaction). A connection that breaks in use still fails
# that one transaction, and the pool then replaces all its connections.
IDLE_PING_SECONDS = 5.0


def _ping_when_idle(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            with dbapi_conn.cursor() as cur:
                cur.execute("SELECT 1")
            _rollback_keeping_prepared(dbapi_conn)
        except Exception as e:  # the pool makes a new connection and tries again
            raise sa.exc.DisconnectionError(str(e)) from e


def _rollback_keeping_prepared(dbapi_conn: Any) -> None:
    """Roll back the psycopg connection's transaction, keeping its prepared statements.

    psycopg forgets every statement it prepared (and deallocates them on the server) on each
    ``ROLLBACK``, although PostgreSQL keeps them: a rolled-back transaction does not undo a
    prepare. Each hot statement then ran unprepared, planned again, for its next five
    executions on that connection, so that a few refused answers (a wrong value, an expired
    lease) made every answer cost more: 2 % of submits refused raised PostgreSQL's CPU per
    answer by about 40 %, 10 % by 125 % (services alone, measured). So the ``ROLLBACK`` goes
    to libpq directly; psycopg's own rollback, which SQLAlchemy calls next, then finds nothing
    to do. Should it fail, psycopg's rollback runs as before and reports the error.
    """
    pgconn = dbapi_conn.pgconn
    if pgconn.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
        pgconn.exec_(b"ROLLBACK")


def _keep_prepared_on_rollback(engine: Engine) -> None:
    """Transactions of ``engine`` roll back without losing psycopg's prepared statements."""

    @event.listens_for(engine, "rollback")
    def _rollback(conn: Connection) -> None:
        if conn.invalidated or conn.closed:
            return
        try:
            _rollback_keeping_prepared(conn.connection.driver_connection)
        except Exception:  # (psycopg's rollback comes next and deals with the connection)
            return


def _deferred_first(engine: Engine) -> None:
    """A statement run through SQLAlchemy first sends the writes still waiting on its connection."""

    @event.listens_for(engine, "before_execute")
    def _before(conn: Connection, *_: Any) -> None:
        if conn.info.get(DEFERRED):
            flush_deferred(conn)


def open_store(url: str, *, migrate: bool = True, **kw: Any) -> Store:
    """Open (and by default migrate) the database at ``url``."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(parsed, **kw)
    else:
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        engine = sa.create_engine(
            parsed,
            json_serializer=dumps,
            json_deserializer=loads,
            pool_size=kw.pop("pool_size", 10),
            max_overflow=kw.pop("max_overflow", 20),
            **kw,
        )
        _ping_when_idle(engine)
        _deferred_first(engine)
        _keep_prepared_on_rollback(engine)
    _count_writes(engine)
    store = Store(engine)
    if migrate:
        store.migrate()
    return store
