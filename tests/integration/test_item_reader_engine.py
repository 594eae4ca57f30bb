"""A distributed Map reads its items from a directory object store on the real engine and SQLite: a CSV of
1,000 rows, a missing object, and a read cut short by a stop of the engine, which the next engine redoes."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from stateway.engine import Engine, map_runs
from stateway.objects.directory import DirectoryObjectStore
from tests.support import rows, task, wait_for

pytestmark = pytest.mark.integration

DISTRIBUTED = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}


def reader_map(reader: dict[str, Any], states: dict[str, Any], start_at: str, **fields: Any) -> dict[str, Any]:
    return {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemReader": reader, "MaxConcurrency": 50,
        "ItemProcessor": {"ProcessorConfig": DISTRIBUTED, "StartAt": start_at, "States": states},
        "End": True, **fields}}}


def score(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    if event["id"] == "500":
        raise ValueError("row 500 is bad")
    return {"id": int(event["id"]), "double": 2 * int(event["amount"])}


CSV_READER = {"Resource": "arn:aws:states:::s3:getObject",
              "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
              "Parameters": {"Bucket.$": "$.bucket", "Key.$": "$.key"}}


def write_csv(root: Path, rows_count: int) -> None:
    (root / "data" / "in").mkdir(parents=True)
    lines = ["id,amount"] + [f"{i},{i % 7}" for i in range(rows_count)]
    (root / "data" / "in" / "rows.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def run_reader_map(tmp_path: Path, definition: dict[str, Any], key: str = "in/rows.csv"
                   ) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """Run one execution of `definition` over `data/KEY` to its end on a real engine: DescribeExecution, its
    history and DescribeMapRun of its Map Run."""
    with Engine(f"sqlite:///{tmp_path / 'e.db'}", functions={"score": score}, object_store=tmp_path / "s3") as engine:
        service = engine.service
        arn = service.start_execution(service.create_state_machine("m", definition), {"bucket": "data", "key": key})
        described = engine.wait(arn, timeout=120)
        history = service.get_execution_history(arn)
        started = next(e for e in history if e["type"] == "MapRunStarted")
        map_run = map_runs.describe_map_run(engine.store, started["mapRunStartedEventDetails"]["mapRunArn"])
    return described, history, map_run


def test_a_map_reads_1000_csv_rows_and_tolerates_the_one_that_fails(tmp_path: Path) -> None:
    write_csv(tmp_path / "s3", 1000)
    definition = reader_map(CSV_READER, {"Score": task("score")}, "Score", ToleratedFailureCount=1)
    described, history, map_run = run_reader_map(tmp_path, definition)
    assert described["status"] == "SUCCEEDED", described
    results = json.loads(described["output"])
    assert len(results) == 1000 and results[500] is None
    assert results[7] == {"id": 7, "double": 0} and results[999] == {"id": 999, "double": 2 * (999 % 7)}
    assert next(e for e in history if e["type"] == "MapStateStarted")["mapStateStartedEventDetails"] == {"length": 0}
    assert (map_run["itemCounts"]["total"], map_run["itemCounts"]["succeeded"], map_run["itemCounts"]["failed"]) \
        == (1000, 999, 1)


def test_a_missing_object_fails_the_map_run_with_s3s_error(tmp_path: Path) -> None:
    (tmp_path / "s3" / "data").mkdir(parents=True)
    definition = reader_map(CSV_READER, {"P": {"Type": "Pass", "End": True}}, "P")
    described, history, _ = run_reader_map(tmp_path, definition, "in/none.csv")
    types = [e["type"] for e in history]
    assert described["status"] == "FAILED" and described["error"] == "States.ItemReaderFailed"
    assert described["cause"].startswith("The specified key does not exist. (Service: S3, Status Code: 404")
    assert types[-4:] == ["MapRunStarted", "MapRunFailed", "MapStateFailed", "ExecutionFailed"]


class HeldStore(DirectoryObjectStore):
    """A directory store whose reads wait until released: a read in flight when its engine stops."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.reading = threading.Event()
        self.release = threading.Event()

    def open(self, bucket: str, key: str) -> BinaryIO:
        self.reading.set()
        self.release.wait(30)
        raise OSError("the engine that asked for this read has stopped")


def test_a_read_not_recorded_when_the_engine_stops_is_redone_by_the_next_engine(tmp_path: Path) -> None:
    write_csv(tmp_path / "s3", 100)
    db = f"sqlite:///{tmp_path / 'e.db'}"
    definition = reader_map(CSV_READER, {"P": {"Type": "Pass", "End": True}}, "P")
    held = HeldStore(tmp_path / "s3")
    engine = Engine(db, object_store=held).start()
    try:
        arn = engine.service.start_execution(engine.service.create_state_machine("m", definition),
                                             {"bucket": "data", "key": "in/rows.csv"})
        assert held.reading.wait(30)
        # The read's task row is stored with the round that asked for it; nothing has answered it.
        assert wait_for(lambda: rows(tmp_path / "e.db", "SELECT count(*) FROM tasks")[0][0] == 1)
    finally:
        engine.stop()
        held.release.set()
    with Engine(db, object_store=tmp_path / "s3") as engine:
        described = engine.wait(arn, timeout=60)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == [{"id": str(i), "amount": str(i % 7)} for i in range(100)]


