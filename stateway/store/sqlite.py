"""The embedded store: one SQLite file in WAL mode, one writer at a time, group commits."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from stateway.asl.errors import StatewayError
from stateway.store.migrations import migrate_sqlite
from stateway.store.queries import load_queries

Row = dict[str, Any]
# Each connection's page cache, in KiB (SQLite's default is 2 MiB, and there is a reader per thread).
# The pages a commit touches are few — appended history, the rows it updates and their index pages —
# and a reader loads an execution's rows once (the decider keeps what it needs): a larger cache only
# fills up as the file grows, and the OS keeps the file's pages anyway.
PAGE_CACHE_KIB = 256


class StoreInUse(StatewayError):
    """Another engine already drives this store: two deciders on one file would apply events twice."""


class StoreUnavailable(StatewayError):
    """A database URL this version cannot store on, or a file that is not a SQLite database."""


class SqliteStore:
    """A SQLite database holding state machines, executions, history, tasks, timers and the inbox.

    Writers take `write()` (one at a time, `BEGIN IMMEDIATE`); readers use a connection per thread,
    which WAL lets run beside the writer.
    """

    dialect = "sqlite"

    def __init__(self, path: str | Path, *, synchronous: str = "FULL", create: bool = True) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            if not create and not Path(self.path).exists():
                raise StoreUnavailable(f"no database at {self.path}")
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # a file where a folder should be, no permission, a read-only disk
                # mkdir names the part of the path it could not make, not what stands in its way.
                problem = "Not a directory" if isinstance(exc, FileExistsError) else exc.strerror
                raise StoreUnavailable(f"cannot use {self.path} as a database: {problem}: {exc.filename}") from None
        self.synchronous = synchronous
        self.q = load_queries("sqlite")
        self._local = threading.local()
        self._write_lock = threading.RLock()
        try:
            self._writer = self._connect()
            migrate_sqlite(self._writer)
        except sqlite3.DatabaseError as exc:  # not a database, unreadable, or a directory
            raise StoreUnavailable(f"cannot use {self.path} as a database: {exc}") from None
        self._engine_lock: int | None = None  # the descriptor holding `<file>.engine` (claim_engine)

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(f"PRAGMA synchronous={self.synchronous}")
        connection.execute("PRAGMA foreign_keys=ON")
        connection.execute("PRAGMA busy_timeout=30000")
        connection.execute(f"PRAGMA cache_size=-{PAGE_CACHE_KIB}")
        return connection

    @property
    def reader(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._connect()
            self._local.connection = connection
        return connection

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; commits on success and rolls back on any exception."""
        with self._write_lock:
            connection = self._writer
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
                connection.execute("COMMIT")
            except BaseException as error:
                # After some errors (a full disk, an I/O error) SQLite has rolled the transaction back
                # itself: the error to report is the one that ended it, not a ROLLBACK with nothing to do.
                if connection.in_transaction:
                    try:
                        connection.execute("ROLLBACK")
                    except sqlite3.Error as follow_on:
                        error.add_note(f"and the rollback failed: {follow_on}")
                raise

    def one(self, name: str, params: Any = ()) -> Row | None:
        row = self.reader.execute(self.q[name], params).fetchone()
        return dict(row) if row is not None else None

    def all(self, name: str, params: Any = ()) -> list[Row]:
        return [dict(row) for row in self.reader.execute(self.q[name], params).fetchall()]

    def scalar(self, name: str, params: Any = ()) -> Any:
        row = self.reader.execute(self.q[name], params).fetchone()
        return row[0] if row is not None else None

    def setting(self, name: str, create: Callable[[], str]) -> str:
        """The value the store keeps under `name`; the first caller stores `create()`, and every
        process on the file reads that one from then on."""
        value = self.scalar("get_setting", {"name": name})
        if value is None:
            with self.write() as db:
                db.execute(self.q["create_setting"], {"name": name, "value": create()})
                value = db.execute(self.q["get_setting"], {"name": name}).fetchone()[0]
        return str(value)

    def claim_engine(self) -> None:
        """Make this process the one engine of the file, or raise StoreInUse naming the holder.

        An OS lock on `<file>.engine`: the kernel releases it when the holder exits, even by
        SIGKILL, so a restarted engine takes over at once (SQLite files live on one host)."""
        if self.path == ":memory:" or self._engine_lock is not None:
            return
        lock_path = self.path + ".engine"
        while True:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise StoreInUse(f"another engine (process {holder}) is running on {self.path}; stop it, or use "
                                 "its API, instead of starting a second engine on the same file") from None
            if _names(lock_path, fd):
                break
            # The holder stopped and removed the file between our open and our lock: this lock is on
            # a file no other engine will open again, so it guards nothing. Lock the file the name
            # leads to now.
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._engine_lock = fd

    def release_engine(self) -> None:
        """Give up the file: remove `<file>.engine` while still holding its lock, then drop the lock.
        An engine that opened the file meanwhile finds it gone once it gets the lock (`claim_engine`)."""
        fd = self._engine_lock
        if fd is not None:
            self._engine_lock = None
            lock_path = self.path + ".engine"
            if _names(lock_path, fd):  # never another engine's file, had someone removed ours by hand
                with suppress(OSError):
                    os.unlink(lock_path)
            os.close(fd)  # closing the descriptor drops the lock

    def close(self) -> None:
        with self._write_lock:
            self._writer.close()
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None


def _names(path: str, fd: int) -> bool:
    """Whether `path` still names the file open as `fd` (not removed, nor replaced by another)."""
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def open_store(url: str, *, create: bool = True) -> SqliteStore:
    """`sqlite:///relative.db`, `sqlite:////abs/path.db`, or a plain file path; with `create=False`, only
    a database that exists (a mistyped path must not leave an empty one behind)."""
    if url.startswith("sqlite:///"):
        return SqliteStore(url[len("sqlite:///"):] or ":memory:", create=create)
    if url.startswith(("postgres://", "postgresql://")):
        raise StoreUnavailable("PostgreSQL is not supported yet: this version stores on SQLite (sqlite:///path)")
    if "://" in url:
        raise StoreUnavailable(f"unsupported database URL {url!r} (this version stores on SQLite: sqlite:///path)")
    return SqliteStore(url, create=create)
