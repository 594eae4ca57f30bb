"""An internal error while advancing one execution does not stop the others."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from support import wait_for

from stateway.asl import interpreter
from stateway.engine import Engine

pytestmark = pytest.mark.integration

TASK = "arn:aws:lambda:us-east-1:123456789012:function:echo"


def test_a_failing_execution_is_quarantined_and_the_others_finish(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    real_advance = interpreter.advance

    def advance(machine: Any, snapshot: Any, event: Any, env: Any) -> Any:
        kind, name = type(event).__name__, snapshot.execution.name
        # "poison-start" breaks its first step; "poison" breaks once its task has answered.
        if (name, kind) in (("poison-start", "ExecutionStarted"), ("poison", "TaskSucceeded")):
            raise ZeroDivisionError("a bug in the shell or the core")
        return real_advance(machine, snapshot, event, env)

    monkeypatch.setattr(interpreter, "advance", advance)
    with Engine(f"sqlite:///{tmp_path / 'e.db'}", functions={"echo": lambda e, c: e}) as engine:
        arn = engine.service.create_state_machine("m", {"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": TASK, "End": True}}})
        # The start itself is stored (it is durable before its first step is computed); the
        # execution whose first step breaks stays RUNNING, quarantined, like any other.
        poison_start = engine.service.start_execution(arn, {"n": 0}, name="poison-start")
        poison = engine.service.start_execution(arn, {"n": 1}, name="poison")
        healthy = [engine.service.start_execution(arn, {"n": i}) for i in range(5)]
        for execution in healthy:
            assert engine.wait(execution, timeout=10)["status"] == "SUCCEEDED"
        for quarantined in (poison, poison_start):
            assert engine.service.describe_execution(quarantined)["status"] == "RUNNING"
        health = engine.health()
        assert health["status"] == "degraded" and health["quarantinedExecutions"] == sorted([poison, poison_start])
        # Its history starts as any other's does: a half-made execution would have none.
        assert [e["type"] for e in wait_for(lambda: engine.service.get_execution_history(poison_start))] == \
            ["ExecutionStarted"]


def test_an_execution_quarantined_on_its_first_step_shows_it_started_and_runs_after_a_restart(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_start = interpreter.start
    broken = True

    def start(machine: Any, execution: Any, env: Any) -> Any:
        if broken and execution.name == "poison-start":
            raise ZeroDivisionError("a bug in the core's first step")
        return real_start(machine, execution, env)

    monkeypatch.setattr(interpreter, "start", start)
    db = f"sqlite:///{tmp_path / 'e.db'}"
    definition = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": TASK, "End": True}}}
    for restarts in range(2):  # still broken after the first restart: quarantined again, recorded once
        with Engine(db, functions={"echo": lambda e, c: e}) as engine:
            if restarts == 0:
                arn = engine.service.create_state_machine("m", definition)
                poisoned = engine.service.start_execution(arn, {"n": 0}, name="poison-start")
                healthy = engine.service.start_execution(arn, {"n": 0}, name="healthy")
                assert engine.wait(healthy, timeout=10)["status"] == "SUCCEEDED"
            events = wait_for(partial(_quarantined_history, engine, poisoned))
            described = engine.service.describe_execution(poisoned)
        first = engine.service.get_execution_history(healthy)[0]
        assert [e["type"] for e in events] == ["ExecutionStarted"]
        assert {k: v for k, v in events[0].items() if k != "timestamp"} == \
            {k: v for k, v in first.items() if k != "timestamp"}, "the same event a healthy execution records"
        assert events[0]["timestamp"] >= described["startDate"]
        assert described["status"] == "RUNNING" and described["input"] == '{"n":0}' and "stopDate" not in described
    broken = False
    with Engine(db, functions={"echo": lambda e, c: e}) as engine:
        assert engine.wait(poisoned, timeout=10)["status"] == "SUCCEEDED"
        resumed = engine.service.get_execution_history(poisoned)
        assert not engine.health()["quarantinedExecutions"]
    assert resumed[0] == events[0], "the event recorded at the quarantine stays; it is not recorded again"
    assert [e["id"] for e in resumed] == list(range(1, len(resumed) + 1))
    assert [e["type"] for e in resumed] == [e["type"] for e in engine.service.get_execution_history(healthy)]


def _quarantined_history(engine: Engine, arn: str) -> list[dict[str, Any]]:
    """The execution's history once it is quarantined and its history is stored, else nothing."""
    if arn not in engine.health()["quarantinedExecutions"]:
        return []
    return engine.service.get_execution_history(arn)


