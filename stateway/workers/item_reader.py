"""A distributed Map's ItemReader: reads the items of an object (JSON, JSON Lines, CSV) or a bucket listing
from an object store, as JSON text runs — the items are never all parsed into objects at once."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from stateway.asl import jsontext
from stateway.asl.errors import ErrorName
from stateway.asl.events import ItemsRead, ScheduleTask, TaskFailed
from stateway.asl.frames import ITEMS_PER_RUN
from stateway.objects import ObjectStore, ObjectStoreError, s3_cause

# ReaderConfig's CSVDelimiter names, and the characters they stand for.
CSV_DELIMITERS = {"COMMA": ",", "PIPE": "|", "SEMICOLON": ";", "SPACE": " ", "TAB": "\t"}
READ_OBJECT = "getObject"
LIST_OBJECTS = "listObjectsV2"
NOT_ITERABLE = "Attempting to map over non-iterable node."
DUPLICATE_HEADERS = "CSV headers cannot contain duplicates."


class ReaderFailed(Exception):
    """The items cannot be read: the Map Run fails with `error` (States.ItemReaderFailed) and `cause`."""

    def __init__(self, cause: str, error: str = ErrorName.ITEM_READER_FAILED.value) -> None:
        super().__init__(cause)
        self.error = error
        self.cause = cause


# Runs handed to a sink at a time (`collect`): 4,096 items per write.
RUNS_PER_SINK = 64

# Where a reader may put the runs it need not answer with, as it makes them: `sink(runs)`.
Sink = Callable[[dict[int, str]], None]


def read_items(store: ObjectStore | None, command: ScheduleTask, sink: Sink | None = None,
               stored: Any = None) -> ItemsRead | TaskFailed:
    """Run a Map's ItemReader (a `ScheduleTask` of kind READ_ITEMS): its items, or why there are none.
    With a `sink` (and the command's `KeepItems`), every run past the first `KeepItems` items goes to the
    sink as it is read, a batch at a time, and the answer holds only the first ones and `stored`, which
    reads the sink's back: however many items the object holds, only a batch of them is in memory at
    once (a JSON array is read whole first)."""
    request = command.input if isinstance(command.input, dict) else {}
    keep = request.get("KeepItems")
    feed = _Feed(sink, keep) if sink is not None and isinstance(keep, int) else _Feed()
    try:
        size, runs = _read(store, command, feed)
    except ReaderFailed as failed:
        return TaskFailed(command.task_id, failed.error, failed.cause)
    except ObjectStoreError as refused:
        return TaskFailed(command.task_id, ErrorName.ITEM_READER_FAILED.value, s3_cause(refused, str(uuid.uuid4())))
    return ItemsRead(command.task_id, size, runs, str(request.get("JoinId", "")),
                     stored if feed.sink is not None else None)


class _Feed:
    """Where runs of items go as they are made: kept for the answer — all of them, or with a `sink` those
    holding the first `keep` items — or handed to the sink in batches of RUNS_PER_SINK."""

    def __init__(self, sink: Sink | None = None, keep: int = 0) -> None:
        self.sink, self.keep = sink, keep
        self.runs: dict[int, str] = {}
        self.batch: dict[int, str] = {}

    def take(self, first: int, text: str) -> None:
        if self.sink is None or first < self.keep:
            self.runs[first] = text
            return
        self.batch[first] = text
        if len(self.batch) >= RUNS_PER_SINK:
            self.sink(self.batch)
            self.batch = {}

    def kept(self) -> dict[int, str]:
        """The runs kept for the answer, once every run was taken (the last batch is handed on then)."""
        if self.batch and self.sink is not None:
            self.sink(self.batch)
            self.batch = {}
        return self.runs


def _read(store: ObjectStore | None, command: ScheduleTask, feed: _Feed) -> tuple[int, dict[int, str]]:
    request = command.input if isinstance(command.input, dict) else {}
    parameters = request.get("Parameters")
    parameters = parameters if isinstance(parameters, dict) else {}
    config = request.get("ReaderConfig")
    config = config if isinstance(config, dict) else {}
    max_items = config.get("MaxItems") or None
    if command.resource_type != "s3" or command.service_resource not in (READ_OBJECT, LIST_OBJECTS):
        raise ReaderFailed(f"The ItemReader resource '{command.resource}' is not supported: use "
                           f"arn:aws:states:::s3:{READ_OBJECT} or arn:aws:states:::s3:{LIST_OBJECTS}.")
    if store is None:
        raise ReaderFailed("No object store is configured to read the ItemReader's bucket from "
                           "(Engine(object_store=…), or --s3-root DIR).")
    bucket = _text_parameter(parameters, "Bucket")
    if command.service_resource == LIST_OBJECTS:
        prefix = parameters.get("Prefix", "")
        return collect((jsontext.dumps(listed_item(info)) for info in store.list(bucket, str(prefix or ""))),
                       max_items, feed)
    key = _text_parameter(parameters, "Key")
    input_type = config.get("InputType")
    with store.open(bucket, key) as body, io.TextIOWrapper(body, encoding="utf-8-sig", newline="") as stream:
        try:
            if input_type == "JSON":
                return _fed(json_items(stream.read(), max_items), feed)
            if input_type == "JSONL":
                return collect(jsonl_items(stream), max_items, feed)
            if input_type == "CSV":
                return collect(csv_items(stream, config), max_items, feed)
        except UnicodeDecodeError as error:
            raise ReaderFailed(f"The object {key} is not UTF-8 text: {error.reason} at byte {error.start}.") from None
    if input_type in ("PARQUET", "MANIFEST"):
        raise ReaderFailed(f"ReaderConfig InputType {input_type} is not supported by this engine.")
    raise ReaderFailed("ReaderConfig InputType must be one of JSON, JSONL or CSV to read an object with "
                       f"{READ_OBJECT}.")


def _text_parameter(parameters: dict[str, Any], name: str) -> str:
    value = parameters.get(name)
    if not isinstance(value, str) or not value:
        raise ReaderFailed(f"The ItemReader's {name} must be a non-empty string.")
    return value


def listed_item(info: Any) -> dict[str, Any]:
    """One object of a bucket listing as the Map Run's item, as AWS gives it: `LastModified` in epoch
    seconds, `Etag` with its quotes."""
    return {"Etag": info.etag, "Key": info.key, "LastModified": info.last_modified_ms // 1000,
            "Size": info.size, "StorageClass": info.storage_class}


def collect(items: Iterable[str], max_items: int | None = None,
            feed: _Feed | None = None) -> tuple[int, dict[int, str]]:
    """(how many, the items as runs): items given as JSON texts, one at a time; at most `max_items`. With
    a `feed`, the runs it does not keep go to its sink as they are made."""
    feed = feed or _Feed()
    run: list[str] = []
    count = 0
    for text in items:
        if max_items is not None and count >= max_items:
            break
        run.append(text)
        count += 1
        if len(run) == ITEMS_PER_RUN:
            feed.take(count - ITEMS_PER_RUN, "[" + ",".join(run) + "]")
            run = []
    if run:
        feed.take(count - len(run), "[" + ",".join(run) + "]")
    return count, feed.kept()


def _fed(found: tuple[int, dict[int, str]], feed: _Feed) -> tuple[int, dict[int, str]]:
    """Runs made all at once (a JSON array's), given to `feed` as `collect` gives them."""
    size, made = found
    for first in sorted(made):
        feed.take(first, made.pop(first))
    return size, feed.kept()


def json_items(text: str, max_items: int | None = None) -> tuple[int, dict[int, str]]:
    """The items of a JSON array (InputType JSON), found in its text one at a time."""
    compact = jsontext.compact(text)
    found = jsontext.array_runs(compact, (), ITEMS_PER_RUN) if compact is not None else None
    if found is None:  # not an array, or not walkable a part at a time: parsed whole, which says why
        try:
            value = jsontext.loads(text)
        except ValueError as error:
            raise ReaderFailed(f"The object is not valid JSON: {error}") from None
        if not isinstance(value, list):
            raise ReaderFailed(NOT_ITERABLE)
        return collect((jsontext.dumps(item) for item in value), max_items)
    size, runs = found
    if max_items is None or size <= max_items:
        return size, runs
    kept = {first: run for first, run in runs.items() if first + ITEMS_PER_RUN <= max_items}
    last = max_items - max_items % ITEMS_PER_RUN
    if last < max_items:
        kept[last] = jsontext.dumps(jsontext.loads(runs[last])[: max_items - last])
    return max_items, kept


def jsonl_items(lines: Iterable[str]) -> Iterator[str]:
    """The items of JSON Lines text (InputType JSONL): one JSON value a line; blank lines are skipped."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            value = jsontext.loads(line.strip())
        except ValueError as error:
            raise ReaderFailed(f"Line {number} of the object is not valid JSON: {error}") from None
        yield jsontext.dumps(value)


def csv_items(lines: Iterable[str], config: dict[str, Any]) -> Iterator[str]:
    """The rows of CSV text (InputType CSV) as objects of strings keyed by the column headers — the first
    row's (CSVHeaderLocation FIRST_ROW, the default) or CSVHeaders' (GIVEN). A row with fewer fields than
    headers gives "" for the rest; fields beyond the headers are left out; blank lines are skipped."""
    delimiter_name = config.get("CSVDelimiter", "COMMA")
    if delimiter_name not in CSV_DELIMITERS:
        raise ReaderFailed(f"CSVDelimiter must be one of {', '.join(CSV_DELIMITERS)}.")
    rows = csv.reader(_lines(lines), delimiter=CSV_DELIMITERS[delimiter_name], strict=False)
    location = config.get("CSVHeaderLocation", "FIRST_ROW")
    headers: list[str]
    try:
        if location == "GIVEN":
            given = config.get("CSVHeaders")
            if not isinstance(given, list) or not given or not all(isinstance(h, str) for h in given):
                raise ReaderFailed("CSVHeaders must be a non-empty array of strings when CSVHeaderLocation is GIVEN.")
            headers = list(given)
        elif location == "FIRST_ROW":
            headers = next((row for row in rows if row), [])
        else:
            raise ReaderFailed("CSVHeaderLocation must be FIRST_ROW or GIVEN.")
        if len(set(headers)) != len(headers):
            raise ReaderFailed(DUPLICATE_HEADERS)
        width = len(headers)
        for row in rows:
            if not row:
                continue
            values = row[:width] + [""] * (width - len(row))
            yield jsontext.dumps(dict(zip(headers, values, strict=True)))
    except csv.Error as error:
        raise ReaderFailed(f"The object is not valid CSV: {error}") from None


def _lines(lines: Iterable[str]) -> Iterator[str]:
    """Text lines for `csv.reader`, which wants newlines kept as they are (a stream's lines keep theirs)."""
    if isinstance(lines, str):
        yield from io.StringIO(lines, newline="")
        return
    yield from lines
