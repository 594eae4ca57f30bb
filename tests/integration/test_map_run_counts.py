"""DescribeMapRun's counts of Map Runs that end in the engine step that starts them, or that a failure
around their Map cuts short: recorded exactly, in the commit that ends them, and read back after a restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stateway.engine import Engine, map_runs

pytestmark = pytest.mark.integration

DISTRIBUTED = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
SHOWN = ("total", "pending", "running", "succeeded", "failed", "aborted")


def distributed_map(states: dict[str, Any], start_at: str, **fields: Any) -> dict[str, Any]:
    return {"Type": "Map", "ItemProcessor": {"ProcessorConfig": DISTRIBUTED, "StartAt": start_at, "States": states},
            **fields}


# A child execution (a batch of two items) fails when its batch holds the item 3, else succeeds: a
# Choice and a Fail, so every child ends in the step that starts it.
FAIL_ON_THREE = {
    "Check": {"Type": "Choice", "Choices": [{"Variable": "$.Items[0]", "NumericEquals": 3, "Next": "Boom"}],
              "Default": "Fine"},
    "Boom": {"Type": "Fail", "Error": "Three", "Cause": "the batch holds 3"},
    "Fine": {"Type": "Succeed"}}


def run(tmp_path: Path, definition: dict[str, Any], items: list[Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Run to the end; (status, DescribeMapRun of its one Map Run, the same after a restart)."""
    db = f"sqlite:///{tmp_path / 'e.db'}"
    with Engine(db) as engine:
        arn = engine.service.start_execution(engine.service.create_state_machine("m", definition), items)
        status = engine.wait(arn, timeout=60)["status"]
        (started,) = [e for e in engine.service.get_execution_history(arn) if e["type"] == "MapRunStarted"]
        map_run_arn = started["mapRunStartedEventDetails"]["mapRunArn"]
        described = map_runs.describe_map_run(engine.store, map_run_arn)
    with Engine(db) as engine:
        return status, described, map_runs.describe_map_run(engine.store, map_run_arn)


def counts(described: dict[str, Any], which: str) -> tuple[int, ...]:
    return tuple(described[which][k] for k in SHOWN)


def test_a_batched_map_run_of_pass_only_children_counts_its_executions_apart_from_its_items(tmp_path: Path) -> None:
    definition = {"StartAt": "Each", "States": {"Each": distributed_map(
        {"Echo": {"Type": "Pass", "End": True}}, "Echo", ItemBatcher={"MaxItemsPerBatch": 2},
        ToleratedFailureCount=1, End=True)}}
    status, described, reread = run(tmp_path, definition, [1, 2, 3, 4, 5])
    assert status == "SUCCEEDED" and described["status"] == "SUCCEEDED"
    assert counts(described, "itemCounts") == (5, 0, 0, 5, 0, 0)
    assert counts(described, "executionCounts") == (3, 0, 0, 3, 0, 0)  # [1, 2], [3, 4], [5]
    assert described["toleratedFailureCount"] == 1  # the settings of a Map Run that ended as it started
    assert reread == described


def test_a_batched_map_run_that_fails_as_it_starts_counts_the_failed_batch_and_the_one_it_cut_short(
        tmp_path: Path) -> None:
    definition = {"StartAt": "Each", "States": {"Each": distributed_map(
        FAIL_ON_THREE, "Check", ItemBatcher={"MaxItemsPerBatch": 2}, End=True)}}
    status, described, reread = run(tmp_path, definition, [1, 2, 3, 4, 5])
    assert status == "FAILED" and described["status"] == "FAILED"
    # [1, 2] succeeded, [3, 4] failed, and [5], started in the same step, was aborted with the Map Run.
    assert counts(described, "itemCounts") == (5, 0, 0, 2, 2, 1)
    assert counts(described, "executionCounts") == (3, 0, 0, 1, 1, 1)
    assert reread == described


def test_a_tolerated_failure_in_the_step_that_ends_the_map_run_counts_as_failed(tmp_path: Path) -> None:
    definition = {"StartAt": "Each", "States": {"Each": distributed_map(
        FAIL_ON_THREE, "Check", ItemBatcher={"MaxItemsPerBatch": 2}, ToleratedFailureCount=2, End=True)}}
    status, described, _ = run(tmp_path, definition, [1, 2, 3, 4, 5])
    assert status == "SUCCEEDED" and described["status"] == "SUCCEEDED"
    assert counts(described, "itemCounts") == (5, 0, 0, 3, 2, 0)
    assert counts(described, "executionCounts") == (3, 0, 0, 2, 1, 0)


def test_an_unbatched_map_run_that_fails_as_it_starts_counts_each_item_once(tmp_path: Path) -> None:
    definition = {"StartAt": "Each", "States": {"Each": distributed_map(
        {"Check": {**FAIL_ON_THREE["Check"], "Choices": [{"Variable": "$", "NumericEquals": 3, "Next": "Boom"}]},
         "Boom": FAIL_ON_THREE["Boom"], "Fine": FAIL_ON_THREE["Fine"]}, "Check", End=True)}}
    status, described, _ = run(tmp_path, definition, [1, 2, 3, 4, 5])
    assert status == "FAILED" and described["status"] == "FAILED"
    assert counts(described, "itemCounts") == (5, 0, 0, 2, 1, 2)
    assert counts(described, "executionCounts") == counts(described, "itemCounts")


def test_a_map_run_cut_short_by_a_failing_parallel_branch_is_aborted_though_the_execution_goes_on(
        tmp_path: Path) -> None:
    naps = distributed_map({"Nap": {"Type": "Wait", "Seconds": 3600, "End": True}}, "Nap",
                           ItemBatcher={"MaxItemsPerBatch": 2}, MaxConcurrency=1, End=True)
    definition = {"StartAt": "Both", "States": {
        "Both": {"Type": "Parallel", "Branches": [
            {"StartAt": "Each", "States": {"Each": naps}},
            {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Boom"}}}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Done"}], "End": True},
        "Done": {"Type": "Succeed"}}}
    status, described, reread = run(tmp_path, definition, [1, 2, 3])
    assert status == "SUCCEEDED"
    assert described["status"] == "ABORTED" and "stopDate" in described
    assert counts(described, "itemCounts") == (3, 0, 0, 0, 0, 3)
    assert counts(described, "executionCounts") == (2, 0, 0, 0, 0, 2)
    assert reread == described
