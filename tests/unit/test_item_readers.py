"""ItemReader: parsing JSON, JSON Lines and CSV objects into item runs, MaxItems, the reader's errors, the
directory object store, and how the pure core asks the shell for a Map's items and takes the answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stateway.asl import interpreter, jsontext
from stateway.asl.events import READ_ITEMS, ExecutionInfo, ItemsRead, ScheduleTask, TaskFailed
from stateway.asl.frames import ITEM_WINDOW, ITEMS_PER_RUN
from stateway.asl.parse import parse_machine
from stateway.engine.env import ShellEnv
from stateway.objects import NoSuchBucket, NoSuchKey
from stateway.objects.directory import DirectoryObjectStore
from stateway.workers.item_reader import (
    DUPLICATE_HEADERS,
    NOT_ITERABLE,
    ReaderFailed,
    collect,
    csv_items,
    json_items,
    jsonl_items,
    read_items,
)


def items(found: tuple[int, dict[int, str]]) -> list[Any]:
    """The items of (size, runs), in order; the runs start at multiples of ITEMS_PER_RUN."""
    size, runs = found
    assert all(first % ITEMS_PER_RUN == 0 for first in runs)
    out = [item for first in sorted(runs) for item in json.loads(runs[first])]
    assert len(out) == size
    return out


def test_collect_groups_item_texts_into_runs_and_stops_at_max_items() -> None:
    texts = [jsontext.dumps({"n": i}) for i in range(150)]
    size, runs = collect(texts)
    assert size == 150 and sorted(runs) == [0, 64, 128]
    assert items(collect(texts, 100)) == [{"n": i} for i in range(100)]


def test_a_json_array_is_read_as_its_elements_and_max_items_cuts_it() -> None:
    text = json.dumps([{"i": i, "s": "x" * (i % 3)} for i in range(200)], indent=2)
    assert items(json_items(text)) == json.loads(text)
    assert items(json_items(text, 70)) == json.loads(text)[:70]
    assert items(json_items(text, 64)) == json.loads(text)[:64]
    assert json_items("[]") == (0, {})


def test_json_that_is_not_an_array_or_not_json_fails_the_read() -> None:
    with pytest.raises(ReaderFailed) as failed:
        json_items('{"Hello": "world"}')
    assert failed.value.cause == NOT_ITERABLE and failed.value.error == "States.ItemReaderFailed"
    with pytest.raises(ReaderFailed, match="not valid JSON"):
        json_items("[1, 2")


def test_json_lines_are_one_item_a_line_blank_lines_skipped() -> None:
    assert list(map(json.loads, jsonl_items(['{"a": 1}\n', "\n", "[2, 3]\n", '"x"']))) == [{"a": 1}, [2, 3], "x"]
    with pytest.raises(ReaderFailed, match="Line 2"):
        list(jsonl_items(["1\n", "{nope\n"]))


def test_csv_with_headers_in_the_first_row_pads_short_rows_and_drops_extra_fields() -> None:
    text = "Col1,Col2,Col3\nValue1,Value2,Value3\n,,,\nNull,None,\n   \n\n\"a,b\",\"multi\nline\",x\n"
    rows = [json.loads(t) for t in csv_items(text, {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"})]
    assert rows == [{"Col1": "Value1", "Col2": "Value2", "Col3": "Value3"}, {"Col1": "", "Col2": "", "Col3": ""},
                    {"Col1": "Null", "Col2": "None", "Col3": ""}, {"Col1": "   ", "Col2": "", "Col3": ""},
                    {"Col1": "a,b", "Col2": "multi\nline", "Col3": "x"}]


def test_csv_with_given_headers_and_another_delimiter() -> None:
    config = {"CSVHeaderLocation": "GIVEN", "CSVHeaders": ["a", "b"], "CSVDelimiter": "SEMICOLON"}
    assert [json.loads(t) for t in csv_items("1;2\n3\n", config)] == [{"a": "1", "b": "2"}, {"a": "3", "b": ""}]
    tab = {"CSVDelimiter": "TAB"}
    assert [json.loads(t) for t in csv_items("h\tk\nv\tw\n", tab)] == [{"h": "v", "k": "w"}]


@pytest.mark.parametrize("config, message", [
    ({"CSVHeaderLocation": "GIVEN", "CSVHeaders": ["H1", "H1"]}, DUPLICATE_HEADERS),
    ({"CSVHeaderLocation": "GIVEN"}, "CSVHeaders must be"),
    ({"CSVDelimiter": "COLON"}, "CSVDelimiter must be"),
    ({"CSVHeaderLocation": "LAST_ROW"}, "CSVHeaderLocation must be"),
])
def test_csv_settings_that_cannot_be_read_fail_the_read(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ReaderFailed, match=message):
        list(csv_items("a,b\n1,2\n", config))
    with pytest.raises(ReaderFailed, match=DUPLICATE_HEADERS):
        list(csv_items("x,x\n1,2\n", {}))


def test_the_directory_store_keeps_buckets_as_directories_and_keys_as_paths(tmp_path: Path) -> None:
    store = DirectoryObjectStore(tmp_path)
    with pytest.raises(NoSuchBucket):
        store.put("nope", "k", b"")
    (tmp_path / "b").mkdir()
    info = store.put("b", "in/one.json", b"[1]")
    assert info.key == "in/one.json" and info.size == 3 and info.etag.startswith('"') and info.etag.endswith('"')
    store.put("b", "in/two.json", b"[2, 3]")
    store.put("b", "other.txt", b"x")
    with store.open("b", "in/one.json") as body:
        assert body.read() == b"[1]"
    assert [i.key for i in store.list("b")] == ["in/one.json", "in/two.json", "other.txt"]
    assert [i.key for i in store.list("b", "in/t")] == ["in/two.json"]
    for key in ("missing", "../b/other.txt", "/etc/passwd", "in/"):
        with pytest.raises(NoSuchKey):
            store.open("b", key).close()
    with pytest.raises(NoSuchBucket):
        list(store.list("../b"))


def command(parameters: dict[str, Any], config: dict[str, Any], action: str = "getObject") -> ScheduleTask:
    return ScheduleTask("k1", "root", "Map", f"arn:aws:states:::s3:{action}", READ_ITEMS, "s3", action,
                        {"Parameters": parameters, "ReaderConfig": config}, 0)


def test_reading_answers_with_the_items_or_with_s3s_error(tmp_path: Path) -> None:
    store = DirectoryObjectStore(tmp_path)
    (tmp_path / "b").mkdir()
    store.put("b", "rows.jsonl", b'{"a": 1}\n{"a": 2}\n{"a": 3}\n')
    answer = read_items(store, command({"Bucket": "b", "Key": "rows.jsonl"}, {"InputType": "JSONL", "MaxItems": 2}))
    assert isinstance(answer, ItemsRead) and items((answer.size, answer.runs)) == [{"a": 1}, {"a": 2}]
    missing = read_items(store, command({"Bucket": "b", "Key": "none.json"}, {"InputType": "JSON"}))
    assert isinstance(missing, TaskFailed) and missing.error == "States.ItemReaderFailed"
    assert missing.cause is not None and missing.cause.startswith(
        "The specified key does not exist. (Service: S3, Status Code: 404, Request ID: ")
    no_bucket = read_items(store, command({"Bucket": "x", "Key": "rows.jsonl"}, {"InputType": "JSONL"}))
    assert isinstance(no_bucket, TaskFailed) and no_bucket.cause is not None
    assert no_bucket.cause.startswith("The specified bucket does not exist (Service: S3, Status Code: 404")
    unconfigured = read_items(None, command({"Bucket": "b", "Key": "rows.jsonl"}, {"InputType": "JSONL"}))
    assert isinstance(unconfigured, TaskFailed) and "object store" in str(unconfigured.cause)


READER_MAP = {"StartAt": "M", "States": {"M": {
    "Type": "Map", "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                                  "ReaderConfig": {"InputType": "CSV", "MaxItemsPath": "$.max"},
                                  "Parameters": {"Bucket.$": "$.bucket", "Key": "k.csv"}},
    "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                      "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
    "End": True}}}


def begin(execution_input: dict[str, Any]) -> tuple[Any, interpreter.Step, ShellEnv]:
    machine = parse_machine(READER_MAP)
    env = ShellEnv(1_700_000_000_000)
    info = ExecutionInfo("arn:aws:states:us-east-1:1:execution:m:e", "e", "arn:aws:states:us-east-1:1:stateMachine:m",
                         "m", "role", json.dumps(execution_input), env.now_ms)
    return machine, interpreter.start(machine, info, env), env


def test_the_core_asks_the_shell_for_the_items_and_starts_the_map_run_on_its_answer() -> None:
    machine, step, env = begin({"bucket": "b", "max": 3})
    assert [e["type"] for e in step.events][-2:] == ["MapStateStarted", "MapRunStarted"]
    assert step.events[-2]["mapStateStartedEventDetails"] == {"length": 0}
    (read,) = [c for c in step.commands if isinstance(c, ScheduleTask)]
    assert read.kind == READ_ITEMS and read.service_resource == "getObject"
    # The join the items go to is named with the request: a shell may store them under it as it reads them.
    assert read.input == {"Parameters": {"Bucket": "b", "Key": "k.csv"}, "ReaderConfig": {"InputType": "CSV", "MaxItems": 3},
                          "JoinId": "j2", "KeepItems": ITEM_WINDOW}
    runs = {0: json.dumps([{"n": str(i)} for i in range(3)])}
    done = interpreter.advance(machine, step.snapshot, ItemsRead(read.task_id, 3, runs, "j2"), env)
    assert done.snapshot.status == "SUCCEEDED"
    assert [e["type"] for e in done.events] == ["MapRunSucceeded", "MapStateSucceeded", "MapStateExited",
                                                "ExecutionSucceeded"]
    assert json.loads(done.snapshot.output) == [{"n": "0"}, {"n": "1"}, {"n": "2"}]


def test_a_read_that_fails_fails_the_map_run() -> None:
    machine, step, env = begin({"bucket": "b", "max": 0})  # 0: no limit
    (read,) = [c for c in step.commands if isinstance(c, ScheduleTask)]
    done = interpreter.advance(machine, step.snapshot, TaskFailed(read.task_id, "States.ItemReaderFailed", "gone"), env)
    assert [e["type"] for e in done.events] == ["MapRunFailed", "MapStateFailed", "ExecutionFailed"]
    assert (done.snapshot.error, done.snapshot.cause) == ("States.ItemReaderFailed", "gone")


def test_a_negative_max_items_fails_the_map_run_before_anything_is_read() -> None:
    _, step, _ = begin({"bucket": "b", "max": -1})
    assert not [c for c in step.commands if isinstance(c, ScheduleTask)]
    assert [e["type"] for e in step.events][-3:] == ["MapRunFailed", "MapStateFailed", "ExecutionFailed"]
    assert step.snapshot.cause == "field MaxItems must be positive"


def test_listing_a_bucket_gives_each_objects_metadata_under_the_prefix(tmp_path: Path) -> None:
    store = DirectoryObjectStore(tmp_path)
    (tmp_path / "b").mkdir()
    for key in ("in/2.txt", "in/1.txt", "in/sub/3.txt", "out/x.txt"):
        store.put("b", key, key.encode())
    answer = read_items(store, command({"Bucket": "b", "Prefix": "in/"}, {}, "listObjectsV2"))
    assert isinstance(answer, ItemsRead)
    listed = items((answer.size, answer.runs))
    assert [item["Key"] for item in listed] == ["in/1.txt", "in/2.txt", "in/sub/3.txt"]
    first = listed[0]
    assert set(first) == {"Etag", "Key", "LastModified", "Size", "StorageClass"}
    assert first["Size"] == len(b"in/1.txt") and first["StorageClass"] == "STANDARD"
    assert first["Etag"] == '"' + __import__("hashlib").md5(b"in/1.txt").hexdigest() + '"'
    assert isinstance(first["LastModified"], int) and first["LastModified"] > 1_600_000_000
    limited = read_items(store, command({"Bucket": "b"}, {"MaxItems": 2}, "listObjectsV2"))
    assert isinstance(limited, ItemsRead) and limited.size == 2


def test_a_body_given_as_chunks_is_stored_as_the_same_object(tmp_path: Path) -> None:
    store = DirectoryObjectStore(tmp_path)
    (tmp_path / "b").mkdir()
    whole = store.put("b", "whole", b"[1,2,3]")
    chunked = store.put("b", "chunked", iter([b"[1", b",2,", b"3]"]))
    assert (chunked.size, chunked.etag) == (whole.size, whole.etag)
    with store.open("b", "chunked") as body:
        assert body.read() == b"[1,2,3]"


def test_results_are_written_as_the_children_are_read_once_per_file(tmp_path: Path) -> None:
    from stateway.asl.events import WRITE_RESULTS, TaskSucceeded
    from stateway.workers.result_writer import ChildResult, write_results

    store = DirectoryObjectStore(tmp_path)
    (tmp_path / "out").mkdir()
    reads = []

    def children() -> Any:  # a stream, as the engine reads it from its rows: never a list
        reads.append(1)
        for index in range(3000):
            status = "FAILED" if index % 1000 == 7 else "SUCCEEDED"
            yield ChildResult(index, f"c{index}", f"arn:c{index}", "arn:m", status, 0, 1, json.dumps({"i": index}),
                              json.dumps({"i": index}) if status == "SUCCEEDED" else None,
                              "E" if status == "FAILED" else None)

    for output_type, load in (("JSON", json.loads), ("JSONL", lambda t: [json.loads(x) for x in t.splitlines()])):
        reads.clear()
        done = write_results(store, ScheduleTask(
            "w", "root", "Map", "arn:aws:states:::s3:putObject", WRITE_RESULTS, "s3", "putObject",
            {"Parameters": {"Bucket": "out", "Prefix": output_type}, "MapRunArn": "arn:mapRun:m/label:run",
             "WriterConfig": {"OutputType": output_type, "Transformation": "COMPACT"}}, 0), children)
        assert isinstance(done, TaskSucceeded) and done.output["resultsWritten"] == 3000
        assert len(reads) == 3  # one pass per status file (FAILED, PENDING, SUCCEEDED)
        suffix = "jsonl" if output_type == "JSONL" else "json"
        succeeded = load((tmp_path / "out" / output_type / "run" / f"SUCCEEDED_0.{suffix}").read_text())
        assert succeeded == [{"i": i} for i in range(3000) if i % 1000 != 7]  # in order, across many chunks
        failed = load((tmp_path / "out" / output_type / "run" / f"FAILED_0.{suffix}").read_text())
        assert [entry["Name"] for entry in failed] == ["c7", "c1007", "c2007"]
        assert not (tmp_path / "out" / output_type / "run" / f"PENDING_0.{suffix}").exists()


@pytest.mark.parametrize("input_type", ["JSONL", "JSON", "CSV"])
def test_with_a_sink_only_the_first_items_come_with_the_answer_and_the_rest_go_to_the_sink_in_batches(
        tmp_path: Path, input_type: str) -> None:
    from stateway.workers.item_reader import RUNS_PER_SINK

    (tmp_path / "b").mkdir()
    count = ITEMS_PER_RUN * (RUNS_PER_SINK * 2 + 3) + 5  # two full batches, a part batch, a part run
    values = [{"n": str(i)} for i in range(count)]
    body = {"JSONL": "".join(json.dumps(v) + "\n" for v in values), "JSON": json.dumps(values),
            "CSV": "n\n" + "".join(f"{i}\n" for i in range(count))}[input_type]
    (tmp_path / "b" / "k").write_text(body)
    batches: list[dict[int, str]] = []
    read = ScheduleTask("k1", "root", "Map", "arn:aws:states:::s3:getObject", READ_ITEMS, "s3", "getObject",
                        {"Parameters": {"Bucket": "b", "Key": "k"}, "ReaderConfig": {"InputType": input_type},
                         "JoinId": "j9", "KeepItems": 100}, 0)
    answer = read_items(DirectoryObjectStore(tmp_path), read, batches.append)
    assert isinstance(answer, ItemsRead) and (answer.size, answer.join_id) == (count, "j9")
    assert sorted(answer.runs) == [0, ITEMS_PER_RUN]  # the runs holding the first 100 items
    assert [len(batch) for batch in batches] == [RUNS_PER_SINK, RUNS_PER_SINK, 2]
    stored = {first: run for batch in batches for first, run in batch.items()}
    assert items((count, {**answer.runs, **stored})) == values
    # Without a sink (an in-memory runner) every run comes with the answer.
    whole = read_items(DirectoryObjectStore(tmp_path), read)
    assert isinstance(whole, ItemsRead) and items((whole.size, whole.runs)) == values
