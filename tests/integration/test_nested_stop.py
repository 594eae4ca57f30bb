"""Stopping a parent stops the child it started with `states:startExecution.sync`."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

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
