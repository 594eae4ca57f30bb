"""docs/interpreter.md stays true: its snippet runs as written, and it lists the core's events and commands."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_args

from stateway.asl.events import Command, CompleteExecution, Event

DOC = Path(__file__).resolve().parents[2] / "docs" / "interpreter.md"


def _text() -> str:
    return DOC.read_text(encoding="utf-8")


def test_the_snippet_runs_an_execution_to_its_end() -> None:
    snippet = re.search(r"```python\n(.*?)```", _text(), re.DOTALL)
    assert snippet is not None
    namespace: dict[str, Any] = {}
    exec(compile(snippet[1], str(DOC), "exec"), namespace)
    step = namespace["step"]
    assert step.snapshot.status == "SUCCEEDED" and step.events[-1]["type"] == "ExecutionSucceeded"
    assert step.commands == [CompleteExecution("SUCCEEDED", '{"charged":true}')]


def test_it_lists_every_event_into_the_core_and_every_command_out() -> None:
    events = re.search(r"^- Events into the core: (.*?)\.$", _text(), re.MULTILINE | re.DOTALL)
    assert events is not None
    assert set(re.findall(r"`(\w+)`", events[1])) == {cls.__name__ for cls in get_args(Event)}
    commands = re.search(r"^step\.commands +# (.*?):", _text(), re.MULTILINE)
    assert commands is not None
    assert commands[1].split(", ") == [cls.__name__ for cls in get_args(Command)]
