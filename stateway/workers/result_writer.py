"""A distributed Map's ResultWriter: writes its Map Run's child executions to an object store as AWS exports
them to S3 — `PREFIX/MAP_RUN_ID/manifest.json` and a file of results per status beside it."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from stateway.asl import jsontext
from stateway.asl.child_names import child_execution_arn, child_execution_name, child_state_machine_arn
from stateway.asl.errors import ErrorName
from stateway.asl.events import ChildExecutionChanged, ScheduleTask, TaskFailed, TaskSucceeded
from stateway.asl.timestamps import format_timestamp
from stateway.objects import ObjectStore, ObjectStoreError, s3_cause

# The statuses AWS files results under, in the manifest's order; a child that did not end is PENDING.
STATUSES = ("FAILED", "PENDING", "SUCCEEDED")


@dataclass(frozen=True)
class ChildResult:
    """One child execution of a Map Run, as the shell knows it once the Map Run ends."""

    index: int
    name: str
    execution_arn: str
    state_machine_arn: str
    status: str  # SUCCEEDED | FAILED | ABORTED | RUNNING | PENDING_REDRIVE
    start_ms: int
    stop_ms: int | None
    input: str | None  # JSON text
    output: str | None  # JSON text
    error: str | None = None
    cause: str | None = None
    redrive_count: int = 0


class WriterFailed(Exception):
    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


def write_results(store: ObjectStore | None, command: ScheduleTask,
                  children: Callable[[], Iterable[ChildResult]]) -> TaskSucceeded | TaskFailed:
    """Run a Map's ResultWriter (a `ScheduleTask` of kind WRITE_RESULTS): the `ResultWriterDetails` of the
    manifest it wrote and how many results (`{"Bucket", "Key"}`, `resultsWritten`), or why it could not.
    `children()` gives the Map Run's children in order of index; it is read once per results file, as
    the files are written, so that no Map Run's results are ever held in memory all at once."""
    try:
        details = _write(store, command, children)
    except WriterFailed as failed:
        return TaskFailed(command.task_id, ErrorName.RESULT_WRITER_FAILED.value, failed.cause)
    except ObjectStoreError as refused:
        return TaskFailed(command.task_id, ErrorName.RESULT_WRITER_FAILED.value, s3_cause(refused, str(uuid.uuid4())))
    return TaskSucceeded(command.task_id, details)


def _write(store: ObjectStore | None, command: ScheduleTask,
           children: Callable[[], Iterable[ChildResult]]) -> dict[str, Any]:
    request = command.input if isinstance(command.input, dict) else {}
    parameters: dict[str, Any] = request.get("Parameters") or {}
    config: dict[str, Any] = request.get("WriterConfig") or {}
    map_run_arn = str(request.get("MapRunArn", ""))
    if command.resource_type != "s3" or command.service_resource != "putObject":
        raise WriterFailed(f"The ResultWriter resource '{command.resource}' is not supported: use "
                           "arn:aws:states:::s3:putObject.")
    if store is None:
        raise WriterFailed("No object store is configured to write the ResultWriter's bucket to "
                           "(Engine(object_store=…), or --s3-root DIR).")
    bucket = parameters.get("Bucket")
    if not isinstance(bucket, str) or not bucket:
        raise WriterFailed("The ResultWriter's Bucket must be a non-empty string.")
    prefix = parameters.get("Prefix", "")
    prefix = prefix if isinstance(prefix, str) else ""
    folder = "/".join(filter(None, (prefix.rstrip("/"), map_run_arn.rsplit(":", 1)[-1])))
    transformation = config.get("Transformation", "NONE")
    lines = config.get("OutputType") == "JSONL"
    written = 0
    files: dict[str, list[dict[str, Any]]] = {status: [] for status in STATUSES}
    for status in STATUSES:
        filed = [0]  # the children filed under the status, counted as they are read
        texts = (jsontext.dumps(entry) for child in children() if _filed_under(child, status, filed)
                 for entry in _entries(child, transformation))
        first = next(texts, None)
        if first is not None:
            key = f"{folder}/{status}_0.{'jsonl' if lines else 'json'}"
            info = store.put(bucket, key, _chunks(itertools.chain((first,), texts), lines))
            files[status].append({"Key": key, "Size": info.size})
        written += filed[0]
    manifest_key = f"{folder}/manifest.json"
    manifest = {"DestinationBucket": bucket, "MapRunArn": map_run_arn, "ResultFiles": files}
    store.put(bucket, manifest_key, json.dumps(manifest).encode("utf-8"))
    return {"Bucket": bucket, "Key": manifest_key, "resultsWritten": written}


