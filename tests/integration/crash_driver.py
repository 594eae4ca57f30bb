"""A process for crash tests to SIGKILL: an Engine on a SQLite file whose task functions log to a side file.

    python crash_driver.py DB SIDE [--mixed N] [--map ITEMS] [--dmap ITEMS] [--reader-dmap ITEMS] [--nested N]
                           [--event N] [--tokens N]
                           [--gated-dmap ITEMS] [--gated-inline ITEMS] [--update-dmap ITEMS] [--deadlines N]
                           [--activities N] [--gate FILE] [--redrive] [--others-answer]
                           [--task-sleep S] [--item-sleep S] [--pause S] [--event-sleep S] [--stall-from TYPE]
    python crash_driver.py DB SIDE --answer [--answer-delay S] [--seed N]

With `--mixed`/`--map`/`--dmap`/`--nested`/`--event`/`--tokens`/`--gated-dmap`/`--gated-inline`/`--update-dmap`/
`--deadlines`/`--activities` it creates the state machines and starts executions (idempotently, by name); without, it only
resumes what the file holds. It runs until no execution is RUNNING and no Event invocation is left to run, then
exits 0. With `--tokens` (and no `--stall-from`) it answers (SendTaskSuccess) every task that waits for its
token, unless `--others-answer` leaves that to another process: with `--answer` the driver runs no engine but a
Service on the same file that answers every token a task row holds, whatever its status, and claims and answers
the tasks of every activity (GetActivityTask, SendTaskSuccess), until the executions have all ended (see
`answer_main`); `--activities` executions, a Parallel of two tasks of one activity, are answered only so.

`--gated-dmap` runs a distributed Map whose children's second task calls `gated`, a function that fails while
the file `--gate` names does not exist; `--gated-inline` an inline Map whose iterations call it too (failing for
two items only) and a Parallel whose second branch calls it; `--update-dmap` a distributed Map, ten at a time and
tolerating no failure, whose children fail for one item in five of the last quarter; `--deadlines` executions
of a machine that times out after a second and of one whose task does (and is caught). `--redrive` redrives
every FAILED execution that was never redriven (RedriveExecution), logging `{"phase": "redrive"}` first.

`--stall-from TYPE` stops the engine's writing as a process that dies does: the first round that records
a history event of that type, and every round after it, is never written (new executions still are). The
driver then never ends by itself; it logs `{"phase": "stalled"}` once, and `{"phase": "returned", "via",
"state"}` whenever the dispatcher's `dispatch` or `_run_function` has returned, so that a test knows all a
task's worker did before it kills the process.
Every call of a task function appends one JSON line to SIDE when it begins and one when it ends:
`{"phase", "pid", "exec", "state", "index", "attempt", "key"}` — the test checks at-least-once runs
and that one (execution, state, index, attempt) never sees two idempotency keys. The function that
`--event` executions invoke with InvocationType Event adds the invocation's `request` id; `gated` adds `gate`,
whether its gate file existed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from stateway.engine import Engine  # noqa: E402
from stateway.engine.errors import ExecutionAlreadyExists  # noqa: E402

FN = "arn:aws:lambda:us-east-1:123456789012:function:"

# What each task passes its function: enough to name (execution, state, index, attempt) independently
# of the idempotency key the engine builds, so the two can be compared.
TASK_PARAMETERS = {"exec.$": "$$.Execution.Id", "state.$": "$$.State.Name", "attempt.$": "$$.State.RetryCount",
                   "index.$": "$.index", "sleep.$": "$.sleep"}
# A distributed Map's child execution passes the parent execution too, which its tasks' keys start with.
CHILD_PARAMETERS = {**TASK_PARAMETERS, "owner.$": "$.owner"}


def _task(function: str, next_state: str | None = None, **extra: Any) -> dict[str, Any]:
    state: dict[str, Any] = {"Type": "Task", "Resource": FN + function, "Parameters": TASK_PARAMETERS,
                             "ResultPath": None, **extra}
    if next_state:
        state["Next"] = next_state
    else:
        state["End"] = True
    return state


def mixed_definition() -> dict[str, Any]:
    """A task that sleeps, a retried failure, a Wait, a small Map of tasks and a last task."""
    return {"StartAt": "Prepare", "States": {
        "Prepare": {"Type": "Pass", "Next": "Work"},
        "Work": _task("work", "Flaky"),
        "Flaky": _task("flaky", "Pause", Retry=[{"ErrorEquals": ["Transient"], "IntervalSeconds": 1,
                                                  "MaxAttempts": 2}]),
        "Pause": {"Type": "Wait", "SecondsPath": "$.pause", "Next": "Fan"},
        "Fan": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 3, "ResultPath": "$.fanned",
                "ItemSelector": {"index.$": "$$.Map.Item.Index", "sleep": 0.05},
                "ItemProcessor": {"StartAt": "Item", "States": {"Item": _task("work")}}, "Next": "Finish"},
        "Finish": _task("work"),
    }}


def map_definition(item_sleep: float) -> dict[str, Any]:
    """One Map over many items, twenty at a time."""
    return {"StartAt": "Fan", "States": {
        "Fan": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 20, "ResultPath": None,
                "ItemSelector": {"index.$": "$$.Map.Item.Index", "sleep": item_sleep},
                "ItemProcessor": {"StartAt": "Item", "States": {"Item": _task("work")}}, "End": True},
    }}


def distributed_map_definition(item_sleep: float) -> dict[str, Any]:
    """One distributed Map (a Map Run of STANDARD child executions), ten at a time, each child two tasks."""
    return {"StartAt": "Fan", "States": {
        "Fan": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 10, "ResultPath": None,
                # In the parent's scope: the execution that owns the tasks' idempotency keys. Inside a
                # child, `$$.Execution.Id` names the child execution.
                "ItemSelector": {"index.$": "$$.Map.Item.Index", "sleep": item_sleep, "owner.$": "$$.Execution.Id"},
                "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                                  "StartAt": "Item", "States": {"Item": _task("work", "Again", Parameters=CHILD_PARAMETERS),
                                                                "Again": _task("work", Parameters=CHILD_PARAMETERS)}},
                "End": True},
    }}


def reader_map_definition(item_sleep: float) -> dict[str, Any]:
    """The distributed Map of `distributed_map_definition`, its items read from the object store's
    `data/items.jsonl` (ItemReader) and its results written under `data/results/` (ResultWriter)."""
    definition = distributed_map_definition(item_sleep)
    fan = definition["States"]["Fan"]
    del fan["ItemsPath"]
    fan["ItemReader"] = {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSONL"},
                         "Parameters": {"Bucket": "data", "Key": "items.jsonl"}}
    fan["ResultWriter"] = {"Resource": "arn:aws:states:::s3:putObject",
                           "Parameters": {"Bucket": "data", "Prefix": "results"}}
    return definition


def write_reader_items(s3: Path, items: int) -> None:
    """The JSONL object `reader_map_definition` reads, written once (a driver started again finds it)."""
    target = s3 / "data" / "items.jsonl"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        partial.write_text("".join(json.dumps({"n": n}) + "\n" for n in range(items)))
        partial.replace(target)


def gated_distributed_map_definition(items: int, item_sleep: float) -> dict[str, Any]:
    """A distributed Map of STANDARD children, `work` then `gated`, ten at a time, that fails only once every
    child has failed (it tolerates all failures but one): each child fails in its second state, and a redrive
    continues each from there."""
    return {"StartAt": "Fan", "States": {
        "Fan": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 10, "ResultPath": None,
                "ToleratedFailureCount": items - 1,
                "ItemSelector": {"index.$": "$$.Map.Item.Index", "sleep": item_sleep},
                "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                                  "StartAt": "Item", "States": {"Item": _task("work", "Again"),
                                                                "Again": _task("gated")}},
                "End": True},
    }}


def gated_inline_map_definition(item_sleep: float) -> dict[str, Any]:
    """An inline Map, four at a time, of `work` then `gated` — which fails, while its gate is closed, for the
    items marked `gated` only (`gated_map_input`): the Map fails at the first of them, with the iterations
    that were running."""
    return {"StartAt": "Fan", "States": {"Fan": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 4, "ResultPath": None, "End": True,
        "ItemSelector": {"index.$": "$$.Map.Item.Index", "sleep": item_sleep, "gated.$": "$$.Map.Item.Value.gated"},
        "ItemProcessor": {"StartAt": "Item", "States": {
            "Item": _task("work", "Again"),
            "Again": _task("gated", Parameters={**TASK_PARAMETERS, "gated.$": "$.gated"})}}}}}


def gated_parallel_definition() -> dict[str, Any]:
    """A Parallel of two branches: `work`, and `work` then `gated`, which fails while its gate is closed."""
    return {"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "ResultPath": None, "End": True, "Branches": [
        {"StartAt": "Solo", "States": {"Solo": _task("work")}},
        {"StartAt": "Item", "States": {"Item": _task("work", "Again"), "Again": _task("gated")}},
    ]}}}


def updatable_map_definition(item_sleep: float) -> dict[str, Any]:
    """A distributed Map of STANDARD children, `work` then `gated` (failing for the items marked `gated`), ten
    at a time and tolerating no failure — until UpdateMapRun changes that."""
    return {"StartAt": "Fan", "States": {
        "Fan": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 10, "ResultPath": None,
                "ItemSelector": {"index.$": "$$.Map.Item.Index", "sleep": item_sleep,
                                 "gated.$": "$$.Map.Item.Value.gated"},
                "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                                  "StartAt": "Item", "States": {
                                      "Item": _task("work", "Again"),
                                      "Again": _task("gated", Parameters={**TASK_PARAMETERS, "gated.$": "$.gated"})}},
                "End": True},
    }}


def gated_map_input(items: int, gated: Any = None) -> dict[str, Any]:
    """Items of which those `gated` names are `gated`: by default two, the middle one and the last."""
    gated = set(gated if gated is not None else (items // 2, items - 1))
    return {"index": -1, "sleep": 0, "items": [{"gated": n in gated} for n in range(items)]}


def update_map_gated(items: int) -> range:
    """The items of `--update-dmap` that fail: one in five of the last quarter."""
    return range(items * 3 // 4, items, 5)


def execution_deadline_definition() -> dict[str, Any]:
    """A task in a machine whose `TimeoutSeconds` is one second: with a slower task, it times out."""
    return {"TimeoutSeconds": 1, "StartAt": "Work", "States": {"Work": _task("work")}}


def task_deadline_definition() -> dict[str, Any]:
    """A task with a `TimeoutSeconds` of one second, whose States.Timeout is caught and followed by a quick task."""
    return {"StartAt": "Work", "States": {
        "Work": _task("work", "After", TimeoutSeconds=1,
                      Catch=[{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.caught", "Next": "Recover"}]),
        "Recover": {"Type": "Pass", "Parameters": {"index.$": "$.index", "sleep": 0}, "Next": "After"},
        "After": _task("work"),
    }}


def activity_definition(activity_arn: str) -> dict[str, Any]:
    """A Parallel of two tasks of one activity, whose workers answer from another process."""
    def branch(name: str) -> dict[str, Any]:
        return {"StartAt": name, "States": {name: {"Type": "Task", "Resource": activity_arn,
                                                   "Parameters": TASK_PARAMETERS, "End": True}}}

    return {"StartAt": "Fan", "States": {"Fan": {"Type": "Parallel", "ResultPath": None, "End": True,
                                                 "Branches": [branch("Ask"), branch("Check")]}}}


def child_definition() -> dict[str, Any]:
    """What a nested execution runs: a task, then a Wait."""
    return {"StartAt": "ChildWork", "States": {
        "ChildWork": _task("work", "ChildPause"),
        "ChildPause": {"Type": "Wait", "SecondsPath": "$.pause", "End": True},
    }}


def parent_definition(child_arn: str) -> dict[str, Any]:
    """Runs the child machine with `startExecution.sync:2`, naming the child after itself."""
    return {"StartAt": "RunChild", "States": {
        "RunChild": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
                     "Parameters": {"StateMachineArn": child_arn, "Input.$": "$",
                                    "Name.$": "States.Format('child-{}', $$.Execution.Name)"},
                     "ResultSelector": {"status.$": "$.Status"}, "ResultPath": "$.child",
                     "Next": "After"},
        "After": _task("work", OutputPath="$.child"),
    }}


def event_definition() -> dict[str, Any]:
    """One `lambda:invoke` with InvocationType Event: Lambda's 202, and the function runs later."""
    return {"StartAt": "Fire", "States": {"Fire": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "ResultPath": "$.invoked",
        "Parameters": {"FunctionName": "notify", "InvocationType": "Event", "Payload": TASK_PARAMETERS},
        "OutputPath": "$.invoked.SdkResponseMetadata", "End": True}}}


