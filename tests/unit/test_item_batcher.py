"""ItemBatcher: a distributed Map gives each child execution a batch `{"BatchInput": …, "Items": […]}`."""

from __future__ import annotations

from typing import Any

import pytest

from stateway.asl import interpreter, jsontext
from stateway.asl.batches import group
from stateway.asl.errors import FailureError
from stateway.asl.events import (
    ExecutionInfo,
    MapRunEnded,
    RedriveRequested,
    ScheduleTask,
    TaskFailed,
    TaskSucceeded,
)
from stateway.asl.parse import parse_machine
from stateway.engine.env import ShellEnv
from stateway.testing.local import LocalRunner


def batched_map(batcher: dict[str, Any], *, processor: dict[str, Any] | None = None, jsonata: bool = False,
                **fields: Any) -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Map", "ItemBatcher": batcher, "End": True,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          **(processor or {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})},
        **fields}
    if not jsonata:
        state.setdefault("ItemsPath", "$.items")
    definition: dict[str, Any] = {"StartAt": "M", "States": {"M": state}}
    if jsonata:
        definition["QueryLanguage"] = "JSONata"
    return definition


def run(definition: dict[str, Any], data: Any, **kwargs: Any) -> Any:
    return LocalRunner(store_snapshots=True, **kwargs).run(definition, data)


def test_items_are_grouped_with_the_batch_input_and_the_output_is_one_result_per_batch() -> None:
    result = run(batched_map({"MaxItemsPerBatch": 2, "BatchInput": {"batch": "b1"}}), {"items": [1, 2, 3]})
    assert result.status == "SUCCEEDED"
    assert result.output_value == [{"BatchInput": {"batch": "b1"}, "Items": [1, 2]},
                                   {"BatchInput": {"batch": "b1"}, "Items": [3]}]
    types = [e["type"] for e in result.events]
    assert "MapIterationStarted" not in types  # the batches run as the Map Run's child executions
    started = next(e for e in result.events if e["type"] == "MapStateStarted")
    assert started["mapStateStartedEventDetails"] == {"length": 3}  # the items, not the batches


def test_without_batch_input_a_child_gets_only_its_items() -> None:
    result = run(batched_map({"MaxItemsPerBatch": 3}), {"items": list(range(7))})
    assert result.output_value == [{"Items": [0, 1, 2]}, {"Items": [3, 4, 5]}, {"Items": [6]}]


def test_batch_input_is_a_template_on_the_map_input_and_limits_come_from_paths_and_variables() -> None:
    definition = batched_map({"MaxItemsPerBatchPath": "$.size", "MaxInputBytesPerBatchPath": "$bytes",
                              "BatchInput": {"who.$": "$.who", "state.$": "$$.State.Name"}})
    definition["States"] = {"Set": {"Type": "Pass", "Assign": {"bytes": "15000"}, "Next": "M"},
                            **definition["States"]}
    definition["StartAt"] = "Set"
    result = run(definition, {"items": ["a", "b", "c"], "size": "2", "who": "me"})
    shared = {"who": "me", "state": "M"}
    assert result.output_value == [{"BatchInput": shared, "Items": ["a", "b"]},
                                   {"BatchInput": shared, "Items": ["c"]}]


def test_item_selector_applies_to_each_item_before_batching() -> None:
    definition = batched_map({"MaxItemsPerBatch": 2}, ItemSelector={"v.$": "$$.Map.Item.Value",
                                                                     "i.$": "$$.Map.Item.Index", "k.$": "$.k"})
    result = run(definition, {"items": ["x", "y", "z"], "k": 7})
    assert result.output_value == [{"Items": [{"v": "x", "i": 0, "k": 7}, {"v": "y", "i": 1, "k": 7}]},
                                   {"Items": [{"v": "z", "i": 2, "k": 7}]}]


def test_jsonata_limits_and_batch_input_expression() -> None:
    definition = batched_map({"MaxItemsPerBatch": "{% $states.input.size %}",
                              "BatchInput": "{% {'total': $count($states.input.items)} %}"},
                             jsonata=True, Items="{% $states.input.items %}",
                             ItemSelector={"v": "{% $states.context.Map.Item.Value * 10 %}"})
    result = run(definition, {"items": [1, 2, 3], "size": 2})
    assert result.output_value == [{"BatchInput": {"total": 3}, "Items": [{"v": 10}, {"v": 20}]},
                                   {"BatchInput": {"total": 3}, "Items": [{"v": 30}]}]


def test_max_bytes_counts_the_whole_serialized_batch_input() -> None:
    shared = {"s": "é"}  # two UTF-8 bytes
    limit = len(jsontext.dumps({"BatchInput": shared, "Items": ["aaaa", "bbbb"]}).encode())
    result = run(batched_map({"MaxInputBytesPerBatch": limit, "BatchInput": shared}),
                 {"items": ["aaaa", "bbbb", "cccc"]})
    assert [len(batch["Items"]) for batch in result.output_value] == [2, 1]
    # One byte less and the second item no longer fits beside the first.
    result = run(batched_map({"MaxInputBytesPerBatch": limit - 1, "BatchInput": shared}),
                 {"items": ["aaaa", "bbbb", "cccc"]})
    assert [len(batch["Items"]) for batch in result.output_value] == [1, 1, 1]


