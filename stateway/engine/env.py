"""The core's environment in the shell: a clock reading, real UUIDs and jitter, and the payload quota."""

from __future__ import annotations

import random
import uuid

DEFAULT_PAYLOAD_LIMIT_BYTES = 262_144


class ShellEnv:
    """What the pure core may not make itself; the caller sets `now_ms` (a real or a virtual clock)."""

    # The decider makes one per round, so jitter comes from the `random` module's generator, seeded
    # once per process (and again after a fork): seeding a fresh one from the OS each round cost more
    # than a whole state transition.
    __slots__ = ("now_ms", "payload_limit_bytes")

    def __init__(self, now_ms: int, payload_limit_bytes: int = DEFAULT_PAYLOAD_LIMIT_BYTES) -> None:
        self.now_ms = now_ms
        self.payload_limit_bytes = payload_limit_bytes

    def uuid4(self) -> str:
        """A random UUID from the OS: task tokens and Map Run labels must not be guessable."""
        return str(uuid.uuid4())

    def random(self) -> float:
        return random.random()

    def random_int(self, low: int, high: int) -> int:
        return random.randint(low, high)
