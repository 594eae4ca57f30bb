"""A Map over a large input kept as text: the same run, event for event, as with the input parsed."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from stateway.asl import interpreter, jsontext
from stateway.asl.events import ExecutionInfo
from stateway.asl.frames import ITEMS_PER_RUN, ROOT
from stateway.asl.parse import parse_machine
from stateway.engine.env import ShellEnv
from stateway.testing.local import LocalRunner


def echo(event: Any, context: Any) -> Any:
    return event


def picky(event: Any, context: Any) -> Any:
    if isinstance(event, dict) and event.get("i") == 70:
        raise ValueError("item 70 is refused")
    return event


FUNCTIONS = {"echo": echo, "picky": picky}
REQUEST_ID = re.compile(r"requestId[^,]*,")
ECHO = "arn:aws:lambda:us-east-1:123456789012:function:echo"
PICKY = "arn:aws:lambda:us-east-1:123456789012:function:picky"


def map_state(items_path: str | None = "$.items", resource: str = ECHO, work: str = "Work",
              **fields: Any) -> dict[str, Any]:
    state: dict[str, Any] = {"Type": "Map", "ItemProcessor": {
        "StartAt": work, "States": {work: {"Type": "Task", "Resource": resource, "End": True}}}}
    if items_path is not None:
        state["ItemsPath"] = items_path
    state.update(fields)
    state.setdefault("End", True)
    return state


def machine(*states: dict[str, Any]) -> dict[str, Any]:
    names = [f"S{i}" for i in range(len(states))]
    body = {}
    for name, following, state in zip(names, [*names[1:], None], states, strict=True):
        if "Next" in state:
            state = {k: v for k, v in state.items() if k != "End"}
        elif following is not None and "Catch" not in state:
            state = {k: v for k, v in state.items() if k != "End"} | {"Next": following}
        body[name] = state
    return {"StartAt": names[0], "States": body}


DEFINITIONS = {
    "items": machine(map_state(MaxConcurrency=7)),
    "unlimited": machine(map_state()),
    "result path keeps the input": machine(map_state(ResultPath="$.out", OutputPath="$.out[3]")),
    "map of a map's output": machine(map_state(ResultPath="$", Next="S1"), map_state(None, work="Again")),
    "missing items caught": machine(
        map_state("$.missing", Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "S1"}]),
        {"Type": "Pass", "End": True}),
    "not an array": machine(map_state("$.meta")),
    "failed item caught": machine(
        map_state(resource=PICKY, MaxConcurrency=5,
                  Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "S1"}]),
        {"Type": "Pass", "End": True}),
    "failed item retried then failing": machine(
        map_state(resource=PICKY, Retry=[{"ErrorEquals": ["States.ALL"], "MaxAttempts": 1, "IntervalSeconds": 1}])),
    "tolerated failure": machine(map_state(resource=PICKY, ToleratedFailureCount=1)),
    "item selector of the item": machine(map_state(ItemSelector={"value.$": "$$.Map.Item.Value", "at.$": "$$.Map.Item.Index"})),
    "item selector of the input": machine(map_state(ItemSelector={"value.$": "$$.Map.Item.Value", "meta.$": "$.meta"})),
    "input path": machine(map_state("$.items", InputPath="$.inner")),
}


ITEMS = 2 * ITEMS_PER_RUN + 3  # three runs, the last one short


def document(count: int) -> dict[str, Any]:
    items = [{"i": i, "name": f"é/\u0001 {i}", "price": i / 4, "big": 1e20, "tags": [i, None, True]}
             for i in range(count)]
    return {"meta": {"order": "A-1"}, "items": items, "inner": {"items": items[:3]}, "last": 1.0}


INPUTS = {
    "compact": jsontext.dumps(document(ITEMS)),
    "pretty": json.dumps(document(ITEMS), indent=2, ensure_ascii=True),
    "top-level array": jsontext.dumps(document(ITEMS)["items"]),
}


def run(definition: dict[str, Any], text: str, *, large_from: int, store_snapshots: bool,
        monkeypatch: pytest.MonkeyPatch) -> tuple[Any, ...]:
    monkeypatch.setattr(interpreter, "LARGE_INPUT_CHARS", large_from)
    result = LocalRunner(FUNCTIONS, store_snapshots=store_snapshots).run(definition, input_text=text,
                                                                         name="same")
    events = [{k: v for k, v in e.items() if k != "timestamp"} for e in result.events]
    # A function's failure names a fresh request id each time it runs.
    return tuple(json.loads(REQUEST_ID.sub("requestId", json.dumps(
        [result.status, result.output, result.error, result.cause, events]))))


def assert_same_run(definition: dict[str, Any], text: str, *, store_snapshots: bool,
                    monkeypatch: pytest.MonkeyPatch) -> None:
    as_text = run(definition, text, large_from=0, store_snapshots=store_snapshots, monkeypatch=monkeypatch)
    parsed = run(definition, text, large_from=10**12, store_snapshots=store_snapshots, monkeypatch=monkeypatch)
    assert as_text == parsed
    assert as_text[0] in ("SUCCEEDED", "FAILED")


@pytest.mark.parametrize("text", INPUTS.values(), ids=INPUTS.keys())
@pytest.mark.parametrize("definition", DEFINITIONS.values(), ids=DEFINITIONS.keys())
def test_the_run_is_the_same_as_with_the_input_parsed(definition: dict[str, Any], text: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    assert_same_run(definition, text, store_snapshots=False, monkeypatch=monkeypatch)


@pytest.mark.parametrize("name", ["items", "failed item caught", "map of a map's output"])
def test_the_run_is_the_same_when_every_snapshot_is_stored_and_loaded(name: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    assert_same_run(DEFINITIONS[name], INPUTS["pretty"], store_snapshots=True, monkeypatch=monkeypatch)


def started(definition: dict[str, Any], value: Any, monkeypatch: pytest.MonkeyPatch) -> interpreter.Snapshot:
    monkeypatch.setattr(interpreter, "LARGE_INPUT_CHARS", 0)
    env = ShellEnv(1_700_000_000_000)
    text = json.dumps(value, indent=1)  # not compact: history shows the compact form anyway
    info = ExecutionInfo("arn:aws:states:us-east-1:1:execution:M:x", "x", "arn:aws:states:us-east-1:1:stateMachine:M",
                         "M", "role", text, env.now_ms)
    step = interpreter.start(parse_machine(definition), info, env)
    entered = next(e for e in step.events if e["type"] == "MapStateEntered")
    assert entered["stateEnteredEventDetails"]["input"] == jsontext.dumps(value)
    return step.snapshot


def test_the_items_are_held_as_text_runs_and_parsed_a_run_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    snap = started(machine(map_state(MaxConcurrency=5)), document(ITEMS), monkeypatch)
    join = snap.frames[ROOT].join
    assert join is not None and join.size == ITEMS
    # Five iterations started: the first run was parsed for them, the others are still text.
    assert sorted(join.inputs) == list(range(5, ITEMS_PER_RUN))
    assert sorted(join.texts) == [ITEMS_PER_RUN, 2 * ITEMS_PER_RUN]
    assert json.loads(join.texts[2 * ITEMS_PER_RUN]) == document(ITEMS)["items"][2 * ITEMS_PER_RUN:]
    assert type(snap.frames[ROOT].state_input) is jsontext.RawJson


@pytest.mark.parametrize("fields", [
    {"ItemSelector": {"m.$": "$.meta"}},  # reads the input for every item
    {"MaxConcurrencyPath": "$.last"},
    {"InputPath": "$.inner"},
], ids=["selector reads the input", "a path reads the input", "an input path"])
def test_a_map_that_reads_more_of_its_input_gets_it_parsed(fields: dict[str, Any],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    value = document(ITEMS) | {"last": 3}
    snap = started(machine(map_state(**fields)), value, monkeypatch)
    join = snap.frames[ROOT].join
    assert join is not None and not join.texts
    assert type(snap.frames[ROOT].state_input) is dict
