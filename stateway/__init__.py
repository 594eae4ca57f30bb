"""stateway: a durable, self-hostable serverless workflow engine for the Amazon States Language."""

from __future__ import annotations

from stateway.workers.registry import function

__version__ = "0.1.0"
__all__ = ["function", "__version__"]
