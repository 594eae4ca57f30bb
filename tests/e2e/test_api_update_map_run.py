"""UpdateMapRun over the API, driven with boto3: a running distributed Map's MaxConcurrency and tolerated
failures change while it runs, and bad requests get AWS's errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import test_api_core as core
from support import wait_for
from test_api_core import Server, create, error_of, lambda_arn, wait_done

pytestmark = pytest.mark.e2e

DISTRIBUTED = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}

# Logs "enter" and "exit" of each call to the item's log file, and waits between the two until the
# item's gate file exists (bounded, so that a failed test leaves no call behind): how many calls run at
# once is read from the log, not from timings. An item with "fail" fails at once.
GATED = """
import os, time

def handler(event, context):
    with open(event['log'], 'a') as log:
        log.write('enter\\n')
    if event.get('fail'):
        raise ValueError('item refused')
    deadline = time.monotonic() + 120
    while not os.path.exists(event['gate']) and time.monotonic() < deadline:
        time.sleep(0.02)
    with open(event['log'], 'a') as log:
        log.write('exit\\n')
    return event['n']
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("serve-update-map-run")
    functions = core.write_functions(workdir / "functions")
    (functions / "gated.py").write_text(GATED)
    running = Server(workdir, functions).start()
    yield running
    assert running.stop() == 0, running.log.read_text()


@pytest.fixture(scope="module")
def sfn(server: Server) -> Any:
    return server.client()


def gated_map(name: str, sfn: Any, **fields: Any) -> str:
    return create(sfn, name, {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemProcessor": {"ProcessorConfig": DISTRIBUTED, "StartAt": "Call", "States": {
            "Call": {"Type": "Task", "Resource": lambda_arn("gated"), "End": True}}},
        "End": True, **fields}}})


def items(folder: Path, count: int, failing: tuple[int, ...] = ()) -> list[dict[str, Any]]:
    return [{"n": n, "log": str(folder / "calls.log"), "gate": str(folder / "open"), "fail": n in failing}
            for n in range(count)]


def calls(folder: Path) -> list[str]:
    log = folder / "calls.log"
    return log.read_text().split() if log.exists() else []


def most_at_once(log: list[str]) -> int:
    running = most = 0
    for line in log:
        running += 1 if line == "enter" else -1
        most = max(most, running)
    return most


def map_run_of(sfn: Any, execution: str) -> str:
    runs = wait_for(lambda: sfn.list_map_runs(executionArn=execution)["mapRuns"])
    return str(runs[0]["mapRunArn"])


def test_a_raised_max_concurrency_runs_more_items_at_once(sfn: Any, tmp_path: Path) -> None:
    arn = gated_map("update-concurrency", sfn, MaxConcurrency=1)
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(items(tmp_path, 4)))["executionArn"]
    map_run = map_run_of(sfn, execution)
    wait_for(lambda: calls(tmp_path) == ["enter"])
    assert sfn.describe_map_run(mapRunArn=map_run)["maxConcurrency"] == 1

    assert sfn.update_map_run(mapRunArn=map_run, maxConcurrency=3)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert sfn.describe_map_run(mapRunArn=map_run)["maxConcurrency"] == 3
    # The first item still waits at its gate: three calls have entered together.
    wait_for(lambda: calls(tmp_path) == ["enter"] * 3)
    assert wait_for(lambda: sfn.describe_map_run(mapRunArn=map_run)["itemCounts"]["running"] == 3)

    (tmp_path / "open").touch()
    assert wait_done(sfn, execution, timeout=60)["status"] == "SUCCEEDED"
    assert json.loads(sfn.describe_execution(executionArn=execution)["output"]) == [0, 1, 2, 3]
    log = calls(tmp_path)
    assert log.count("enter") == 4 and most_at_once(log) == 3
    described = sfn.describe_map_run(mapRunArn=map_run)
    assert (described["status"], described["maxConcurrency"]) == ("SUCCEEDED", 3)
    assert described["itemCounts"]["succeeded"] == 4


