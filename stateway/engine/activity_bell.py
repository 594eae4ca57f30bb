"""Wakes waiting GetActivityTask polls when a task of their activity is committed: one poll per task."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

# How often the waiting polls of an activity look at the store for a task that no bell rang for (one
# written by another process on the same file): once per activity in this long, however many polls
# wait. Only a guarantee: the engine in the process rings for each task it schedules.
LOOK_SECONDS = 5.0


@dataclass(eq=False)
class Listener:
    """A waiting poll's place in the queue: `wake` is called (on the ringing thread) when it is rung."""

    wake: Callable[[], None]
    rung: bool = False


@dataclass
class _Waiting:
    listeners: dict[Listener, None] = field(default_factory=dict)  # oldest first
    looked: float = float("-inf")  # when a poll last looked at the store (monotonic seconds)


class ActivityBell:
    """The waiting polls of each activity ARN, in the order they came; thread-safe.

    A ring wakes the poll that has waited longest, and only it: one task is claimed by one poll, so
    waking all of them would cost a store query each for nothing.
    """

    def __init__(self, look_seconds: float = LOOK_SECONDS) -> None:
        self.look_seconds = look_seconds
        self._lock = threading.Lock()
        self._activities: dict[str, _Waiting] = {}

    def listen(self, arn: str, wake: Callable[[], None], now: float) -> Listener:
        """Queue a poll that is about to look at the store at `now`: listening first, it cannot miss a
        task committed while it looks."""
        listener = Listener(wake)
        with self._lock:
            waiting = self._activities.setdefault(arn, _Waiting())
            waiting.listeners[listener] = None
            waiting.looked = now
        return listener

    def leave(self, arn: str, listener: Listener) -> bool:
        """Take a poll out of the queue; returns whether it was rung (the ring it took is then unused)."""
        with self._lock:
            self._remove(arn, listener)
        return listener.rung

    def look_due(self, arn: str, now: float) -> bool:
        """Whether a waiting poll should look at the store now (`look_seconds` since any poll of the
        activity last did); the first to ask takes the look, the others wait on."""
        with self._lock:
            waiting = self._activities.get(arn)
            if waiting is None or now - waiting.looked < self.look_seconds:
                return False
            waiting.looked = now
            return True

    def ring(self, arn: str) -> None:
        """A task of the activity is committed: wake the poll that has waited longest, if any."""
        with self._lock:
            waiting = self._activities.get(arn)
            if waiting is None:
                return
            listener = next(iter(waiting.listeners))
            listener.rung = True
            self._remove(arn, listener)
        listener.wake()

    def ring_all(self) -> None:
        """Wake every waiting poll (the server is stopping: they end with no task)."""
        with self._lock:
            listeners = [listener for waiting in self._activities.values() for listener in waiting.listeners]
            self._activities.clear()
            for listener in listeners:
                listener.rung = True
        for listener in listeners:
            listener.wake()

    def _remove(self, arn: str, listener: Listener) -> None:
        waiting = self._activities.get(arn)
        if waiting is not None:
            waiting.listeners.pop(listener, None)
            if not waiting.listeners:
                del self._activities[arn]