def _filed_under(child: ChildResult, status: str, filed: list[int]) -> bool:
    """Whether the child goes to the results file of `status` (one that did not end is PENDING); counts it."""
    if (child.status if child.status in ("SUCCEEDED", "FAILED") else "PENDING") != status:
        return False
    filed[0] += 1
    return True


def _chunks(texts: Iterable[str], lines: bool, size: int = 1 << 16) -> Iterator[bytes]:
    """A JSON array (or JSON Lines) of the texts, as UTF-8 chunks of about `size` bytes."""
    parts: list[str] = [] if lines else ["["]
    held = 0
    for n, text in enumerate(texts):
        if lines:
            parts += (text, "\n")
        else:
            parts += ("," if n else "", text)
        held += len(text)
        if held >= size:
            yield "".join(parts).encode("utf-8")
            parts, held = [], 0
    if not lines:
        parts.append("]")
    yield "".join(parts).encode("utf-8")


def _entries(child: ChildResult, transformation: str) -> list[Any]:
    """What the results file holds for one child: its execution's record (NONE, and any child that did not
    succeed), or only its output (COMPACT), an array output's elements one by one (FLATTEN)."""
    if child.status == "SUCCEEDED" and transformation in ("COMPACT", "FLATTEN"):
        output = jsontext.loads(child.output) if child.output is not None else None
        return list(output) if transformation == "FLATTEN" and isinstance(output, list) else [output]
    entry: dict[str, Any] = {"ExecutionArn": child.execution_arn, "Input": child.input or "{}",
                             "InputDetails": {"Included": True}, "Name": child.name}
    if child.status == "SUCCEEDED":
        entry["Output"] = child.output if child.output is not None else "null"
        entry["OutputDetails"] = {"Included": True}
    if child.error is not None:
        entry["Error"] = child.error
    if child.cause is not None:
        entry["Cause"] = child.cause
    entry["RedriveCount"] = child.redrive_count
    entry["StartDate"] = format_timestamp(child.start_ms)
    entry["StateMachineArn"] = child.state_machine_arn
    entry["Status"] = child.status
    if child.stop_ms is not None:
        entry["StopDate"] = format_timestamp(child.stop_ms)
    return [entry]


def child_changed(children: dict[tuple[int, int], dict[str, Any]], change: ChildExecutionChanged) -> None:
    """Keep what a `ChildExecutionChanged` says of a child execution, by (attempt, index): for a runner
    that keeps no rows of them (`LocalRunner`)."""
    child = children.setdefault((change.attempt, change.index), {"start_ms": change.at_ms, "redrive_count": 0,
                                                                  "express": change.express})
    child["status"] = change.status
    if change.status == "RUNNING" and change.redriven:
        child["redrive_count"] += 1
        child["stop_ms"] = child["error"] = child["cause"] = None
    if change.input is not None:
        child["input"] = change.input
    if change.status in ("SUCCEEDED", "FAILED", "ABORTED"):
        child["stop_ms"] = change.at_ms
        child["output"], child["error"], child["cause"] = change.output, change.error, change.cause


def child_results(map_run_arn: str, children: dict[tuple[int, int], dict[str, Any]]) -> list[ChildResult]:
    """The children `child_changed` kept, each index's latest attempt."""
    latest = {index: (attempt, child) for (attempt, index), child in sorted(children.items())}
    machine = child_state_machine_arn(map_run_arn)
    out = []
    for index, (attempt, child) in sorted(latest.items()):
        name = child_execution_name(map_run_arn, index, attempt)
        out.append(ChildResult(index, name, child_execution_arn(map_run_arn, name, child["express"]), machine,
                               child["status"], child["start_ms"], child.get("stop_ms"), child.get("input"),
                               child.get("output"), child.get("error"), child.get("cause"), child["redrive_count"]))
    return out
