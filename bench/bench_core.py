"""The pure core's ceiling: chain10 transitions/s through `interpreter.start/advance`, no store, no threads.

Run: `.venv/bin/python -m bench.bench_core [--executions N] [--repeat R]` from the repository root.

Each execution is driven the way the engine drives it — ExecutionStarted, then per Task state a
TaskStarted and a TaskSucceeded whose output is a fresh copy of the task's input (what `noop`
returns) — so it records the same 52 history events per execution. Two figures are printed:

* *core*: `advance` alone, the most a single decider thread could ever do;
* *core + encoding*: also the JSON the decider writes per step (the snapshot, every history event's
  details, every task command), that is everything a round does apart from SQLite and the workers.

A "transition" is one state run to completion (10 per execution), the unit of `bench.stateway_bench`.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

from bench.scenarios import CHAIN_LENGTH, chain_definition
from stateway.asl import history, interpreter, snapshot
from stateway.asl.events import ExecutionInfo, ScheduleTask, Step, TaskStarted, TaskSucceeded
from stateway.asl.model import StateMachine
from stateway.asl.parse import parse_machine
from stateway.engine.codec import command_to_json
from stateway.engine.env import ShellEnv

ARN = "arn:aws:states:us-east-1:123456789012:execution:bench:"
MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:bench"
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def _no_encoding(step: Step, stored: bool) -> int:
    """Nothing beyond `advance`; the number of history events of the step."""
    return len(step.events)


def _encode(step: Step, stored: bool) -> int:
    """What the decider encodes for one step before it writes: event details, task rows and, when the
    round ends here (`stored`), the snapshot."""
    if stored:
        snapshot.dumps(step.snapshot, external=lambda join: None)
    for event in step.events:
        body = event.get(history.details_key(event["type"]))
        if body is not None:
            _ENCODER.encode(body)
    for command in step.commands:
        if isinstance(command, ScheduleTask):
            command_to_json(command)
    return len(step.events)


def run_execution(machine: StateMachine, run: int, env: ShellEnv, after: Callable[[Step, bool], int]) -> int:
    """One chain10 execution to its end; returns the number of history events it recorded."""
    text = json.dumps({"run": run})
    info = ExecutionInfo(f"{ARN}{run}", str(run), MACHINE_ARN, "bench", "arn:aws:iam::123456789012:role/bench",
                         text, env.now_ms)
    step = interpreter.start(machine, info, env)
    events = after(step, True)
    while step.commands and isinstance(step.commands[0], ScheduleTask):
        command = step.commands[0]
        step = interpreter.advance(machine, step.snapshot, TaskStarted(command.task_id), env)
        events += after(step, False)  # a worker's start and answer usually share one round
        output = dict(command.input)  # noop returns its own copy of the input, as the worker hands it back
        step = interpreter.advance(machine, step.snapshot, TaskSucceeded(command.task_id, output), env)
        events += after(step, True)
    assert step.snapshot.status == "SUCCEEDED", step.snapshot.status
    return events


def measure(machine: StateMachine, executions: int, after: Callable[[Step, bool], int]) -> dict[str, float]:
    """Transitions/s, history events/s and microseconds per transition over `executions` executions."""
    env = ShellEnv(1_764_000_000_000)
    started = time.perf_counter()
    events = sum(run_execution(machine, run, env, after) for run in range(executions))
    seconds = time.perf_counter() - started
    transitions = executions * CHAIN_LENGTH
    return {"transitions_per_s": transitions / seconds, "history_events_per_s": events / seconds,
            "us_per_transition": seconds / transitions * 1e6}


def main(argv: list[str] | None = None) -> int:
    """Print the best of `--repeat` runs for the core alone and with the decider's encoding."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    machine = parse_machine(json.dumps(chain_definition()))
    measure(machine, 50, _encode)  # warm-up
    for label, after in (("core", _no_encoding), ("core + encoding", _encode)):
        best = max((measure(machine, args.executions, after) for _ in range(args.repeat)),
                   key=lambda figures: figures["transitions_per_s"])
        print(f"{label:16} {best['transitions_per_s']:>10,.0f} transitions/s  "
              f"{best['history_events_per_s']:>10,.0f} history events/s  "
              f"{best['us_per_transition']:6.1f} us/transition")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