def test_both_limits_apply_and_without_a_byte_limit_batches_stop_at_the_payload_quota() -> None:
    assert [len(b["Items"]) for b in group(list(range(10)), 4, 262144)] == [4, 4, 2]
    assert [len(b["Items"]) for b in group(["x" * 10] * 6, 5, 40)] == [2, 2, 2]
    big = "x" * 100_000  # three of these make more than 256 KiB
    count = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"n.$": "States.ArrayLength($.Items)"},
                                              "End": True}}}
    result = run(batched_map({"MaxItemsPerBatch": 10}, processor=count), {"items": [big, big, big]})
    assert result.output_value == [{"n": 2}, {"n": 1}]


def test_an_item_larger_than_the_byte_limit_fails_the_map_run() -> None:
    with pytest.raises(FailureError):
        group(["x" * 50], None, 40)
    result = run(batched_map({"MaxInputBytesPerBatch": 30}), {"items": ["short", "x" * 50]})
    assert (result.status, result.error) == ("FAILED", "States.ItemReaderFailed")
    assert [e["type"] for e in result.events][-4:] == ["MapRunStarted", "MapRunFailed", "MapStateFailed",
                                                       "ExecutionFailed"]


def test_a_failing_batch_limit_is_caught_like_any_map_failure() -> None:
    definition = batched_map({"MaxItemsPerBatchPath": "$.size"})
    state = definition["States"]["M"]
    del state["End"]
    state["Next"] = "Caught"
    state["Catch"] = [{"ErrorEquals": ["States.ItemReaderFailed"], "Next": "Caught"}]
    definition["States"]["Caught"] = {"Type": "Pass", "End": True}
    result = run(definition, {"items": [1], "size": 0})
    assert result.status == "SUCCEEDED"
    assert result.output_value == {"Error": "States.ItemReaderFailed", "Cause": "field MaxItemsPerBatch must be positive"}
    result = run(definition, {"items": [1], "size": "two"})
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert result.cause is not None and 'The MaxItemsPerBatchPath field refers to value "two"' in result.cause


def test_tolerated_failures_count_the_items_of_failed_batches() -> None:
    def check(event: Any, context: Any) -> Any:
        if 3 in event["Items"]:
            raise ValueError("bad batch")
        return len(event["Items"])

    fn = "arn:aws:lambda:us-east-1:123456789012:function:check"
    processor = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": fn, "End": True}}}
    items = {"items": [1, 2, 3, 4, 5]}  # batches [1, 2] [3, 4] [5]: two items of five fail
    ok = run(batched_map({"MaxItemsPerBatch": 2}, processor=processor, ToleratedFailureCount=2), items,
             functions={"check": check})
    assert (ok.status, ok.output_value) == ("SUCCEEDED", [2, None, 1])
    too_many = run(batched_map({"MaxItemsPerBatch": 2}, processor=processor, ToleratedFailureCount=1), items,
                   functions={"check": check})
    assert (too_many.status, too_many.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    percent = run(batched_map({"MaxItemsPerBatch": 2}, processor=processor, ToleratedFailurePercentage=30),
                  items, functions={"check": check})
    assert percent.status == "FAILED"  # 40% of the items failed, though only one batch of three did


def test_a_jsonata_limit_that_is_not_a_number_is_an_evaluation_failure() -> None:
    definition = batched_map({"MaxItemsPerBatch": "{% 'many' %}"}, jsonata=True)
    result = run(definition, [1, 2])
    assert (result.status, result.error) == ("FAILED", "States.QueryEvaluationError")
    assert result.cause is not None and "Expected 'integer', but was 'string'" in result.cause
    assert [e["type"] for e in result.events][-5:] == ["MapRunStarted", "EvaluationFailed", "MapRunFailed",
                                                       "MapStateFailed", "ExecutionFailed"]


def test_a_redriven_batched_map_run_reports_the_items_of_the_batches_it_kept() -> None:
    """`MapRunEnded` counts items: after a redrive, those of the batches that succeeded before count too."""
    machine = parse_machine(batched_map({"MaxItemsPerBatch": 2}, processor={"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "End": True}}}))
    info = ExecutionInfo("arn:aws:states:us-east-1:1:execution:M:x", "x", "arn:aws:states:us-east-1:1:stateMachine:M",
                         "M", "role", '{"items": [1, 2, 3, 4, 5]}', 0)
    step = interpreter.start(machine, info, ShellEnv(0))
    first, second, third = (c for c in step.commands if isinstance(c, ScheduleTask))
    outcomes = (TaskSucceeded(first.task_id, 1), TaskSucceeded(third.task_id, 3), TaskFailed(second.task_id, "E", None))
    for event in outcomes:
        step = interpreter.advance(machine, step.snapshot, event, ShellEnv(1))
    assert step.snapshot.status == "FAILED"
    (ended,) = (c for c in step.commands if isinstance(c, MapRunEnded))
    assert (ended.status, ended.items, ended.executions) == ("FAILED", (3, 2), (3, 2, 1))

    step = interpreter.advance(machine, step.snapshot, RedriveRequested(), ShellEnv(2))
    (again,) = (c for c in step.commands if isinstance(c, ScheduleTask))  # only the failed batch runs again
    step = interpreter.advance(machine, step.snapshot, TaskSucceeded(again.task_id, 2), ShellEnv(3))
    assert step.snapshot.status == "SUCCEEDED"
    (ended,) = (c for c in step.commands if isinstance(c, MapRunEnded))
    assert (ended.status, ended.items, ended.executions) == ("SUCCEEDED", (5, 0), (3, 3, 0))
