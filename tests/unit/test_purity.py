"""`stateway/asl/` stays pure: no I/O, no clock, no threads, no logging, no unseeded randomness."""

from __future__ import annotations

import ast
from pathlib import Path

ASL = Path(__file__).resolve().parents[2] / "stateway" / "asl"
FORBIDDEN_MODULES = {
    "os", "sys", "io", "time", "socket", "sqlite3", "threading", "asyncio", "subprocess", "logging",
    "uuid", "pathlib", "shutil", "tempfile", "urllib", "http", "concurrent", "multiprocessing", "signal",
    "stateway.engine", "stateway.store", "stateway.workers", "stateway.api", "stateway.cli",
}
# Calls that read the clock or the machine even from allowed modules.
FORBIDDEN_CALLS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter", "urandom", "open", "print"}


def _modules(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_asl_imports_nothing_that_does_io() -> None:
    for path in sorted(ASL.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        bad = {m for m in _modules(tree) if m in FORBIDDEN_MODULES or m.split(".")[0] in FORBIDDEN_MODULES
               or any(m.startswith(p + ".") for p in FORBIDDEN_MODULES)}
        assert not bad, f"{path.name} imports {sorted(bad)}"


def test_asl_reads_no_clock_and_does_no_io() -> None:
    for path in sorted(ASL.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                assert name not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno} calls {name}()"


def test_randomness_in_asl_is_seeded() -> None:
    """`random` may appear only as `random.Random(seed)`: unseeded values come through the env."""
    for path in sorted(ASL.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id == "random"):
                assert node.attr == "Random", f"{path.name}:{node.lineno} uses random.{node.attr}"
