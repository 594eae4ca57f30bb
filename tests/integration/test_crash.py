"""Crash safety: SIGKILL an engine process mid-task, mid-Wait and mid-Map, restart it on the same file.

Every execution must end SUCCEEDED exactly once with a gap-free history holding exactly the events
the pure LocalRunner records for the same definition (no transition twice, none lost), and a task
that was running during a kill may be re-run only under its original idempotency key.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import crash_driver
import pytest

from stateway.engine import map_runs
from stateway.store.sqlite import SqliteStore
from stateway.testing.local import LocalRunner

pytestmark = pytest.mark.integration

DRIVER = Path(crash_driver.__file__).resolve()
ROOT = DRIVER.parents[2]


class Run:
    """One engine's life on a shared SQLite file: the driver process, started and (usually) killed."""

    def __init__(self, tmp_path: Path) -> None:
        self.db = tmp_path / "crash.db"
        self.side = tmp_path / "side.log"
        self.logs = tmp_path
        self.spawned = 0

    def spawn(self, *args: str) -> subprocess.Popen[bytes]:
        self.spawned += 1
        out = open(self.logs / f"driver{self.spawned}.log", "wb")  # noqa: SIM115 - the child owns it
        return subprocess.Popen([sys.executable, str(DRIVER), str(self.db), str(self.side), *args],
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.poll() is None, f"the driver ended before the kill: {self.driver_output()}"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert proc.returncode == -signal.SIGKILL

    def kill_unless_ended(self, proc: subprocess.Popen[bytes]) -> bool:
        """SIGKILL a driver that may end by itself at any moment (everything done); whether the kill ended
        it. A driver that exits between the look and the signal ends with its own status, 0."""
        if proc.poll() is not None:
            return False
        os.kill(proc.pid, signal.SIGKILL)  # an exited driver not yet reaped takes the signal harmlessly
        proc.wait(10)
        assert proc.returncode in (0, -signal.SIGKILL), self.driver_output()
        return proc.returncode == -signal.SIGKILL

    def finish(self, *args: str, timeout: float = 60) -> None:
        """Restart on the same file and let every execution run to its end."""
        proc = self.spawn(*args)
        try:
            proc.wait(timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 0, self.driver_output()

    def driver_output(self) -> str:
        return "\n".join(f"--- driver{i} ---\n{(self.logs / f'driver{i}.log').read_text(errors='replace')[-3000:]}"
                         for i in range(1, self.spawned + 1))

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Read the live file through a connection of our own; nothing before the schema exists."""
        if not self.db.exists():
            return []
        try:
            with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5) as db:
                return db.execute(sql, params).fetchall()
        except sqlite3.OperationalError:
            return []  # the schema is not there yet

    def count(self, sql: str, *params: Any) -> int:
        rows = self.query(sql, *params)
        return int(rows[0][0]) if rows else 0

    def side_lines(self) -> list[dict[str, Any]]:
        """The side file's whole lines: one read while a driver writes may end in the middle of a line."""
        if not self.side.exists():
            return []
        return [json.loads(line) for line in self.side.read_text().split("\n")[:-1] if line]

    def wait_until(self, predicate: Callable[[], bool], proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            assert proc.poll() is None, f"the driver ended early: {self.driver_output()}"
            time.sleep(0.01)
        raise AssertionError(f"condition not met in time\n{self.driver_output()}")

    def history(self, arn: str) -> list[dict[str, Any]]:
        rows = self.query("SELECT id, previous_id, type, details FROM history_events WHERE execution_arn = ? "
                          "ORDER BY id", arn)
        return [{"id": i, "previousEventId": p, "type": t, "details": json.loads(d) if d else {}}
                for i, p, t, d in rows]


# ---- the checks every crash test makes ----------------------------------------------------------


def _local_functions() -> dict[str, Any]:
    def work(event: Any, context: Any) -> Any:
        return {"ok": True}

    def flaky(event: Any, context: Any) -> Any:
        if event["attempt"] == 0:
            raise crash_driver.Transient("the first attempt always fails")
        return {"ok": True}

    return {"work": work, "flaky": flaky}


_expected_cache: dict[str, Counter[str]] = {}


def expected_types(definition: dict[str, Any], input: Any) -> Counter[str]:
    """The history the pure core records for this run, by event type (concurrency reorders, never adds)."""
    cache_key = json.dumps([definition, input], sort_keys=True)
    if cache_key not in _expected_cache:
        result = LocalRunner(_local_functions()).run(definition, input)
        assert result.status == "SUCCEEDED"
        _expected_cache[cache_key] = Counter(e["type"] for e in result.events)
    return _expected_cache[cache_key]


def verify(run: Run, expected: dict[str, tuple[dict[str, Any] | None, dict[str, Any]]], *,
           child_tasks: int = 0) -> dict[str, int]:
    """Check every execution, its history, the leftovers and the side file; returns re-run statistics.
    `child_tasks`: the tasks that distributed Maps' child executions schedule (not in their parents' histories)."""
    rows = run.query("SELECT arn, name, status, output FROM executions ORDER BY name")
    assert sorted(r[1] for r in rows) == sorted(expected), rows
    scheduled = child_tasks
    for arn, name, status, _ in rows:
        assert status == "SUCCEEDED", (name, status)
        events = run.history(arn)
        kinds = [e["type"] for e in events]
        assert [e["id"] for e in events] == list(range(1, len(events) + 1)), f"{name}: ids not gap-free"
        assert all(0 <= e["previousEventId"] < e["id"] for e in events)
        assert kinds.count("ExecutionStarted") == 1 and kinds[0] == "ExecutionStarted"
        assert kinds.count("ExecutionSucceeded") == 1 and kinds[-1] == "ExecutionSucceeded"
        definition, input = expected[name]
        counts = Counter(kinds)
        assert definition is None or counts == expected_types(definition, input), (
            f"{name}: history differs from the pure core's: "
            f"extra {counts - expected_types(definition, input)}, missing {expected_types(definition, input) - counts}")
        entered = Counter(e["details"]["name"] for e in events if e["type"].endswith("StateEntered"))
        exited = Counter(e["details"]["name"] for e in events if e["type"].endswith("StateExited"))
        assert entered == exited, f"{name}: StateEntered/StateExited pairs differ"
        if "items" in input and counts["MapStateStarted"] and not counts["MapRunStarted"]:
            done = [e["details"]["index"] for e in events if e["type"] == "MapIterationSucceeded"]
            assert sorted(done) == list(range(len(input["items"]))), f"{name}: Map iterations"
        scheduled += counts["LambdaFunctionScheduled"]
    for table in ("tasks", "timers", "inbox"):
        assert run.count(f"SELECT COUNT(*) FROM {table}") == 0, f"rows left in {table}"

    keys: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    starts: Counter[tuple[Any, ...]] = Counter()
    ended: set[tuple[Any, ...]] = set()
    for line in run.side_lines():
        work_id = (line["exec"], line["state"], line["index"], line["attempt"])
        if line["phase"] == "start":
            keys[work_id].add(line["key"])
            starts[work_id] += 1
            assert line["key"].startswith(line["owner"] + "/")  # the parent, for a Map Run's child execution
            assert line["key"].endswith(f"/{line['state']}/{line['attempt']}")
        else:
            ended.add(work_id)
    different = {work_id: k for work_id, k in keys.items() if len(k) != 1}
    assert not different, f"one (execution, state, index, attempt) ran under different keys: {different}"
    assert len(keys) == scheduled, "every scheduled task ran (at least once), and nothing else did"
    assert ended == set(keys), "every task that ran was, in the end, run to completion"
    return {"tasks": len(keys), "reruns": sum(n - 1 for n in starts.values())}


def mixed_expected(n: int, task_sleep: float, pause: int) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    return {f"mixed-{i}": (crash_driver.mixed_definition(), crash_driver.mixed_input(i, task_sleep, pause))
            for i in range(n)}


def map_expected(items: int, item_sleep: float) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    return {"bigmap-0": (crash_driver.map_definition(item_sleep), crash_driver.map_input(items))}


def nested_expected(n: int, task_sleep: float, pause: int) -> dict[str, tuple[dict[str, Any] | None, dict[str, Any]]]:
    """Parents (which the LocalRunner cannot run: it has no nested executions) and their named children."""
    expected: dict[str, tuple[dict[str, Any] | None, dict[str, Any]]] = {}
    for i in range(n):
        expected[f"parent-{i}"] = (None, crash_driver.mixed_input(i, task_sleep, pause))
        expected[f"child-parent-{i}"] = (crash_driver.child_definition(),
                                         crash_driver.mixed_input(i, task_sleep, pause))
    return expected


def history_count(run: Run, event_type: str, name: str | None = None) -> int:
    sql = "SELECT COUNT(*) FROM history_events WHERE type = ?"
    if name is None:
        return run.count(sql, event_type)
    return run.count(sql + " AND execution_arn LIKE ?", event_type, f"%:{name}")


# ---- the crash tests ----------------------------------------------------------------------------


def test_sigkill_during_a_task_reruns_it_under_the_same_key(tmp_path: Path) -> None:
    run = Run(tmp_path)
    args = ("--mixed", "3", "--task-sleep", "2", "--pause", "1")
    proc = run.spawn(*args)

    def all_working() -> bool:
        return len({line["exec"] for line in run.side_lines() if line["state"] == "Work"}) == 3

    run.wait_until(all_working, proc)
    run.kill(proc)
    assert not [line for line in run.side_lines() if line["phase"] == "end"], "no Work finished before the kill"
    # A Python function starts while the round that scheduled it commits, so a kill can land before
    # its task row is stored; that round is then recomputed and schedules the same task again.
    assert run.count("SELECT COUNT(*) FROM tasks") <= 3
    run.finish(*args)
    stats = verify(run, mixed_expected(3, 2, 1))
    work_starts = Counter(line["key"] for line in run.side_lines()
                          if line["phase"] == "start" and line["state"] == "Work")
    # At-least-once: each interrupted Work ran exactly twice, both times under its one key.
    assert sorted(work_starts.values()) == [2, 2, 2]
    assert stats["reruns"] == 3


def test_sigkill_during_a_wait_keeps_its_due_time(tmp_path: Path) -> None:
    run = Run(tmp_path)
    args = ("--mixed", "2", "--task-sleep", "0", "--pause", "2")
    proc = run.spawn(*args)
    run.wait_until(lambda: history_count(run, "WaitStateEntered") == 2, proc)
    run.kill(proc)
    assert history_count(run, "WaitStateExited") == 0
    assert run.count("SELECT COUNT(*) FROM timers WHERE purpose = 'wait'") == 2
    run.finish(*args)
    stats = verify(run, mixed_expected(2, 0, 2))
    assert stats["reruns"] == 0  # nothing was running: no task ran twice
    for arn, in run.query("SELECT arn FROM executions"):
        stamps = {t: ms for t, ms in run.query(
            "SELECT type, timestamp_ms FROM history_events WHERE execution_arn = ? AND type LIKE 'WaitState%'", arn)}
        # The Wait lasted its 2 seconds across the crash: neither cut short nor restarted from zero.
        assert 2000 <= stamps["WaitStateExited"] - stamps["WaitStateEntered"] < 2000 + 1500


def test_sigkill_twice_during_a_map_of_1000_items(tmp_path: Path) -> None:
    run = Run(tmp_path)
    items, item_sleep = 1000, 0.02
    args = ("--map", str(items), "--item-sleep", str(item_sleep))
    rng = random.Random()
    points = sorted(rng.sample(range(100, 900), 2))
    for point in points:
        proc = run.spawn(*args)
        run.wait_until(lambda point=point: history_count(run, "MapIterationSucceeded") >= point, proc)
        run.kill(proc)
        assert run.count("SELECT COUNT(*) FROM executions WHERE status = 'RUNNING'") == 1
    run.finish(*args)
    stats = verify(run, map_expected(items, item_sleep))
    assert stats["tasks"] == items
    assert history_count(run, "MapIterationSucceeded") == items


def _kill_when_children_finished(run: Run, args: tuple[str, ...], points: list[int]) -> None:
    """Run the driver of a distributed Map (children `Item` then `Again`) and SIGKILL it once each point's
    number of children has finished; its one execution is still running after every kill."""
    def finished() -> int:
        return len({line["index"] for line in run.side_lines() if line["phase"] == "end" and line["state"] == "Again"})

    for point in points:
        proc = run.spawn(*args)
        run.wait_until(lambda point=point: finished() >= point, proc)
        run.kill(proc)
        assert run.count("SELECT COUNT(*) FROM executions WHERE status = 'RUNNING'") == 1


def test_sigkill_twice_during_a_distributed_map_of_300_items(tmp_path: Path) -> None:
    """A Map Run's child executions, ten at a time, two tasks each: every item's tasks run under one key
    each, the Map Run's counts are exact, and the parent's history records the Map Run once."""
    run = Run(tmp_path)
    items, item_sleep = 300, 0.01
    args = ("--dmap", str(items), "--item-sleep", str(item_sleep))
    _kill_when_children_finished(run, args, sorted(random.Random().sample(range(30, 270), 2)))
    run.finish(*args)
    expected = {"dmap-0": (crash_driver.distributed_map_definition(item_sleep), crash_driver.map_input(items))}
    stats = verify(run, expected, child_tasks=2 * items)
    assert stats["tasks"] == 2 * items
    assert history_count(run, "MapRunStarted") == 1 and history_count(run, "MapRunSucceeded") == 1
    ((map_run_arn,),) = run.query("SELECT arn FROM map_runs")
    described = map_runs.describe_map_run(SqliteStore(run.db, create=False), map_run_arn)
    assert described["status"] == "SUCCEEDED"
    for which in ("itemCounts", "executionCounts"):
        assert {k: described[which][k] for k in ("total", "succeeded", "failed", "aborted", "running", "pending")} \
            == {"total": items, "succeeded": items, "failed": 0, "aborted": 0, "running": 0, "pending": 0}, which


def test_sigkill_twice_during_a_distributed_map_that_reads_its_items_and_writes_its_results(tmp_path: Path) -> None:
    """A Map Run whose items come from the object store (ItemReader) and whose results go to it (ResultWriter):
    after the kills every item ran once per task key, and the results file holds each item once."""
    run = Run(tmp_path)
    items, item_sleep = 300, 0.01
    args = ("--reader-dmap", str(items), "--item-sleep", str(item_sleep))
    _kill_when_children_finished(run, args, sorted(random.Random().sample(range(1, 270), 2)))
    run.finish(*args)
    stats = verify(run, {"reader-dmap-0": (None, {})}, child_tasks=2 * items)
    assert stats["tasks"] == 2 * items
    ((map_run_arn,),) = run.query("SELECT arn FROM map_runs")
    described = map_runs.describe_map_run(SqliteStore(run.db, create=False), map_run_arn)
    assert described["status"] == "SUCCEEDED"
    assert {k: described["itemCounts"][k] for k in ("total", "succeeded", "failed", "resultsWritten")} \
        == {"total": items, "succeeded": items, "failed": 0, "resultsWritten": items}
    folder = tmp_path / "s3" / "data" / "results" / map_run_arn.rsplit(":", 1)[1]
    written = json.loads((folder / "SUCCEEDED_0.json").read_text())
    assert sorted(json.loads(entry["Input"])["index"] for entry in written) == list(range(items))
    assert json.loads((folder / "manifest.json").read_text())["ResultFiles"]["SUCCEEDED"][0]["Key"].endswith(
        "SUCCEEDED_0.json")


def test_sigkill_at_random_points(tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    run = Run(tmp_path)
    args = ("--mixed", "4", "--map", "150", "--task-sleep", "0.3", "--item-sleep", "0.01", "--pause", "1")
    for _ in range(4):
        proc = run.spawn(*args)
        time.sleep(rng.uniform(0.2, 1.2))
        if not run.kill_unless_ended(proc):
            break  # everything finished before this kill point
    run.finish(*args)
    try:
        verify(run, {**mixed_expected(4, 0.3, 1), **map_expected(150, 0.01)})
    except AssertionError as exc:
        raise AssertionError(f"seed {seed}: {exc}") from exc


def test_sigkill_while_nested_children_run(tmp_path: Path) -> None:
    run = Run(tmp_path)
    args = ("--nested", "2", "--task-sleep", "0.2", "--pause", "2")
    proc = run.spawn(*args)
    run.wait_until(lambda: history_count(run, "WaitStateEntered") == 2, proc)
    run.kill(proc)
    assert run.count("SELECT COUNT(*) FROM tasks WHERE status = 'WAITING'") == 2  # the parents' .sync tasks
    run.finish(*args)
    verify(run, nested_expected(2, 0.2, 2))
    for i in range(2):
        parent = run.query("SELECT arn, output FROM executions WHERE name = ?", f"parent-{i}")[0]
        kinds = [e["type"] for e in run.history(parent[0])]
        assert kinds.count("TaskSubmitted") == 1 and kinds.count("TaskSucceeded") == 1
        assert json.loads(parent[1])["status"] == "SUCCEEDED"


def test_a_stop_queued_while_the_engine_is_down_is_applied_before_tasks_are_rerun(tmp_path: Path) -> None:
    """SIGKILL while a task runs, StopExecution through a Service on the file alone, restart: the
    execution ends ABORTED and its task function is not called again."""
    from stateway.engine.service import Service
    from stateway.store.sqlite import open_store

    run = Run(tmp_path)
    args = ("--mixed", "1", "--task-sleep", "30", "--pause", "1")
    proc = run.spawn(*args)
    run.wait_until(lambda: any(line["state"] == "Work" for line in run.side_lines()), proc)
    run.kill(proc)
    arn = run.query("SELECT arn FROM executions WHERE name = 'mixed-0'")[0][0]
    Service(open_store(f"sqlite:///{run.db}")).stop_execution(arn, error="Halt", cause="while down")
    run.finish()
    aborted = run.query("SELECT timestamp_ms FROM history_events WHERE type = 'ExecutionAborted'")
    assert run.query("SELECT status, error, stop_ms FROM executions") == [("ABORTED", "Halt", aborted[0][0])]
    kinds = [e["type"] for e in run.history(arn)]
    assert kinds[-1] == "ExecutionAborted" and kinds.count("ExecutionAborted") == 1
    assert [line["state"] for line in run.side_lines() if line["phase"] == "start"] == ["Work"], \
        "the stopped execution's task ran again after the restart"
    for table in ("tasks", "timers", "inbox"):
        assert run.count(f"SELECT COUNT(*) FROM {table}") == 0, f"rows left in {table}"


def test_an_event_invocation_stored_before_a_sigkill_runs_after_the_restart(tmp_path: Path) -> None:
    """lambda:invoke with InvocationType Event: the 202 and the queued invocation are one commit; the
    function, still running when the process is killed, runs again after the restart under the same
    request id and idempotency key, and its row is deleted once it has run."""
    run = Run(tmp_path)
    args = ("--event", "2", "--task-sleep", "0")
    proc = run.spawn(*args, "--event-sleep", "30")
    run.wait_until(lambda: len([line for line in run.side_lines() if line["phase"] == "start"]) == 2, proc)
    # Both executions ended with the 202 before their functions ran; their invocations are stored.
    assert run.query("SELECT status FROM executions") == [("SUCCEEDED",), ("SUCCEEDED",)]
    stored = {request for request, in run.query("SELECT request_id FROM async_invocations")}
    run.kill(proc)
    assert not [line for line in run.side_lines() if line["phase"] == "end"]
    run.finish(*args)
    assert run.count("SELECT COUNT(*) FROM async_invocations") == 0
    lines = run.side_lines()
    assert {line["request"] for line in lines} == stored and len(stored) == 2
    for request in stored:
        mine = [line for line in lines if line["request"] == request]
        assert [line["phase"] for line in mine] == ["start", "start", "end"], "once before the kill, once after"
        assert len({line["key"] for line in mine}) == 1 and len({line["pid"] for line in mine}) == 2
    for arn, output in run.query("SELECT arn, output FROM executions"):
        kinds = [e["type"] for e in run.history(arn)]
        assert kinds.count("TaskSucceeded") == 1 and kinds[-1] == "ExecutionSucceeded"
        assert json.loads(output)["RequestId"] in stored, "the 202 names the request the function ran as"


def test_a_token_task_is_waiting_only_once_its_round_is_stored(tmp_path: Path) -> None:
    """Three `.waitForTaskToken` tasks whose workers have all returned (a function that ran, an Event
    invocation answered 202, a resource with nothing to call) while the rounds that record them are never
    written: none of them is WAITING, so after a SIGKILL and a restart each runs again — the function under
    its one idempotency key — and the execution records each TaskStarted and TaskSubmitted once, with one
    Event invocation, run once under the request id of the recorded 202."""
    run = Run(tmp_path)
    args = ("--tokens", "1", "--task-sleep", "0")
    proc = run.spawn(*args, "--stall-from", "TaskStarted")

    def all_returned() -> bool:
        returned = {(line["via"], line["state"]) for line in run.side_lines() if line["phase"] == "returned"}
        stalled = any(line["phase"] == "stalled" for line in run.side_lines())
        return stalled and {("_run_function", "Handed"), ("_run_function", "Queued"), ("dispatch", "Asked")} <= returned

    run.wait_until(all_returned, proc)
    statuses = run.query("SELECT status FROM tasks")
    run.kill(proc)
    assert len(statuses) == 3 and not {status for status, in statuses} - {"SCHEDULED", "RUNNING"}, statuses
    assert history_count(run, "TaskSubmitted") == 0 and run.count("SELECT COUNT(*) FROM async_invocations") == 0
    run.finish(*args)

    [(arn, status)] = run.query("SELECT arn, status FROM executions")
    assert status == "SUCCEEDED"
    events = run.history(arn)
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    kinds = Counter(e["type"] for e in events)
    assert (kinds["TaskStarted"], kinds["TaskSubmitted"], kinds["TaskSucceeded"]) == (3, 2, 3), kinds
    for table in ("tasks", "timers", "inbox", "async_invocations"):
        assert run.count(f"SELECT COUNT(*) FROM {table}") == 0, f"rows left in {table}"
    lines = [line for line in run.side_lines() if line["phase"] in ("start", "end")]
    handed = [line for line in lines if line["state"] == "Handed"]
    assert [line["phase"] for line in handed] == ["start", "end", "start", "end"], "once before the kill, once after"
    assert len({line["key"] for line in handed}) == 1 and len({line["pid"] for line in handed}) == 2
    queued = [line for line in lines if line["state"] == "Queued"]
    assert [line["phase"] for line in queued] == ["start", "end"], "the Event invocation ran once"
    submitted = [json.dumps(e["details"]) for e in events if e["type"] == "TaskSubmitted"]
    assert len([text for text in submitted if queued[0]["request"] in text]) == 1, \
        "it ran under the request id of the 202 recorded"


def test_a_token_task_stored_waiting_is_not_run_again_after_a_sigkill(tmp_path: Path) -> None:
    """The other side of the same commit: once the rounds recording the three tasks' TaskStarted and
    TaskSubmitted are stored, every task is WAITING and the Event invocation is stored with its 202; after a
    SIGKILL nothing runs again but that invocation (at-least-once, under the same request id)."""
    run = Run(tmp_path)
    args = ("--tokens", "1", "--task-sleep", "0")
    # Nothing answers the tokens while the writer stalls at a TaskSucceeded that never comes.
    proc = run.spawn(*args, "--event-sleep", "30", "--stall-from", "TaskSucceeded")

    def handed_over() -> bool:
        return history_count(run, "TaskStarted") == 3 and history_count(run, "TaskSubmitted") == 2 \
            and any(line["phase"] == "start" and line["state"] == "Queued" for line in run.side_lines())

    run.wait_until(handed_over, proc)
    statuses = run.query("SELECT status FROM tasks")
    stored = run.query("SELECT request_id FROM async_invocations")
    run.kill(proc)
    assert statuses == [("WAITING",)] * 3
    assert len(stored) == 1
    run.finish(*args)

    [(arn, status)] = run.query("SELECT arn, status FROM executions")
    assert status == "SUCCEEDED"
    kinds = Counter(e["type"] for e in run.history(arn))
    assert (kinds["TaskStarted"], kinds["TaskSubmitted"], kinds["TaskSucceeded"]) == (3, 2, 3), kinds
    lines = [line for line in run.side_lines() if line["phase"] in ("start", "end")]
    assert [line["phase"] for line in lines if line["state"] == "Handed"] == ["start", "end"], "it ran once"
    queued = [line for line in lines if line["state"] == "Queued"]
    assert [line["phase"] for line in queued] == ["start", "start", "end"], "once before the kill, once after"
    assert {line["request"] for line in queued} == {stored[0][0]} and len({line["pid"] for line in queued}) == 2
    for table in ("tasks", "timers", "inbox", "async_invocations"):
        assert run.count(f"SELECT COUNT(*) FROM {table}") == 0, f"rows left in {table}"


def test_sigkill_during_a_redrive_of_a_distributed_map(tmp_path: Path) -> None:
    """A Map Run whose STANDARD children all fail in their second state fails its execution; once the cause
    is fixed the execution is redriven, and the redriven run is SIGKILLed twice: the execution succeeds with
    one ExecutionRedriven and one MapRunRedriven, DescribeMapRun counts every item once, and no child runs its
    first state again — each continues from the state it failed in, under one key per run."""
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    run = Run(tmp_path)
    items, item_sleep = 100, 0.02
    gate = tmp_path / "gate"
    first = ("--gated-dmap", str(items), "--item-sleep", str(item_sleep), "--gate", str(gate))
    again = ("--gate", str(gate), "--redrive")

    def gated_ends(open_: bool, pid: int | None = None) -> int:
        return len({line["index"] for line in run.side_lines() if line["phase"] == "end" and line["state"] == "Again"
                    and line["gate"] is open_ and pid in (None, line["pid"])})

    try:
        proc = run.spawn(*first)
        point = rng.randrange(1, items // 2)
        run.wait_until(lambda: gated_ends(False) >= point, proc)
        run.kill(proc)
        run.finish(*first)
        ((arn, status),) = run.query("SELECT arn, status FROM executions")
        assert status == "FAILED"
        assert gated_ends(False) == items, "every child ran its second state, and failed"
        before_redrive = len(run.side_lines())

        gate.touch()
        for point in (rng.randrange(0, 20) for _ in range(2)):
            # Killed once this process has finished `point` children (0: perhaps before the redrive is stored).
            proc = run.spawn(*again)
            run.wait_until(lambda point=point, pid=proc.pid: gated_ends(True, pid) >= point and any(
                line["phase"] == "redrive" for line in run.side_lines()), proc)
            run.kill(proc)
            assert run.query("SELECT status, redrive_count FROM executions") in ([("RUNNING", 1)], [("FAILED", 0)])
        run.finish(*again)
        _check_redriven_map(run, arn, items, before_redrive)
    except AssertionError as exc:
        raise AssertionError(f"seed {seed}: {exc}") from exc


def _check_redriven_map(run: Run, arn: str, items: int, before_redrive: int) -> None:
    assert run.query("SELECT status, redrive_count FROM executions") == [("SUCCEEDED", 1)]
    events = run.history(arn)
    kinds = [e["type"] for e in events]
    assert [e["id"] for e in events] == list(range(1, len(events) + 1)), "ids not gap-free"
    assert all(0 <= e["previousEventId"] < e["id"] for e in events)
    assert kinds == ["ExecutionStarted", "MapStateEntered", "MapStateStarted", "MapRunStarted", "MapRunFailed",
                     "MapStateFailed", "ExecutionFailed", "ExecutionRedriven", "MapStateEntered", "MapStateStarted",
                     "MapRunRedriven", "MapRunSucceeded", "MapStateSucceeded", "MapStateExited",
                     "ExecutionSucceeded"], kinds
    for table in ("tasks", "timers", "inbox", "frames", "join_data"):
        assert run.count(f"SELECT COUNT(*) FROM {table}") == 0, f"rows left in {table}"
    ((map_run_arn,),) = run.query("SELECT arn FROM map_runs")
    described = map_runs.describe_map_run(SqliteStore(run.db, create=False), map_run_arn)
    assert described["status"] == "SUCCEEDED" and described["redriveCount"] == 1 and "redriveDate" in described
    for which in ("itemCounts", "executionCounts"):
        assert {k: v for k, v in described[which].items()} == {
            "pending": 0, "running": 0, "succeeded": items, "failed": 0, "timedOut": 0, "aborted": 0,
            "total": items, "resultsWritten": 0, "failuresNotRedrivable": 0, "pendingRedrive": 0}, which

    lines = [line for line in run.side_lines() if line["phase"] in ("start", "end")]
    after = [line for line in run.side_lines()[before_redrive:] if line["phase"] in ("start", "end")]
    assert not [line for line in after if line["state"] == "Item"], "a child ran its first state again"
    assert not [line for line in after if line["state"] == "Again" and not line["gate"]]
    # One key per run of a (child, state, attempt): the run before the redrive and the one after it differ.
    keys: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    for line in lines:
        keys[(line["state"], line["index"], line["attempt"], line.get("gate"))].add(line["key"])
    different = {work_id: k for work_id, k in keys.items() if len(k) != 1}
    assert not different, f"one run of a task ran under different keys: {different}"
    assert sorted(keys) == sorted([("Item", i, 0, None) for i in range(items)]
                                  + [("Again", i, 0, g) for i in range(items) for g in (False, True)])
    for i in range(items):
        assert keys[("Again", i, 0, False)] != keys[("Again", i, 0, True)], "the redriven run has a key of its own"
    ended = {(line["state"], line["index"], line.get("gate")) for line in lines if line["phase"] == "end"}
    assert len(ended) == 3 * items, "every run was, in the end, run to completion"


def test_sigkill_during_a_redrive_of_an_inline_map_and_a_parallel(tmp_path: Path) -> None:
    """An inline Map that fails at an item's second state (with the iterations running then) and a Parallel
    whose second branch fails, each redriven once the cause is fixed, the redriven runs SIGKILLed twice: both
    succeed, redriven once; the iterations and the branch that succeeded before the redrive do not run again,
    and those that did not continue from the state where they stopped (failed, or were cut short by the
    failure) — a state they completed before does not run again — under keys of their own."""
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    run = Run(tmp_path)
    items = 40
    gate = tmp_path / "gate"
    first = ("--gated-inline", str(items), "--item-sleep", "0.02", "--task-sleep", "0.05", "--gate", str(gate))
    again = ("--gate", str(gate), "--redrive")
    try:
        proc = run.spawn(*first)
        point = rng.randrange(1, 12)
        run.wait_until(lambda: len([line for line in run.side_lines() if line["phase"] == "end"]) >= point, proc)
        run.kill(proc)
        run.finish(*first)
        assert run.query("SELECT name, status FROM executions ORDER BY name") == [
            ("gated-map-0", "FAILED"), ("gated-parallel-0", "FAILED")]
        before_redrive = len(run.side_lines())

        gate.touch()
        for point in (rng.randrange(0, 15) for _ in range(2)):
            proc = run.spawn(*again)
            run.wait_until(lambda point=point, pid=proc.pid: len(
                [line for line in run.side_lines() if line["phase"] == "end" and line["pid"] == pid]) >= point
                and any(line["phase"] == "redrive" for line in run.side_lines()), proc)
            run.kill(proc)
        run.finish(*again)

        assert run.query("SELECT name, status, redrive_count FROM executions ORDER BY name") == [
            ("gated-map-0", "SUCCEEDED", 1), ("gated-parallel-0", "SUCCEEDED", 1)]
        for table in ("tasks", "timers", "inbox", "frames", "join_data"):
            assert run.count(f"SELECT COUNT(*) FROM {table}") == 0, f"rows left in {table}"
        arns = dict(run.query("SELECT name, arn FROM executions"))
        side = run.side_lines()
        lines = [line for line in side if line["phase"] in ("start", "end")]
        after = [line for line in side[before_redrive:] if line["phase"] in ("start", "end")]
        _check_runs_under_one_key(lines, set(map(id, after)))

        events = _check_redriven_history(run, arns["gated-map-0"])
        redriven = next(e["id"] for e in events if e["type"] == "ExecutionRedriven")
        succeeded_before = {e["details"]["index"] for e in events
                            if e["type"] == "MapIterationSucceeded" and e["id"] < redriven}
        rest = set(range(items)) - succeeded_before
        assert items // 2 in rest and items - 1 in rest and len(succeeded_before) >= items // 2 - 4
        for kind in ("MapIterationStarted", "MapIterationSucceeded"):
            assert sorted(e["details"]["index"] for e in events if e["type"] == kind and e["id"] > redriven) \
                == sorted(rest), f"the redrive ran the iterations that did not succeed, once each ({kind})"
        # The iterations that had entered their second state (the one that failed there, and those cut short
        # there) go on from it; the others (cut short in their first state, or never started) run both.
        in_again = {json.loads(e["details"]["input"])["index"] for e in events if e["id"] < redriven
                    and e["type"] == "TaskStateEntered" and e["details"]["name"] == "Again"} & rest
        assert items // 2 in in_again
        mine = [line for line in after if line["exec"] == arns["gated-map-0"]]
        assert sorted({(line["state"], line["index"]) for line in mine if line["phase"] == "end"}) == sorted(
            {("Again", i) for i in rest} | {("Item", i) for i in rest - in_again}), \
            "each from the state where it stopped"

        events = _check_redriven_history(run, arns["gated-parallel-0"])
        mine = [line for line in after if line["exec"] == arns["gated-parallel-0"]]
        assert sorted({line["state"] for line in mine if line["phase"] == "end"}) == ["Again"], \
            "the failed branch went on from the state it failed in, the other did not run again"
    except AssertionError as exc:
        raise AssertionError(f"seed {seed}: {exc}") from exc


def _check_redriven_history(run: Run, arn: str) -> list[dict[str, Any]]:
    """A history that failed once and was redriven once to its success, gap-free."""
    events = run.history(arn)
    kinds = Counter(e["type"] for e in events)
    assert [e["id"] for e in events] == list(range(1, len(events) + 1)), "ids not gap-free"
    assert all(0 <= e["previousEventId"] < e["id"] for e in events)
    assert (kinds["ExecutionStarted"], kinds["ExecutionFailed"], kinds["ExecutionRedriven"],
            kinds["ExecutionSucceeded"]) == (1, 1, 1, 1), kinds
    assert events[0]["type"] == "ExecutionStarted" and events[-1]["type"] == "ExecutionSucceeded"
    return events


def _check_runs_under_one_key(lines: list[dict[str, Any]], after: set[int]) -> None:
    """Each run of a task — (execution, state, index, attempt), before the redrive or after it — has one
    idempotency key, and the run after a redrive has another than the run before it."""
    keys: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    for line in lines:
        keys[(line["exec"], line["state"], line["index"], line["attempt"], id(line) in after)].add(line["key"])
    different = {work_id: k for work_id, k in keys.items() if len(k) != 1}
    assert not different, f"one run of a task ran under different keys: {different}"
    for (exec_, state, index, attempt, redriven), k in keys.items():
        if redriven and (exec_, state, index, attempt, False) in keys:
            assert keys[(exec_, state, index, attempt, False)] != k, "the redriven run has a key of its own"


def test_tokens_answered_by_another_process_across_sigkills(tmp_path: Path) -> None:
    """Executions of a Parallel of three `.waitForTaskToken` tasks whose tokens another process answers
    (SendTaskSuccess through a Service on the same file, whatever the task's row says: scheduled, running,
    waiting), while the engine runs and while it is down between SIGKILLs: every answer accepted is applied
    once — each execution succeeds with exactly the three answers accepted for its tokens as its three
    TaskSucceeded — none is lost, and no token is accepted twice."""
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    run = Run(tmp_path)
    n = 8
    # The function that gets its token (`Handed`) takes a while: answers arrive before its return too.
    args = ("--tokens", str(n), "--task-sleep", "0.6", "--others-answer")
    try:
        _kill_while_another_process_answers(run, args, n, seed, rng, longest_run=0.5)
        _check_answers(run, n)
    except AssertionError as exc:
        raise AssertionError(f"seed {seed}: {exc}") from exc


def _kill_while_another_process_answers(run: Run, args: tuple[str, ...], n: int, seed: int, rng: random.Random, *,
                                        longest_run: float) -> None:
    """Start the engine's `n` executions, then a driver that answers their tasks from another process
    (`--answer`: tokens, or activity tasks it claims); SIGKILL the engine three times, each after up to
    `longest_run` seconds, sometimes leaving it down a while (the other process answers meanwhile); then
    run the engine until everything ended and wait for the answering process."""
    engine = run.spawn(*args)
    run.wait_until(lambda: run.count("SELECT COUNT(*) FROM executions") == n, engine)
    answering = run.spawn("--answer", "--answer-delay", "0.03", "--seed", str(seed))
    for kill in range(3):
        time.sleep(rng.uniform(0.05, longest_run))
        if not run.kill_unless_ended(engine):
            break  # everything was answered before this kill point
        time.sleep(rng.choice((0, 0.3)))
        if kill < 2:
            engine = run.spawn(*args)
    run.finish(*args)
    answering.wait(30)
    assert answering.returncode == 0, run.driver_output()


def _check_answers(run: Run, n: int) -> None:
    rows = run.query("SELECT arn, status FROM executions")
    assert len(rows) == n and {status for _, status in rows} == {"SUCCEEDED"}, rows
    side = run.side_lines()
    results = Counter((line["answer"], line["result"]) for line in side if line["phase"] == "answered")
    accepted = {answer for (answer, result), count in results.items() if result == "accepted"}
    assert all(count == 1 for (_, result), count in results.items() if result == "accepted")
    applied: list[str] = []
    for arn, _ in rows:
        events = run.history(arn)
        kinds = Counter(e["type"] for e in events)
        assert [e["id"] for e in events] == list(range(1, len(events) + 1)), "ids not gap-free"
        assert (kinds["TaskScheduled"], kinds["TaskSucceeded"], kinds["ExecutionSucceeded"]) == (3, 3, 1), kinds
        assert kinds["TaskStarted"] <= 3 and kinds["TaskSubmitted"] <= 2, kinds
        applied += [json.loads(e["details"]["output"])["answer"] for e in events if e["type"] == "TaskSucceeded"]
    assert len(applied) == len(set(applied)) == 3 * n, "each execution's three answers, each applied once"
    assert set(applied) == accepted, "the answers applied are the answers accepted"
    for table in ("tasks", "timers", "inbox", "async_invocations"):
        assert run.count(f"SELECT COUNT(*) FROM {table}") == 0, f"rows left in {table}"
    keys: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    for line in side:
        if line["phase"] == "start":
            keys[(line["exec"], line["state"], line["attempt"])].add(line["key"])
    assert all(len(k) == 1 for k in keys.values()), keys


def test_an_update_of_a_map_run_holds_across_sigkills(tmp_path: Path) -> None:
    """UpdateMapRun (through a Service on the file, beside the engine) lowers a running Map Run's
    MaxConcurrency from 10 to 3 and lets it tolerate 5 failures, and the engine is SIGKILLed soon after —
    before or after it applied the update — and once more: after each restart no child execution starts
    while 3 others run, and the five items that fail are tolerated; the Map Run succeeds with exact counts."""
    from stateway.engine.service import Service
    from stateway.store.sqlite import open_store

    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    run = Run(tmp_path)
    items = 100
    failing = set(crash_driver.update_map_gated(items))
    args = ("--update-dmap", str(items), "--item-sleep", "0.02")

    def children_ended() -> int:
        return len({line["index"] for line in run.side_lines() if line["phase"] == "end" and line["state"] == "Again"})

    try:
        proc = run.spawn(*args)
        run.wait_until(lambda: children_ended() >= 10, proc)
        ((map_run_arn,),) = run.query("SELECT arn FROM map_runs")
        service = Service(open_store(f"sqlite:///{run.db}"))
        service.update_map_run(map_run_arn, max_concurrency=3, tolerated_failure_count=len(failing))
        updated = len(run.side_lines())  # what the side file holds when the update is stored
        time.sleep(rng.uniform(0, 0.2))
        run.kill(proc)
        assert run.query("SELECT status FROM map_runs") == [("RUNNING",)]
        proc = run.spawn(*args)
        time.sleep(rng.uniform(0.3, 0.8))
        run.kill(proc)
        run.finish(*args)

        assert run.query("SELECT status FROM executions") == [("SUCCEEDED",)]
        assert (history_count(run, "MapRunSucceeded"), history_count(run, "MapRunFailed")) == (1, 0)
        described = map_runs.describe_map_run(SqliteStore(run.db, create=False), map_run_arn)
        assert (described["status"], described["maxConcurrency"], described["toleratedFailureCount"]) \
            == ("SUCCEEDED", 3, len(failing))
        for which in ("itemCounts", "executionCounts"):
            assert {k: described[which][k] for k in ("total", "succeeded", "failed", "aborted", "running", "pending")} \
                == {"total": items, "succeeded": items - len(failing), "failed": len(failing), "aborted": 0,
                    "running": 0, "pending": 0}, which
        _check_concurrency(run.side_lines(), updated, 3)
    except AssertionError as exc:
        raise AssertionError(f"seed {seed}: {exc}") from exc


def _check_concurrency(side: list[dict[str, Any]], since: int, limit: int) -> None:
    """In each process that started after position `since` of the side file, no child execution starts
    for the first time (in any process) while `limit` others are in flight: from their first line in that
    process (a child re-run after a restart is in flight from there) to the end of their last task in it."""
    first_ever: dict[int, int] = {}
    for position, line in enumerate(side):
        if "index" in line:
            first_ever.setdefault(line["index"], position)
    later_pids = {line["pid"] for line in side[since:] if "pid" in line} - {line["pid"] for line in side[:since]
                                                                         if "pid" in line}
    assert later_pids, "no process started after the update"
    for pid in later_pids:
        mine = [(position, line) for position, line in enumerate(side) if line.get("pid") == pid]
        first: dict[int, int] = {}
        last_end: dict[int, int] = {}
        for position, line in mine:
            first.setdefault(line["index"], position)
            if line["phase"] == "end" and line["state"] == "Again":
                last_end[line["index"]] = position
        for position, line in mine:
            if first_ever[line["index"]] != position:
                continue  # not the child's first start: it began before, here or in an earlier process
            others = [i for i, begun in first.items() if i != line["index"] and begun < position
                      and last_end.get(i, len(side)) > position]
            assert len(others) < limit, f"child {line['index']} started while {sorted(others)} ran"


def test_deadlines_that_pass_while_the_engine_is_down_run_no_task_again(tmp_path: Path) -> None:
    """SIGKILL while tasks run, and the engine stays down past an execution's `TimeoutSeconds` and a task's:
    after the restart the first execution ends TIMED_OUT and the second goes on through its Catch, each once,
    and neither task function is called again — a deadline that has passed ends the task, as a stop queued
    while the engine was down does."""
    run = Run(tmp_path)
    args = ("--deadlines", "2", "--task-sleep", "30")
    proc = run.spawn(*args)
    # Killed once the tasks' rows are stored: a function starts while the round that schedules it is written,
    # and a round lost to the kill is computed again, which schedules the task anew (with a deadline anew).
    run.wait_until(lambda: len({line["exec"] for line in run.side_lines() if line["state"] == "Work"}) == 4
                   and run.count("SELECT COUNT(*) FROM tasks") == 4, proc)
    run.kill(proc)
    started = {line["exec"] for line in run.side_lines()}
    time.sleep(1.2)  # past both deadlines, counted from the tasks' and executions' starts
    run.finish()
    _check_deadlines(run, 2)
    for arn in started:
        assert [line["phase"] for line in run.side_lines() if line["exec"] == arn and line["state"] == "Work"] \
            == ["start"], f"{arn}: its task ran again after its deadline"


def test_deadlines_racing_a_sigkill(tmp_path: Path) -> None:
    """A SIGKILL around the moment an execution's `TimeoutSeconds` and a task's pass, and a restart at once:
    each deadline is applied once, whichever side of the kill it fell on."""
    seed = random.randrange(1 << 30)
    run = Run(tmp_path)
    args = ("--deadlines", "2", "--task-sleep", "30")
    proc = run.spawn(*args)
    run.wait_until(lambda: len({line["exec"] for line in run.side_lines() if line["state"] == "Work"}) == 4, proc)
    time.sleep(random.Random(seed).uniform(0.5, 1.1))
    run.kill_unless_ended(proc)  # on a busy machine the deadlines may all have been applied already
    run.finish()
    try:
        _check_deadlines(run, 2)
    except AssertionError as exc:
        raise AssertionError(f"seed {seed}: {exc}") from exc


def _check_deadlines(run: Run, n: int) -> None:
    for i in range(n):
        (arn, status), = run.query("SELECT arn, status FROM executions WHERE name = ?", f"exec-deadline-{i}")
        assert status == "TIMED_OUT"
        kinds = [e["type"] for e in run.history(arn)]
        assert kinds[-1] == "ExecutionTimedOut" and kinds.count("ExecutionTimedOut") == 1, kinds
        (arn, status), = run.query("SELECT arn, status FROM executions WHERE name = ?", f"task-deadline-{i}")
        assert status == "SUCCEEDED"
        events = run.history(arn)
        kinds = [e["type"] for e in events]
        assert [e["id"] for e in events] == list(range(1, len(events) + 1)), "ids not gap-free"
        assert kinds.count("LambdaFunctionTimedOut") == 1 and kinds.count("ExecutionSucceeded") == 1, kinds
        assert [e["details"]["name"] for e in events if e["type"] == "TaskStateEntered"] == ["Work", "After"]
    for table in ("tasks", "timers", "inbox"):
        assert run.count(f"SELECT COUNT(*) FROM {table}") == 0, f"rows left in {table}"
    keys: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    for line in run.side_lines():
        keys[(line["exec"], line["state"], line["attempt"])].add(line["key"])
    assert all(len(k) == 1 for k in keys.values()), keys


def test_a_stop_racing_a_sigkill(tmp_path: Path) -> None:
    """StopExecution from another process (a Service on the file: an inbox row) while the engine runs, and a
    SIGKILL a moment later — before the engine applied it, while the round that applies it is written, or
    after: two of three executions with running tasks, and a distributed Map amid its Map Run, end ABORTED once,
    none of their tasks runs after the restart, the third execution succeeds, and the Map Run is ABORTED with
    every item counted once."""
    from stateway.engine.service import Service
    from stateway.store.sqlite import open_store

    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    run = Run(tmp_path)
    items = 200
    args = ("--mixed", "3", "--task-sleep", "1", "--dmap", str(items), "--item-sleep", "0.02")
    try:
        proc = run.spawn(*args)

        def busy() -> bool:
            lines = run.side_lines()
            return len({line["exec"] for line in lines if line["state"] == "Work"}) == 3 \
                and len([line for line in lines if line["phase"] == "end" and line["state"] == "Again"]) >= 20

        run.wait_until(busy, proc)
        service = Service(open_store(f"sqlite:///{run.db}"))
        arns = dict(run.query("SELECT name, arn FROM executions"))
        for name in ("mixed-0", "mixed-1", "dmap-0"):
            service.stop_execution(arns[name], error="Halt", cause="racing a kill")
        time.sleep(rng.uniform(0, 0.1))
        run.kill(proc)
        killed_at = len(run.side_lines())
        run.finish(*args)

        statuses = dict(run.query("SELECT name, status FROM executions"))
        assert statuses == {"mixed-0": "ABORTED", "mixed-1": "ABORTED", "mixed-2": "SUCCEEDED", "dmap-0": "ABORTED"}
        for name in ("mixed-0", "mixed-1", "dmap-0"):
            events = run.history(arns[name])
            kinds = [e["type"] for e in events]
            assert [e["id"] for e in events] == list(range(1, len(events) + 1)), f"{name}: ids not gap-free"
            assert kinds[-1] == "ExecutionAborted" and kinds.count("ExecutionAborted") == 1, (name, kinds)
            assert events[-1]["details"] == {"error": "Halt", "cause": "racing a kill"}
        assert run.query("SELECT error FROM executions WHERE status = 'ABORTED'") == [("Halt",)] * 3
        after = {line["exec"] for line in run.side_lines()[killed_at:] if line["phase"] == "start"}
        assert after <= {arns["mixed-2"]}, "a stopped execution's task ran after the restart"
        for table in ("tasks", "timers", "inbox"):
            assert run.count(f"SELECT COUNT(*) FROM {table}") == 0, f"rows left in {table}"

        ((map_run_arn,),) = run.query("SELECT arn FROM map_runs")
        described = map_runs.describe_map_run(SqliteStore(run.db, create=False), map_run_arn)
        assert described["status"] == "ABORTED"
        counts = described["itemCounts"]
        assert (counts["running"], counts["pending"], counts["failed"], counts["pendingRedrive"]) == (0, 0, 0, 0)
        assert counts["succeeded"] + counts["aborted"] == counts["total"] == items, counts
        assert 20 <= counts["succeeded"] < items, counts
        assert described["executionCounts"] == counts
    except AssertionError as exc:
        raise AssertionError(f"seed {seed}: {exc}") from exc


def test_activity_tasks_claimed_and_answered_by_another_process_across_sigkills(tmp_path: Path) -> None:
    """Executions of two activity tasks each, claimed (GetActivityTask) and answered (SendTaskSuccess) by a
    worker in another process, while the engine runs and while it is down between SIGKILLs: no task is
    claimed twice, each execution records one ActivityStarted per task, and every answer accepted is applied
    once."""
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    run = Run(tmp_path)
    n = 6
    args = ("--activities", str(n))
    try:
        _kill_while_another_process_answers(run, args, n, seed, rng, longest_run=0.4)

        rows = run.query("SELECT arn, status FROM executions")
        assert len(rows) == n and {status for _, status in rows} == {"SUCCEEDED"}, rows
        side = run.side_lines()
        claims = Counter((line["exec"], line["state"], line["attempt"]) for line in side if line["phase"] == "claimed")
        assert sorted(claims) == sorted((arn, state, 0) for arn, _ in rows for state in ("Ask", "Check")), claims
        assert set(claims.values()) == {1}, f"a task was claimed twice: {claims}"
        accepted = [line["answer"] for line in side if line["phase"] == "answered" and line["result"] == "accepted"]
        applied: list[str] = []
        for arn, _ in rows:
            events = run.history(arn)
            kinds = Counter(e["type"] for e in events)
            assert [e["id"] for e in events] == list(range(1, len(events) + 1)), "ids not gap-free"
            assert (kinds["ActivityScheduled"], kinds["ActivityStarted"], kinds["ActivitySucceeded"]) == (2, 2, 2), kinds
            applied += [json.loads(e["details"]["output"])["answer"] for e in events if e["type"] == "ActivitySucceeded"]
        assert sorted(applied) == sorted(accepted) and len(set(applied)) == 2 * n, "each answer applied once"
        for table in ("tasks", "timers", "inbox"):
            assert run.count(f"SELECT COUNT(*) FROM {table}") == 0, f"rows left in {table}"
    except AssertionError as exc:
        raise AssertionError(f"seed {seed}: {exc}") from exc