def token_definition() -> dict[str, Any]:
    """A Parallel of three `.waitForTaskToken` tasks, answered by the driver: a function that runs and hands
    its token on (its result is the TaskSubmitted), a function invoked with InvocationType Event (the 202 is
    the TaskSubmitted, and the invocation runs later), and a resource with nothing to call."""
    payload = {**TASK_PARAMETERS, "token.$": "$$.Task.Token"}

    def branch(name: str, resource: str, parameters: dict[str, Any]) -> dict[str, Any]:
        return {"StartAt": name, "States": {name: {"Type": "Task", "Resource": resource, "Parameters": parameters,
                                                   "End": True}}}

    return {"StartAt": "Fan", "States": {"Fan": {"Type": "Parallel", "ResultPath": None, "End": True, "Branches": [
        branch("Handed", "arn:aws:states:::lambda:invoke.waitForTaskToken",
               {"FunctionName": "work", "Payload": payload}),
        branch("Queued", "arn:aws:states:::lambda:invoke.waitForTaskToken",
               {"FunctionName": "notify", "InvocationType": "Event", "Payload": payload}),
        branch("Asked", "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
               {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/asks",
                "MessageBody": {"token.$": "$$.Task.Token"}}),
    ]}}}


def mixed_input(i: int, task_sleep: float, pause: int) -> dict[str, Any]:
    return {"index": i, "sleep": task_sleep, "pause": pause, "items": list(range(4))}