def test_a_result_writer_writes_the_manifest_and_a_file_per_status(tmp_path: Path) -> None:
    write_csv(tmp_path / "s3", 1000)
    (tmp_path / "s3" / "results").mkdir()
    definition = reader_map(CSV_READER, {"Score": task("score")}, "Score", ToleratedFailureCount=1,
                            ResultWriter={"Resource": "arn:aws:states:::s3:putObject",
                                          "Parameters": {"Bucket": "results", "Prefix": "runs"}})
    described, _, map_run = run_reader_map(tmp_path, definition)
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    run_id = output["MapRunArn"].rsplit(":", 1)[-1]
    assert output["ResultWriterDetails"] == {"Bucket": "results", "Key": f"runs/{run_id}/manifest.json"}
    folder = tmp_path / "s3" / "results" / "runs" / run_id
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["DestinationBucket"] == "results" and manifest["MapRunArn"] == output["MapRunArn"]
    assert manifest["ResultFiles"]["PENDING"] == []
    assert [f["Key"] for f in manifest["ResultFiles"]["SUCCEEDED"]] == [f"runs/{run_id}/SUCCEEDED_0.json"]
    succeeded = json.loads((folder / "SUCCEEDED_0.json").read_text())
    (failed,) = json.loads((folder / "FAILED_0.json").read_text())
    assert manifest["ResultFiles"]["SUCCEEDED"][0]["Size"] == (folder / "SUCCEEDED_0.json").stat().st_size
    assert len(succeeded) == 999 and json.loads(succeeded[0]["Output"]) == {"id": 0, "double": 0}
    assert json.loads(succeeded[0]["Input"]) == {"id": "0", "amount": "0"} and succeeded[0]["Status"] == "SUCCEEDED"
    assert failed["Status"] == "FAILED" and failed["Error"] == "ValueError" and json.loads(failed["Input"])["id"] == "500"
    assert map_run["itemCounts"]["resultsWritten"] == 1000 and map_run["status"] == "SUCCEEDED"


def test_a_result_writer_without_its_bucket_fails_the_map_run(tmp_path: Path) -> None:
    write_csv(tmp_path / "s3", 3)
    definition = reader_map(CSV_READER, {"P": {"Type": "Pass", "End": True}}, "P",
                            ResultWriter={"Resource": "arn:aws:states:::s3:putObject",
                                          "Parameters": {"Bucket": "nowhere", "Prefix": "runs"}})
    described, history, _ = run_reader_map(tmp_path, definition)
    types = [e["type"] for e in history]
    assert described["status"] == "FAILED" and described["error"] == "States.ResultWriterFailed"
    assert described["cause"].startswith("The specified bucket does not exist (Service: S3")
    assert types[-3:] == ["MapRunFailed", "MapStateFailed", "ExecutionFailed"]


class SlowStore(DirectoryObjectStore):
    """A directory store whose objects come a line at a time, each after `gate` allows it (S3 at its own pace)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.reading = threading.Event()
        self.gate = threading.Event()
        self.closed = threading.Event()
        self.left = -1  # lines not read when the reader closed the object

    def open(self, bucket: str, key: str) -> BinaryIO:
        import io

        with super().open(bucket, key) as whole:
            lines = whole.readlines()
        store = self

        class Trickle(io.RawIOBase):
            def readable(self) -> bool:
                return True

            def readinto(self, buffer: Any) -> int:
                store.reading.set()
                store.gate.wait(30)
                if not lines:
                    return 0
                line = lines.pop(0)
                buffer[:len(line)] = line
                return len(line)

            def close(self) -> None:
                if not self.closed:
                    store.left = len(lines)
                    store.closed.set()
                super().close()

        return io.BufferedReader(Trickle())


def test_a_large_read_stores_its_items_as_it_goes_and_stops_when_its_map_no_longer_waits(tmp_path: Path) -> None:
    write_csv(tmp_path / "s3", 10_000)
    db_path = tmp_path / "e.db"
    slow = SlowStore(tmp_path / "s3")
    definition = reader_map(CSV_READER, {"P": {"Type": "Pass", "Parameters": {"i.$": "$.id"}, "End": True}}, "P")
    with Engine(f"sqlite:///{db_path}", object_store=slow) as engine:
        machine = engine.service.create_state_machine("m", definition)
        slow.gate.set()  # a read that runs through: its items reach the store before its answer
        done = engine.service.start_execution(machine, {"bucket": "data", "key": "in/rows.csv"}, name="done")
        described = engine.wait(done, timeout=120)
        assert described["status"] == "SUCCEEDED"
        assert json.loads(described["output"]) == [{"i": str(i)} for i in range(10_000)]
        assert slow.left == 0
        slow.gate.clear()
        slow.reading.clear()
        slow.closed.clear()
        stopped = engine.service.start_execution(machine, {"bucket": "data", "key": "in/rows.csv"}, name="stopped")
        assert slow.reading.wait(30)
        engine.service.stop_execution(stopped)
        slow.gate.set()  # the read goes on, finds its task gone at its first batch, and stops there
        assert slow.closed.wait(30) and slow.left > 0
        assert engine.wait(stopped, timeout=30)["status"] == "ABORTED"
    # The succeeded execution keeps no join data; the stopped one none of the read it stopped.
    assert rows(db_path, "SELECT count(*) FROM join_data WHERE kind = 'items'") == [(0,)]
