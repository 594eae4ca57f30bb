"""The worker threads that run task functions: a plain queue of calls, without a Future per call."""

from __future__ import annotations

import itertools
import sys
import threading
import time
import traceback
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any


class WorkerPool:
    """Runs `submit`ted calls on up to `size` threads, started on first use; nothing is returned.

    A `ThreadPoolExecutor` builds a Future (a Condition, an RLock) per call and takes two global locks
    and a semaphore to submit it; the engine reads no results from its workers (they post events),
    so a queue of calls does the same work for a fraction of the decider's time.

    A call may bound itself (`limit`): one that outlives its bound is given up on, and a new thread takes
    the place of the one it hangs in (Python cannot stop a thread), so that hung calls never use up the
    pool; that thread ends once its call returns, if it ever does."""

    def __init__(self, size: int, name: str) -> None:
        self.size = max(1, size)
        self.name = name
        self._calls: SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._start_lock = threading.Lock()
        self._closed = False
        self._numbers = itertools.count()
        self._given_up: set[threading.Thread] = set()  # threads replaced while hung in a call
        self._watchdog: _Watchdog | None = None

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        if self._closed:
            return
        if not self._threads:
            with self._start_lock:
                if not self._threads:
                    self._start_threads()
        self._calls.put((fn, args))

    @property
    def queued(self) -> int:
        """Calls waiting for a free thread."""
        return self._calls.qsize()

    @property
    def abandoned(self) -> int:
        """Threads still hung in a call that was given up on (no longer counted among the pool's)."""
        return len(self._given_up)

    def limit(self, seconds: float, on_expiry: Callable[[], None]) -> Limit:
        """Bound the calling thread's current call to `seconds`. Unless `Limit.finish()` is called first,
        `on_expiry` then runs (on the pool's watchdog thread) and a new thread replaces this one."""
        if self._watchdog is None:
            with self._start_lock:
                if self._watchdog is None:
                    self._watchdog = _Watchdog(f"{self.name}-watchdog")
        limit = Limit(time.monotonic() + seconds, on_expiry, self, threading.current_thread())
        self._watchdog.watch(limit)
        return limit

    def shutdown(self) -> None:
        """Drop the calls not yet started and end the threads once their current call returns."""
        self._closed = True
        while not self._calls.empty():
            self._calls.get_nowait()
        with self._start_lock:
            # One per thread: each ends on the first it takes. Threads given up on count too: one whose call
            # returned just as it expired may be taking calls still, and must not take another's stop.
            for _ in range(len(self._threads) + len(self._given_up)):
                self._calls.put(None)
            if self._watchdog is not None:
                self._watchdog.close()

    def _start_threads(self) -> None:
        for _ in range(self.size):
            self._start_thread()

    def _start_thread(self) -> None:
        thread = threading.Thread(target=self._run, name=f"{self.name}_{next(self._numbers)}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _give_up(self, thread: threading.Thread) -> None:
        """`thread` hangs in a call given up on: another takes its place, as long as the pool is open."""
        with self._start_lock:
            if thread not in self._threads:
                return  # not one of ours (a call bounded outside the pool), or replaced already
            self._threads.remove(thread)
            self._given_up.add(thread)
            if not self._closed:
                self._start_thread()

    def _run(self) -> None:
        calls = self._calls
        me = threading.current_thread()
        while (call := calls.get()) is not None:
            try:
                call[0](*call[1])
            except Exception:  # a failing call must not end the thread; callers report their own errors
                traceback.print_exc(file=sys.stderr)
            del call  # do not keep the last task's arguments alive while idle
            if me in self._given_up:  # replaced while its call hung: the pool has its size without it
                with self._start_lock:
                    self._given_up.discard(me)
                return


class Limit:
    """One bounded call (see `WorkerPool.limit`): it either finishes or expires, never both. Which one is
    settled by the watchdog's set of limits: `finish` and the watchdog each take the limit out of it,
    under its lock, and only one of them finds it there."""

    __slots__ = ("deadline", "_on_expiry", "_pool", "_thread")

    def __init__(self, deadline: float, on_expiry: Callable[[], None], pool: WorkerPool,
                 thread: threading.Thread) -> None:
        self.deadline = deadline  # on the monotonic clock
        self._on_expiry = on_expiry
        self._pool = pool
        self._thread = thread

    def finish(self) -> bool:
        """The call has returned: True if in time, False if it had expired (its result is to be ignored)."""
        watchdog = self._pool._watchdog
        return watchdog is not None and watchdog.forget(self)

    def _expire(self) -> None:
        """On the watchdog thread, once the deadline has passed and the watchdog has taken it out of its set."""
        try:
            self._on_expiry()
        except Exception:  # the watchdog must live on; the caller reports its own errors
            traceback.print_exc(file=sys.stderr)
        self._pool._give_up(self._thread)


class _Watchdog:
    """One thread that expires the limits whose deadline has passed. It sleeps until the earliest
    deadline it knows of, and is woken only by a limit due before that: with one timeout for most calls,
    hardly ever. With no limit to watch it still looks every `IDLE_LOOK_SECONDS`: were it to sleep until
    woken, every call that follows an idle moment (one call at a time, say) would wake it, a thread
    switch per call."""

    IDLE_LOOK_SECONDS = 1.0

    def __init__(self, name: str) -> None:
        self._limits: set[Limit] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._wake_at = float("inf")
        self._closed = False
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def watch(self, limit: Limit) -> None:
        with self._lock:
            self._limits.add(limit)
        if limit.deadline < self._wake_at:
            self._wake.set()

    def forget(self, limit: Limit) -> bool:
        """Take a finished call's limit out: True if it was still watched (the call ended in time)."""
        with self._lock:
            if limit in self._limits:
                self._limits.remove(limit)
                return True
            return False

    def close(self) -> None:
        self._closed = True
        self._wake.set()

    def _run(self) -> None:
        while not self._closed:
            now = time.monotonic()
            with self._lock:
                due = [limit for limit in self._limits if limit.deadline <= now]
                self._limits.difference_update(due)
                self._wake_at = min((limit.deadline for limit in self._limits), default=now + self.IDLE_LOOK_SECONDS)
            for limit in due:
                limit._expire()
            # A timeout may be longer than a wait can be (a function's of 10**10 s, say); waiting that
            # long would raise OverflowError and end the watchdog, leaving every later call unbounded.
            self._wake.wait(min(max(0.0, self._wake_at - time.monotonic()), threading.TIMEOUT_MAX))
            self._wake.clear()
