"""stateway: a durable, self-hostable serverless workflow engine for the Amazon States Language."""

from __future__ import annotations

__version__ = "0.1.0"
