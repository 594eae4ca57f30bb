"""The core's environment in the shell: a clock reading, real UUIDs and jitter, and the payload quota."""

from __future__ import annotations

import random
import uuid

DEFAULT_PAYLOAD_LIMIT_BYTES = 262_144


class ShellEnv:
    """What the pure core may not make itself; the caller sets `now_ms` (a real or a virtual clock)."""

    def __init__(self, now_ms: int, payload_limit_bytes: int = DEFAULT_PAYLOAD_LIMIT_BYTES) -> None:
        self.now_ms = now_ms
        self.payload_limit_bytes = payload_limit_bytes
        self._random = random.Random()

    def uuid4(self) -> str:
        return str(uuid.uuid4())

    def random(self) -> float:
        return self._random.random()

    def random_int(self, low: int, high: int) -> int:
        return self._random.randint(low, high)
