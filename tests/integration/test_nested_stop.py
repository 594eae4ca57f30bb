"""Stopping a parent, or a timeout of its task, stops the child it started with `states:startExecution.sync`."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from support import task, wait_for

from stateway.engine import Engine

pytestmark = pytest.mark.integration


def test_stopping_the_parent_stops_its_sync_child(tmp_path: Path) -> None:
    with Engine(f"sqlite:///{tmp_path / 'e.db'}") as engine:
        child = engine.service.create_state_machine("child", {"StartAt": "W", "States": {
            "W": {"Type": "Wait", "Seconds": 31_536_000, "End": True}}})
        parent = engine.service.create_state_machine("parent", {"StartAt": "Run", "States": {"Run": {
            "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
            "Parameters": {"StateMachineArn": child, "Input": {}}, "End": True}}})
        execution = engine.service.start_execution(parent, {})
        deadline = time.monotonic() + 10
        while not engine.service.list_executions(child)[0] and time.monotonic() < deadline:
            time.sleep(0.02)
        (started,) = engine.service.list_executions(child)[0]
        assert started["status"] == "RUNNING"
        engine.service.stop_execution(execution, error="Cancelled", cause="the customer cancelled")
        assert engine.wait(execution, timeout=10)["status"] == "ABORTED"
        assert engine.wait(started["executionArn"], timeout=10)["status"] == "ABORTED"


def test_a_finished_sync_child_is_left_alone(tmp_path: Path) -> None:
    with Engine(f"sqlite:///{tmp_path / 'e.db'}") as engine:
        child = engine.service.create_state_machine("child", {"StartAt": "P", "States": {
            "P": {"Type": "Pass", "Result": {"ok": True}, "End": True}}})
        parent = engine.service.create_state_machine("parent", {"StartAt": "Run", "States": {"Run": {
            "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
            "Parameters": {"StateMachineArn": child, "Input": {}}, "End": True}}})
        execution = engine.service.start_execution(parent, {})
        assert engine.wait(execution, timeout=10)["status"] == "SUCCEEDED"
        (finished,) = engine.service.list_executions(child)[0]
        assert finished["status"] == "SUCCEEDED"


WAITING_CHILD = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 31_536_000, "End": True}}}


def _children(engine: Engine, machine: str) -> list[dict[str, object]]:
    return engine.service.list_executions(machine)[0]


@pytest.mark.parametrize("deadline", ["TimeoutSeconds", "HeartbeatSeconds"])
@pytest.mark.parametrize("pattern", ["sync", "sync:2"])
def test_a_sync_task_that_times_out_stops_its_child(tmp_path: Path, pattern: str, deadline: str) -> None:
    with Engine(f"sqlite:///{tmp_path / 'e.db'}") as engine:
        child = engine.service.create_state_machine("child", WAITING_CHILD)
        parent = engine.service.create_state_machine("parent", {"StartAt": "Run", "States": {"Run": {
            "Type": "Task", "Resource": f"arn:aws:states:::states:startExecution.{pattern}", deadline: 1,
            "Parameters": {"StateMachineArn": child}, "End": True}}})
        described = engine.wait(engine.service.start_execution(parent, {}), timeout=10)
        assert (described["status"], described["error"]) == (
            "FAILED", "States.Timeout" if deadline == "TimeoutSeconds" else "States.HeartbeatTimeout")
        (started,) = _children(engine, child)
        assert engine.wait(str(started["executionArn"]), timeout=10)["status"] == "ABORTED"


def test_a_timed_out_wait_for_task_token_start_leaves_its_child_running(tmp_path: Path) -> None:
    with Engine(f"sqlite:///{tmp_path / 'e.db'}") as engine:
        child = engine.service.create_state_machine("child", WAITING_CHILD)
        parent = engine.service.create_state_machine("parent", {"StartAt": "Run", "States": {"Run": {
            "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.waitForTaskToken", "TimeoutSeconds": 1,
            "Parameters": {"StateMachineArn": child, "Input": {"token.$": "$$.Task.Token"}}, "End": True}}})
        described = engine.wait(engine.service.start_execution(parent, {}), timeout=10)
        assert (described["status"], described["error"]) == ("FAILED", "States.Timeout")
        (started,) = _children(engine, child)
        assert started["status"] == "RUNNING"
        # A stop would have been stored with the parent's end.
        assert engine.store.one("pending_inbox", {"limit": 1}) is None


def test_a_child_started_after_its_sync_task_timed_out_is_stopped(tmp_path: Path) -> None:
    """The only worker is busy until the `.sync` task has timed out, so its child starts afterwards."""
    release = threading.Event()

    def busy(event: object, context: object) -> object:
        release.wait(30)
        return {}

    with Engine(f"sqlite:///{tmp_path / 'e.db'}", functions={"busy": busy}, workers=1) as engine:
        child = engine.service.create_state_machine("child", WAITING_CHILD)
        parent = engine.service.create_state_machine("parent", {"StartAt": "Both", "States": {"Both": {
            "Type": "Parallel", "End": True, "Branches": [
                {"StartAt": "Busy", "States": {"Busy": task("busy")}},
                {"StartAt": "Run", "States": {"Run": {
                    "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync", "TimeoutSeconds": 1,
                    "Parameters": {"StateMachineArn": child}, "End": True}}}]}}})
        described = engine.wait(engine.service.start_execution(parent, {}), timeout=10)
        assert (described["status"], described["error"]) == ("FAILED", "States.Timeout")
        assert _children(engine, child) == []
        release.set()
        (started,) = wait_for(lambda: _children(engine, child))
        assert engine.wait(str(started["executionArn"]), timeout=10)["status"] == "ABORTED"


def test_recovery_stops_a_sync_child_whose_task_ended_without_it(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    with Engine(f"sqlite:///{path}") as engine:
        child = engine.service.create_state_machine("child", WAITING_CHILD)
        for pattern in (".sync", ".waitForTaskToken", ""):
            parent = engine.service.create_state_machine(f"parent{pattern.replace('.', '-')}", {
                "StartAt": "Run", "States": {"Run": {
                    "Type": "Task", "Resource": f"arn:aws:states:::states:startExecution{pattern}",
                    "Parameters": {"StateMachineArn": child, "Name": pattern[1:] or "forget"}, "Next": "Hold"},
                    "Hold": {"Type": "Wait", "Seconds": 31_536_000, "End": True}}})
            engine.service.start_execution(parent, {})
        started = wait_for(lambda: len(_children(engine, child)) == 3 and _children(engine, child))
        assert {c["status"] for c in started} == {"RUNNING"}
    # What a crash can leave: the task timed out (its row gone, its stop finding no child yet) while
    # the child was being started, and the process died before the worker that started it stopped it.
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM tasks")
    with Engine(f"sqlite:///{path}") as engine:
        by_name = {c["name"]: str(c["executionArn"]) for c in started}
        assert engine.wait(by_name["sync"], timeout=10)["status"] == "ABORTED"
        # Nothing stops the others: a token task's child or a started one is not the task's to stop.
        for name in ("waitForTaskToken", "forget"):
            assert engine.service.describe_execution(by_name[name])["status"] == "RUNNING"
            with sqlite3.connect(path) as db:
                assert db.execute("SELECT COUNT(*) FROM inbox WHERE execution_arn = ?", (by_name[name],)).fetchone() == (0,)