def test_times_too_far_away_to_store_neither_stall_the_engine_nor_quarantine(tmp_path: Path) -> None:
    # A due time past what a 64-bit column holds used to fail every commit that carried it, and so
    # every other execution's progress with it.
    with Engine(f"sqlite:///{tmp_path / 'far.db'}", functions={"echo": lambda e, c: e}) as engine:
        waiting = engine.service.create_state_machine("wait", {"StartAt": "W", "States": {
            "W": {"Type": "Wait", "SecondsPath": "$.s", "Next": "T"}, "T": {"Type": "Task", "Resource": TASK,
                                                                          "End": True}}})
        timed = engine.service.create_state_machine("timed", {"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": TASK, "HeartbeatSecondsPath": "$.h", "End": True}}})
        far = engine.service.start_execution(waiting, {"s": 10**18})
        too_far = engine.service.start_execution(waiting, {"s": 10**30})
        bad_heartbeat = engine.service.start_execution(timed, {"h": 10**30})
        assert engine.wait(too_far, timeout=10)["status"] == "FAILED"
        assert engine.wait(bad_heartbeat, timeout=10)["status"] == "FAILED"
        healthy = [engine.service.start_execution(waiting, {"s": 0}) for _ in range(3)]
        for execution in healthy:
            assert engine.wait(execution, timeout=10)["status"] == "SUCCEEDED"
        assert engine.service.describe_execution(far)["status"] == "RUNNING"
        assert not engine._quarantined
        # (beside the execution's own timer for AWS's one-year maximum)
        (due,), = engine.store._writer.execute("SELECT due_ms FROM timers WHERE purpose = 'wait'").fetchall()
        assert due == 253_402_300_799_999, "due at the latest instant a timestamp holds"


def test_a_lone_surrogate_in_a_value_is_stored_as_its_escape(tmp_path: Path) -> None:
    # JSON's "\ud800" parses to a string UTF-8 cannot hold; written as it was, it failed every commit.
    surrogate = "\ud800"
    with Engine(f"sqlite:///{tmp_path / 's.db'}", functions={"odd": lambda e, c: {"got": e["a"] + surrogate}}) as engine:
        arn = engine.service.create_state_machine("m", {"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": TASK.replace("echo", "odd"), "End": True}}})
        odd = engine.service.start_execution(arn, input_text='{"a": "x\\udfff"}')
        literal = engine.service.start_execution(arn, input_text='{"a": "' + surrogate + '"}')
        for execution in (odd, literal):
            done = engine.wait(execution, timeout=10)
            assert done["status"] == "SUCCEEDED", done
        assert json.loads(engine.wait(odd)["output"]) == {"got": "x\udfff" + surrogate}
        assert json.loads(engine.wait(literal)["output"]) == {"got": surrogate + surrogate}
        assert engine.wait(odd)["output"] == '{"got":"x\\udfff\\ud800"}'
        # A Fail state's Error and Cause are stored as they are, in columns of their own, too.
        failing = engine.service.create_state_machine(
            "f", '{"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E\\ud800", "Cause": "C"}}}')
        failed = engine.wait(engine.service.start_execution(failing, {}), timeout=10)
        assert (failed["status"], failed["error"]) == ("FAILED", "E\\ud800")
        assert not engine._quarantined


def test_a_step_that_makes_a_value_the_store_cannot_hold_quarantines_only_its_execution(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The safety net under the escapes and clamps: were one missed, a value UTF-8 cannot encode would
    # fail every commit. Simulated by turning the surrogate escape off.
    from stateway.asl import jsontext

    monkeypatch.setattr(jsontext, "storable", lambda text: text)
    with Engine(f"sqlite:///{tmp_path / 'net.db'}", functions={
            "odd": lambda e, c: {"s": "\ud800"}, "echo": lambda e, c: e}) as engine:
        odd = engine.service.create_state_machine("odd", {"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": TASK.replace("echo", "odd"), "End": True}}})
        fine = engine.service.create_state_machine("fine", {"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": TASK, "End": True}}})
        poisoned = engine.service.start_execution(odd, {})
        healthy = [engine.service.start_execution(fine, {"n": i}) for i in range(5)]
        for execution in healthy:
            assert engine.wait(execution, timeout=10)["status"] == "SUCCEEDED"
        assert poisoned in engine._quarantined
        assert engine.service.describe_execution(poisoned)["status"] == "RUNNING"
