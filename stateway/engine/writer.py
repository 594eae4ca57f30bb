"""The writer thread: stores the decider's rounds in order, all the rounds waiting in one transaction.

The decider computes a round, hands it here and goes on computing the next one while this thread
writes and fsyncs: the fsync of one round overlaps the work of the next, and every round that queued
up during a commit shares the following one (group commit across rounds). A round counts as done
only once its transaction has committed; if a transaction fails, it and every round queued after it
fail too (they were computed on top of it) until the decider has resynchronised and calls `reset`.
Urgent items (new executions, whose callers wait) skip the queue in a small transaction of their own,
or join the transaction of rounds being written when they arrive, so that a StartExecution waits for
at most the commit in progress and its own; they build on nothing queued, so they are written even
while the rounds are refused.

Items that nobody waits for (see `prompt`) may wait up to `delay` seconds for more to share their
transaction, as PostgreSQL's `commit_delay` does: a fast chain of steps then commits once, when it ends,
instead of once per commit the writer can make meanwhile — and its end does not wait for a commit
of its middle in progress. A prompt item, an urgent one, a full queue or a caller in `wait_below` ends
the delay at once. Nothing outside the process sees a round before it is durable in any case.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from stateway.store.sqlite import SqliteStore

T = TypeVar("T")


class Writer(Generic[T]):
    """Writes submitted items with `write(db, batch)`, one transaction per batch, in submission order;
    `on_done(batch, error)` follows each transaction, once its items are listed by `finished`.
    `size(item)` is what an item holds in memory until it is written (see `pending_size`). An item that
    is not `prompt(item)` may wait up to `delay` seconds for others to share its transaction, unless
    `delay_limit` items are queued (see the module's docstring)."""

    def __init__(self, store: SqliteStore, write: Callable[[object, list[T]], None],
                 on_done: Callable[[list[T], BaseException | None], None],
                 acknowledge: Callable[[T, BaseException | None], None] = lambda item, error: None,
                 size: Callable[[T], int] = lambda item: 0,
                 prompt: Callable[[T], bool] = lambda item: True, delay: float = 0.0,
                 delay_limit: int = 64) -> None:
        self._store = store
        self._prompt = prompt
        self._delay = delay
        self._delay_limit = delay_limit  # queued items that end the delay
        self._size = size
        self._write = write
        self._on_done = on_done
        self._acknowledge = acknowledge
        self._cond = threading.Condition()
        self._queue: list[T] = []
        self._urgent: list[T] = []
        self._finished: list[tuple[T, BaseException | None]] = []
        self._pending = 0  # submitted and not yet finished
        self._pending_size = 0  # their `size`s added up
        self._broken: BaseException | None = None
        self._closing = False
        self._due = False  # the queue is to be written at once (a prompt item, a caller waiting)
        self._queued_since = 0.0  # monotonic: when the oldest item of the queue was submitted
        self._thread = threading.Thread(target=self._run, name="stateway-writer", daemon=True)
        self._thread.start()

    def submit(self, item: T, *, urgent: bool = False) -> None:
        """Queue `item`; urgent items are written ahead of the others queued (a caller waits for
        them) — in a transaction of their own, or in the one being written when they arrive — so
        they must not depend on anything queued before them."""
        prompt = urgent or self._delay <= 0 or self._prompt(item)
        with self._cond:
            if urgent:
                self._urgent.append(item)
            else:
                if not self._queue:
                    self._queued_since = time.monotonic()
                self._queue.append(item)
                self._due = self._due or prompt or len(self._queue) >= self._delay_limit
            self._pending += 1
            self._pending_size += self._size(item)
            if prompt or len(self._queue) == 1:  # a delayed item wakes the writer only to set its clock
                self._cond.notify_all()

    @property
    def pending(self) -> int:
        """Items submitted whose transaction has not finished yet."""
        return self._pending

    @property
    def pending_size(self) -> int:
        """The sizes of the items submitted whose transaction has not finished yet."""
        return self._pending_size

    def finished(self) -> list[tuple[T, BaseException | None]]:
        """The items written (error None) or failed since the last call, in submission order."""
        with self._cond:
            done, self._finished = self._finished, []
        return done

    def wait_below(self, limit: int, timeout: float | None = None, *, size: int | None = None) -> None:
        """Block until fewer than `limit` items are pending (0 < limit; 1 means: all written) and,
        with `size`, their sizes add up to less than it (or only one is left)."""
        def below() -> bool:
            return self._pending < limit and (size is None or self._pending_size < size or self._pending <= 1)

        with self._cond:
            if not below() and self._queue and not self._due:
                self._due = True  # a caller waits: no delay
                self._cond.notify_all()
            self._cond.wait_for(below, timeout)

    def reset(self) -> None:
        """Accept writes again after a failure (the decider has reloaded its state from the store)."""
        with self._cond:
            self._broken = None

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the thread."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)

    def _join_late_urgent(self, db: Any) -> list[T]:
        """Urgent items that arrived while this transaction of rounds was being written: they are
        committed with it instead of waiting for it and then for a transaction of their own (a
        caller waits for each, and each transaction costs an fsync). A savepoint keeps them apart:
        if they fail they are undone alone and retried in their own transaction, which reports it."""
        with self._cond:
            late, self._urgent = self._urgent, []
        db.execute("SAVEPOINT urgent")
        try:
            self._write(db, late)
        except BaseException:
            with self._cond:
                self._urgent[:0] = late
            if not db.in_transaction:
                raise  # SQLite ended the whole transaction (a full disk): the rounds fail with this error
            db.execute("ROLLBACK TO urgent")
            db.execute("RELEASE urgent")
            return []
        db.execute("RELEASE urgent")
        return late

    def _ready(self) -> bool:
        """Whether there is something to write now (under `_cond`); sets `_due` once the delay is over."""
        if self._urgent or self._closing:
            return True
        if not self._queue:
            return False
        if not self._due and time.monotonic() - self._queued_since >= self._delay:
            self._due = True
        return self._due

    def _wait(self) -> None:
        """Wait (under `_cond`) until there is something to write now."""
        while not self._ready():
            timeout = None if not self._queue else self._delay - (time.monotonic() - self._queued_since)
            self._cond.wait(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._wait()
                if self._urgent:
                    batch, self._urgent = self._urgent, []
                    broken = None  # urgent items depend on nothing queued: a failure does not touch them
                elif self._queue:
                    batch, self._queue = self._queue, []
                    self._due = False
                    broken = self._broken
                else:
                    return
            error = broken
            late: list[T] = []
            if error is None:
                try:
                    with self._store.write() as db:
                        self._write(db, batch)
                        if self._urgent:
                            late = self._join_late_urgent(db)
                except BaseException as exc:  # reported to the decider, which recomputes from the store
                    error = exc
                if late and error is not None:
                    with self._cond:  # not stored with the rounds: they get a transaction of their own
                        self._urgent[:0] = late
                    late = []
            batch = batch + late if late else batch
            for item in batch:
                self._acknowledge(item, error)
            with self._cond:
                if error is not None and self._broken is None:
                    self._broken = error  # rounds after a failed start may build on it: refuse them too
                self._finished.extend((item, error) for item in batch)
                self._pending -= len(batch)
                self._pending_size -= sum(map(self._size, batch))
                self._cond.notify_all()
            self._on_done(batch, error)