def test_a_lowered_tolerance_fails_the_map_run(sfn: Any, tmp_path: Path) -> None:
    arn = gated_map("update-tolerance", sfn, MaxConcurrency=1, ToleratedFailureCount=3)
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(items(tmp_path, 4, failing=(0,))))[
        "executionArn"]
    map_run = map_run_of(sfn, execution)
    # Item 0 failed within the tolerance; item 1 waits at its gate.
    wait_for(lambda: calls(tmp_path) == ["enter", "enter"])
    assert wait_for(lambda: sfn.describe_map_run(mapRunArn=map_run)["itemCounts"]["failed"] == 1)

    sfn.update_map_run(mapRunArn=map_run, toleratedFailureCount=0, toleratedFailurePercentage=10.5)
    described = wait_done(sfn, execution, timeout=60)
    assert (described["status"], described["error"]) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    run = sfn.describe_map_run(mapRunArn=map_run)
    assert (run["status"], run["toleratedFailureCount"], run["toleratedFailurePercentage"]) == ("FAILED", 0, 10.5)
    assert run["maxConcurrency"] == 1  # left out of the update: as it was
    (tmp_path / "open").touch()  # let the call that no longer counts return

    # An ended Map Run cannot be updated.
    code, message, status = error_of(sfn.update_map_run, mapRunArn=map_run, maxConcurrency=5)
    assert (code, status) == ("ValidationException", 400) and map_run in message
    assert sfn.describe_map_run(mapRunArn=map_run)["maxConcurrency"] == 1


def test_update_map_run_errors(server: Server, sfn: Any, tmp_path: Path) -> None:
    missing = "arn:aws:states:us-east-1:123456789012:mapRun:nothing/Here:0f0e0d0c-0000-4000-8000-000000000000"
    code, message, status = error_of(sfn.update_map_run, mapRunArn=missing, maxConcurrency=2)
    assert (code, status) == ("ResourceNotFound", 400) and missing in message
    assert error_of(sfn.update_map_run, mapRunArn="arn:aws:states:us-east-1:1:execution:a:b")[0] == "InvalidArn"
    assert error_of(sfn.update_map_run, mapRunArn="not-an-arn", maxConcurrency=1)[0] == "InvalidArn"

    arn = gated_map("update-refused", sfn, MaxConcurrency=1)
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(items(tmp_path, 2)))["executionArn"]
    map_run = map_run_of(sfn, execution)
    raw = server.client(parameter_validation=False)  # what botocore would refuse before sending
    for bad in ({"maxConcurrency": -1}, {"toleratedFailureCount": -1}, {"toleratedFailurePercentage": 100.5},
                {"toleratedFailurePercentage": -0.5}):
        code, message, status = error_of(raw.update_map_run, mapRunArn=map_run, **bad)
        assert (code, status) == ("ValidationException", 400), bad
        assert next(iter(bad)) in message
    code, _, _ = error_of(raw.update_map_run, mapRunArn=map_run, maxConcurrency="many")
    assert code == "SerializationException"
    # Numbers wider than AWS's types (maxConcurrency an Integer, toleratedFailureCount a Long) cannot be read.
    for bad in ({"maxConcurrency": 2**31}, {"maxConcurrency": 10**30}, {"toleratedFailureCount": 2**63}):
        code, message, status = error_of(raw.update_map_run, mapRunArn=map_run, **bad)
        assert (code, status) == ("SerializationException", 400), bad
        assert next(iter(bad)) in message
    # Nothing of it was stored, and the Map Run goes on as it was.
    described = sfn.describe_map_run(mapRunArn=map_run)
    assert (described["status"], described["maxConcurrency"], described["toleratedFailureCount"],
            described["toleratedFailurePercentage"]) == ("RUNNING", 1, 0, 0.0)
    (tmp_path / "open").touch()
    assert wait_done(sfn, execution, timeout=60)["status"] == "SUCCEEDED"
    assert most_at_once(calls(tmp_path)) == 1
