"""The worker threads that run task functions: a plain queue of calls, without a Future per call."""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any


class WorkerPool:
    """Runs `submit`ted calls on up to `size` threads, started on first use; nothing is returned.

    A `ThreadPoolExecutor` builds a Future (a Condition, an RLock) per call and takes two global locks
    and a semaphore to submit it; the engine reads no results from its workers (they post events),
    so a queue of calls does the same work for a fraction of the decider's time."""

    def __init__(self, size: int, name: str) -> None:
        self.size = max(1, size)
        self.name = name
        self._calls: SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._start_lock = threading.Lock()
        self._closed = False

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

    def shutdown(self) -> None:
        """Drop the calls not yet started and end the threads once their current call returns."""
        self._closed = True
        while not self._calls.empty():
            self._calls.get_nowait()
        for _ in self._threads:
            self._calls.put(None)  # one per thread: each ends on the first it takes

    def _start_threads(self) -> None:
        for index in range(self.size):
            thread = threading.Thread(target=self._run, name=f"{self.name}_{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _run(self) -> None:
        calls = self._calls
        while (call := calls.get()) is not None:
            try:
                call[0](*call[1])
            except Exception:  # a failing call must not end the thread; callers report their own errors
                traceback.print_exc(file=sys.stderr)
            del call  # do not keep the last task's arguments alive while idle
