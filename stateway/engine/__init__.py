"""The shell around the pure core: the service (the one write path), the decider, timers and workers."""

from __future__ import annotations

from stateway.engine.runtime import Engine

__all__ = ["Engine"]
