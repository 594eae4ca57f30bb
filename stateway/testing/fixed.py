"""A deterministic world for the pure core: a fixed clock, one known UUID, the lowest random draws."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FixedEnv:
    """An `asl.events.Env` whose answers never change, for tests and benchmarks of the core."""

    now_ms: int = 1_704_067_200_000
    uuid: str = "00000000-0000-4000-8000-000000000000"

    def uuid4(self) -> str:
        return self.uuid

    def random(self) -> float:
        return 0.5

    def random_int(self, low: int, high: int) -> int:
        return low