def map_input(items: int) -> dict[str, Any]:
    # Items large enough (~30 KB for 1,000) that the Map keeps the input as text and its items as runs.
    return {"index": -1, "sleep": 0, "items": [{"n": n, "sku": f"SKU-{n:06d}"} for n in range(items)]}


class SideLog:
    """Appends whole lines with one write(2) each, so a SIGKILL never leaves half a line."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def write(self, record: dict[str, Any]) -> None:
        os.write(self.fd, (json.dumps(record, separators=(",", ":")) + "\n").encode())


def make_functions(log: SideLog, event_sleep: float = 0, gate: str | None = None) -> dict[str, Any]:
    pid = os.getpid()

    def record(phase: str, event: dict[str, Any], context: Any, **extra: Any) -> None:
        log.write({"phase": phase, "pid": pid, "exec": event["exec"], "state": event["state"],
                   "index": event.get("index"), "attempt": event["attempt"], "key": context.idempotency_key,
                   "owner": event.get("owner", event["exec"]),
                   **extra})

    def work(event: dict[str, Any], context: Any) -> Any:
        record("start", event, context)
        time.sleep(float(event.get("sleep") or 0))
        record("end", event, context)
        return {"ok": True}

    def flaky(event: dict[str, Any], context: Any) -> Any:
        record("start", event, context)
        record("end", event, context)
        if event["attempt"] == 0:
            raise Transient("the first attempt always fails")
        return {"ok": True}

    def gated(event: dict[str, Any], context: Any) -> Any:
        # Whether the gate was open is logged, so that a test tells the runs before a fix from those after.
        open_ = gate is not None and os.path.exists(gate)
        record("start", event, context, gate=open_)
        time.sleep(float(event.get("sleep") or 0))
        record("end", event, context, gate=open_)
        if not open_ and event.get("gated", True):
            raise Closed("the gate file does not exist yet")
        return {"ok": True}

    def notify(event: dict[str, Any], context: Any) -> Any:
        record("start", event, context, request=context.aws_request_id)
        time.sleep(event_sleep)
        record("end", event, context, request=context.aws_request_id)

    return {"work": work, "flaky": flaky, "gated": gated, "notify": notify}


class Transient(Exception):
    """The error `Flaky` raises on its first attempt and retries."""


class Closed(Exception):
    """The error `gated` raises while its gate file does not exist."""


def _start(service: Any, machine_arn: str, input: dict[str, Any], name: str) -> None:
    # ExecutionAlreadyExists: started by an earlier run of this driver, and already finished.
    with contextlib.suppress(ExecutionAlreadyExists):
        service.start_execution(machine_arn, input, name=name)


def stall_writer(engine: Engine, event_type: str, log: SideLog) -> None:
    """Never write the first round that records an `event_type` event, nor any round after it."""
    submit = engine._writer.submit
    stalled = False

    def submit_until_stalled(item: Any, *, urgent: bool = False) -> None:
        nonlocal stalled
        if not urgent and not stalled and any(f'"{event_type}"' in piece[3] for piece in item.work.history):
            stalled = True
            log.write({"phase": "stalled"})
        if urgent or not stalled:
            submit(item, urgent=urgent)

    engine._writer.submit = submit_until_stalled  # type: ignore[method-assign]


def report_returns(engine: Engine, log: SideLog) -> None:
    """Log each return of the dispatcher's `dispatch` and `_run_function`: all a task's worker did is done."""
    def reporting(name: str, call: Any) -> Any:
        def returning(arn: str, command: Any) -> None:
            call(arn, command)
            log.write({"phase": "returned", "via": name, "state": command.state_name})
        return returning

    for name in ("dispatch", "_run_function"):
        setattr(engine.dispatcher, name, reporting(name, getattr(engine.dispatcher, name)))


def answer_waiting(engine: Engine, answered: set[str]) -> None:
    """SendTaskSuccess for every task that waits for its token and has not been answered yet."""
    for (token,) in engine.store.reader.execute(
            "SELECT token FROM tasks WHERE status = 'WAITING' AND token IS NOT NULL").fetchall():
        if token not in answered:
            answered.add(token)
            engine.service.send_task_success(token, '{"answered": true}')


def redrive_failed(engine: Engine, log: SideLog) -> None:
    """RedriveExecution of every FAILED execution never redriven, each logged before it is asked for."""
    for (arn,) in engine.store.reader.execute(
            "SELECT arn FROM executions WHERE status = 'FAILED' AND COALESCE(redrive_count, 0) = 0").fetchall():
        log.write({"phase": "redrive", "exec": arn})
        engine.service.redrive_execution(arn)


def answer_main(db: str, log: SideLog, timeout: float, delay: float, seed: int) -> int:
    """Another process than the engine's answers tokens: SendTaskSuccess through a Service on the file, for
    every token a task row holds (scheduled, running or waiting) and this process has not answered yet, in an
    order shuffled by `seed`, `delay` seconds apart; and, as an activity worker, claims the tasks of every
    activity (GetActivityTask), logging each claim (`claimed`, with what the task names in its input), and
    answers them the same way. Each answer's output names it (`answer`, from the token), and is logged before
    it is sent (`answering`) and after (`answered`, with the result: `accepted`, or the API error's type).
    Ends once executions exist and none is RUNNING."""
    import hashlib
    import random
    import sqlite3

    from stateway.engine.errors import ApiError
    from stateway.engine.service import Service
    from stateway.store.sqlite import open_store

    service = Service(open_store(f"sqlite:///{db}", create=False))
    tried: set[str] = set()
    rng = random.Random(seed)
    deadline = time.monotonic() + timeout

    def answer(token: str) -> None:
        tried.add(token)
        time.sleep(delay)
        answer = hashlib.sha1(token.encode()).hexdigest()[:16]
        log.write({"phase": "answering", "answer": answer})
        try:
            service.send_task_success(token, json.dumps({"answer": answer}))
            result = "accepted"
        except ApiError as exc:
            result = exc.type_name
        log.write({"phase": "answered", "answer": answer, "result": result})

    while time.monotonic() < deadline:
        try:
            tokens = [token for (token,) in service.store.reader.execute(
                "SELECT token FROM tasks WHERE token IS NOT NULL ORDER BY created_ms").fetchall()]
            activities = [arn for (arn,) in service.store.reader.execute("SELECT arn FROM activities").fetchall()]
            running, stored = service.store.reader.execute(
                "SELECT COUNT(*) FILTER (WHERE status = 'RUNNING'), COUNT(*) FROM executions").fetchone()
        except sqlite3.OperationalError:  # busy beyond the timeout: look again
            continue
        if stored and not running:
            return 0
        rng.shuffle(tokens)
        for token in tokens:
            if token not in tried:
                answer(token)
        for activity in activities:
            while (claimed := service.claim_activity_task(activity, f"worker-{os.getpid()}")) is not None:
                task = json.loads(claimed.input)
                log.write({"phase": "claimed", "exec": task["exec"], "state": task["state"],
                           "attempt": task["attempt"], "answer": hashlib.sha1(claimed.token.encode()).hexdigest()[:16]})
                answer(claimed.token)
        time.sleep(0.02)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("db")
    parser.add_argument("side")
    parser.add_argument("--mixed", type=int, default=0, help="start this many executions of the mixed machine")
    parser.add_argument("--map", type=int, default=0, help="start one execution mapping this many items")
    parser.add_argument("--dmap", type=int, default=0, help="start one execution of a distributed Map of this many items")
    parser.add_argument("--reader-dmap", type=int, default=0,
                        help="start one distributed Map reading this many items from the object store")
    parser.add_argument("--nested", type=int, default=0, help="start this many parents of a nested child")
    parser.add_argument("--task-sleep", type=float, default=0.2)
    parser.add_argument("--item-sleep", type=float, default=0.02, help="seconds each big-Map item's task takes")
    parser.add_argument("--pause", type=int, default=1)
    parser.add_argument("--event", type=int, default=0, help="start this many executions that invoke with Event")
    parser.add_argument("--event-sleep", type=float, default=0.0, help="seconds the Event-invoked function takes")
    parser.add_argument("--tokens", type=int, default=0, help="start this many executions of the token machine")
    parser.add_argument("--gated-dmap", type=int, default=0,
                        help="start one execution of a distributed Map of this many items whose 2nd state is gated")
    parser.add_argument("--gated-inline", type=int, default=0,
                        help="start an inline Map of this many items, two of them gated, and a gated Parallel")
    parser.add_argument("--update-dmap", type=int, default=0,
                        help="start a distributed Map of this many items, tolerating no failure, some gated")
    parser.add_argument("--deadlines", type=int, default=0,
                        help="start this many executions that time out after a second, and as many whose task does")
    parser.add_argument("--activities", type=int, default=0,
                        help="start this many executions of two activity tasks, answered by another process")
    parser.add_argument("--gate", help="the file whose existence lets `gated` succeed")
    parser.add_argument("--redrive", action="store_true", help="redrive the FAILED executions never redriven")
    parser.add_argument("--others-answer", action="store_true", help="leave the tokens to another process")
    parser.add_argument("--answer", action="store_true", help="run no engine: answer the tokens of the engine's tasks")
    parser.add_argument("--answer-delay", type=float, default=0.0, help="seconds between two answers")
    parser.add_argument("--seed", type=int, default=0, help="the seed of the answers' order")
    parser.add_argument("--stall-from", help="write no round from the first that records this type of event on")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)

    log = SideLog(args.side)
    if args.answer:
        return answer_main(args.db, log, args.timeout, args.answer_delay, args.seed)
    s3 = Path(args.db).parent / "s3"
    if args.reader_dmap:
        write_reader_items(s3, args.reader_dmap)
    engine = Engine(f"sqlite:///{args.db}", functions=make_functions(log, args.event_sleep, args.gate),
                    workers=24, poll_interval=0.05, object_store=s3)
    if args.stall_from:
        stall_writer(engine, args.stall_from, log)
        report_returns(engine, log)
    engine.start()
    service = engine.service
    # Starting is idempotent by name, so a driver killed while starting can simply be run again.
    if args.mixed:
        sm = service.create_state_machine("mixed", mixed_definition())
        for i in range(args.mixed):
            _start(service, sm, mixed_input(i, args.task_sleep, args.pause), f"mixed-{i}")
    if args.map:
        sm = service.create_state_machine("bigmap", map_definition(args.item_sleep))
        _start(service, sm, map_input(args.map), "bigmap-0")
    if args.dmap:
        sm = service.create_state_machine("dmap", distributed_map_definition(args.item_sleep))
        _start(service, sm, map_input(args.dmap), "dmap-0")
    if args.reader_dmap:
        sm = service.create_state_machine("reader-dmap", reader_map_definition(args.item_sleep))
        _start(service, sm, {}, "reader-dmap-0")
    if args.nested:
        child = service.create_state_machine("child", child_definition())
        sm = service.create_state_machine("parent", parent_definition(child))
        for i in range(args.nested):
            _start(service, sm, mixed_input(i, args.task_sleep, args.pause), f"parent-{i}")
    if args.event:
        sm = service.create_state_machine("event", event_definition())
        for i in range(args.event):
            _start(service, sm, mixed_input(i, args.task_sleep, args.pause), f"event-{i}")
    if args.tokens:
        sm = service.create_state_machine("tokens", token_definition())
        for i in range(args.tokens):
            _start(service, sm, mixed_input(i, args.task_sleep, args.pause), f"tokens-{i}")
    if args.gated_dmap:
        sm = service.create_state_machine("gated", gated_distributed_map_definition(args.gated_dmap, args.item_sleep))
        _start(service, sm, map_input(args.gated_dmap), "gated-0")
    if args.gated_inline:
        sm = service.create_state_machine("gated-map", gated_inline_map_definition(args.item_sleep))
        _start(service, sm, gated_map_input(args.gated_inline), "gated-map-0")
        sm = service.create_state_machine("gated-parallel", gated_parallel_definition())
        _start(service, sm, mixed_input(0, args.task_sleep, args.pause), "gated-parallel-0")
    if args.update_dmap:
        sm = service.create_state_machine("updatable", updatable_map_definition(args.item_sleep))
        _start(service, sm, gated_map_input(args.update_dmap, update_map_gated(args.update_dmap)), "updatable-0")
    if args.deadlines:
        timing_out = service.create_state_machine("exec-deadline", execution_deadline_definition())
        task_timing_out = service.create_state_machine("task-deadline", task_deadline_definition())
        for i in range(args.deadlines):
            _start(service, timing_out, mixed_input(i, args.task_sleep, args.pause), f"exec-deadline-{i}")
            _start(service, task_timing_out, mixed_input(i, args.task_sleep, args.pause), f"task-deadline-{i}")
    if args.activities:
        activity, _ = service.create_activity("crash-activity")
        sm = service.create_state_machine("activities", activity_definition(activity))
        for i in range(args.activities):
            _start(service, sm, mixed_input(i, args.task_sleep, args.pause), f"activities-{i}")
    if args.redrive:
        redrive_failed(engine, log)
    print("started", flush=True)
    answered: set[str] = set()
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if args.tokens and not args.stall_from and not args.others_answer:
            answer_waiting(engine, answered)
        running = engine.store.reader.execute(
            "SELECT (SELECT COUNT(*) FROM executions WHERE status = 'RUNNING') "
            "+ (SELECT COUNT(*) FROM async_invocations)").fetchone()[0]
        if running == 0:
            engine.stop()
            print("all done", flush=True)
            return 0
        time.sleep(0.05)
    print("timed out with executions still running", flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
