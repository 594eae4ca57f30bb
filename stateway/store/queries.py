"""Named SQL queries, kept in `.sql` files per dialect and loaded once."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def load_queries(dialect: str) -> dict[str, str]:
    """`{name: sql}` from every `sql/<dialect>/*.sql` file's `-- name: X` blocks."""
    queries: dict[str, str] = {}
    folder = resources.files("stateway.store") / "sql" / dialect
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql"):
            continue
        name: str | None = None
        lines: list[str] = []
        for line in entry.read_text(encoding="utf-8").splitlines() + ["-- name: <end>"]:
            if line.startswith("-- name:"):
                if name is not None:
                    queries[name] = "\n".join(lines).strip().rstrip(";")
                name = line.split(":", 1)[1].strip()
                lines = []
            elif name is not None and not line.startswith("--"):
                lines.append(line)
    return queries
