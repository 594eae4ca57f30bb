"""Runs one corpus case on the local engine and judges the result against the recording."""

from __future__ import annotations

import inspect
import json
import tempfile
import traceback
from pathlib import Path
from typing import Any

from .compare import ActualRun, CaseResult, compare_case
from .corpus import BoundCase, Case, UnboundPlaceholder, bind, forget_handler_source


class EngineUnavailable(Exception):
    """`stateway.testing.local.LocalRunner` cannot be imported (yet)."""


def local_runner_class() -> Any:
    try:
        from stateway.testing.local import LocalRunner
    except ImportError as exc:  # the engine is written in parallel with this runner
        raise EngineUnavailable(f"stateway.testing.local.LocalRunner is not importable: {exc}") from exc
    return LocalRunner


def run_case(case: Case) -> CaseResult:
    """Bind, run and compare one case; engine exceptions become failed verdicts with the crash site."""
    try:
        bound = bind(case)
    except UnboundPlaceholder as exc:
        return CaseResult.failed_all(case.id, f"cannot bind: {exc}", "unbindable placeholder")
    runner_class = local_runner_class()
    forget_handler_source()
    with tempfile.TemporaryDirectory(prefix="stateway-s3-") as objects:
        return _run_bound(case, bound, runner_class, Path(objects))


def _run_bound(case: Case, bound: BoundCase, runner_class: Any, objects: Path) -> CaseResult:
    try:
        options: dict[str, Any] = {}
        if bound.uses_objects:  # S3 is a directory object store holding the case's buckets and objects
            bound.provision_objects(objects)
            options["object_store"] = objects
        # Every step goes through the stored JSON form of the snapshot, as after a restart.
        runner = runner_class(functions=bound.functions_by_name, store_snapshots=True, **options)
        kwargs: dict[str, Any] = {"name": bound.execution_name}
        if "input_text" in inspect.signature(runner.run).parameters:
            # The recording tests started executions with `json.dumps(input)`; AWS echoes that text
            # (spacing included) wherever the input passes through untouched.
            kwargs["input_text"] = json.dumps(bound.input)
        result = runner.run(bound.definition, bound.input, **kwargs)
        actual = ActualRun.from_result(result)
    except Exception as exc:  # noqa: BLE001 - any engine crash is a verdict, not a runner failure
        return CaseResult.failed_all(
            case.id, f"engine raised {_crash_site(exc)}", f"crash: {type(exc).__name__}"
        )
    return compare_case(case, actual, bound.values)


def _crash_site(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/stateway/" in f.filename] or frames
    where = f" at {ours[-1].filename.split('/stateway/')[-1]}:{ours[-1].lineno}" if ours else ""
    message = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {message}{where}"
