"""An internal error while advancing one execution does not stop the others."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

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
        with pytest.raises(RuntimeError):  # a start that fails is refused, and nothing is stored
            engine.service.start_execution(arn, {"n": 0}, name="poison-start")
        poison = engine.service.start_execution(arn, {"n": 1}, name="poison")
        healthy = [engine.service.start_execution(arn, {"n": i}) for i in range(5)]
        for execution in healthy:
            assert engine.wait(execution, timeout=10)["status"] == "SUCCEEDED"
        assert engine.service.describe_execution(poison)["status"] == "RUNNING"
        assert poison in engine._quarantined
        listed, _ = engine.service.list_executions(arn)
        assert "poison-start" not in {e["name"] for e in listed}
