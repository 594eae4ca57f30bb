"""The durable engine end to end on a real SQLite file: tasks, retries, waits, timeouts, tokens, nesting, API."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support import rows, task, wait_for

from stateway.asl.loader import DefinitionError, load_definition
from stateway.engine import Engine, runtime, service
from stateway.engine import errors as api
from stateway.testing.local import LocalRunner

pytestmark = pytest.mark.integration

YEAR_SECONDS = 365 * 24 * 3600


# ---- helpers ----------------------------------------------------------------------------------


class Harness:
    """An Engine on a SQLite file in tmp_path, with helpers to run a definition and read the store."""

    def __init__(self, path: Path, functions: dict[str, Callable[..., Any]], workers: int = 8) -> None:
        self.path = path
        self.engine = Engine(f"sqlite:///{path}", functions=functions, workers=workers, poll_interval=0.05).start()
        self.service = self.engine.service
        self._machines = 0

    def machine(self, definition: dict[str, Any], name: str | None = None) -> str:
        self._machines += 1
        return self.service.create_state_machine(name or f"sm{self._machines}", definition)

    def run(self, definition: dict[str, Any], input: Any = None, timeout: float = 30) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Create a machine, start one execution, wait for it; (DescribeExecution, history)."""
        arn = self.service.start_execution(self.machine(definition), input if input is not None else {})
        desc = self.engine.wait(arn, timeout=timeout)
        return desc, self.service.get_execution_history(arn)

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Read the SQLite file directly, through its own connection, as an operator would."""
        return rows(self.path, sql, *params)

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 10) -> Any:
        return wait_for(predicate, timeout)

    def history_types(self, arn: str) -> list[str]:
        return [e["type"] for e in self.service.get_execution_history(arn)]


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    """Factory: `make(functions, workers=8)` → a started Harness; every engine is stopped afterwards."""
    made: list[Harness] = []

    def factory(functions: dict[str, Callable[..., Any]] | None = None, workers: int = 8) -> Harness:
        harness = Harness(tmp_path / f"engine{len(made)}.db", dict(functions or {}), workers)
        made.append(harness)
        return harness

    yield factory
    for harness in made:
        harness.engine.stop()


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


def assert_gap_free(events: list[dict[str, Any]]) -> None:
    """Ids run 1..N and every previousEventId points backwards to an existing event (or 0)."""
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    for e in events:
        assert 0 <= e["previousEventId"] < e["id"]


def scheduled_parameters(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The parameters of the (last) TaskScheduled event: where a `.waitForTaskToken` token travels."""
    scheduled = [e for e in events if e["type"] == "TaskScheduled"]
    assert scheduled, types(events)
    return json.loads(scheduled[-1]["taskScheduledEventDetails"]["parameters"])


def double(event: Any, context: Any) -> Any:
    return {"value": event["value"] * 2}


def add_one(event: Any, context: Any) -> Any:
    return {"value": event["value"] + 1}


# ---- tasks, retries, catch --------------------------------------------------------------------


def test_task_chain_succeeds_with_idempotency_key(make: Callable[..., Harness]) -> None:
    keys: list[str] = []

    def record(event: Any, context: Any) -> Any:
        keys.append(context.idempotency_key)
        return event

    h = make({"double": double, "add_one": add_one, "record": record})
    desc, events = h.run({"StartAt": "A", "States": {"A": task("double", "B"), "B": task("add_one", "C"),
                                                      "C": task("record")}}, {"value": 5})
    assert desc["status"] == "SUCCEEDED"
    assert json.loads(desc["output"]) == {"value": 11}
    assert keys == [f"{desc['executionArn']}/3/C/0"]  # the third state entered
    assert_gap_free(events)
    assert types(events).count("LambdaFunctionSucceeded") == 3
    assert h.rows("SELECT COUNT(*) FROM tasks") == [(0,)]


def test_task_failure_fails_execution_with_lambda_error(make: Callable[..., Harness]) -> None:
    def boom(event: Any, context: Any) -> Any:
        raise ValueError("no stock")

    h = make({"boom": boom})
    desc, events = h.run({"StartAt": "A", "States": {"A": task("boom")}})
    assert desc["status"] == "FAILED"
    assert desc["error"] == "ValueError"
    cause = json.loads(desc["cause"])
    assert cause["errorMessage"] == "no stock" and cause["errorType"] == "ValueError"
    assert types(events)[-2:] == ["LambdaFunctionFailed", "ExecutionFailed"]
    assert_gap_free(events)


def test_functions_own_their_events_and_results(make: Callable[..., Harness]) -> None:
    """A handler that mutates its event, or a result it returned earlier, changes nothing recorded."""
    kept: dict[str, Any] = {}
    seen: list[Any] = []

    def keep(event: Any, context: Any) -> Any:
        kept["result"] = {"n": [1], "shared": event["shared"]}
        return kept["result"]

    def tamper(event: Any, context: Any) -> Any:
        kept["result"]["n"].append(99)  # the first task's result, long after it was returned
        event["first"]["n"].append(7)
        event["again"]["x"] = "changed"  # the same object as `first` in the state input: its own copy here
        seen.append(event["first"])
        return {"ok": True}

    h = make({"keep": keep, "tamper": tamper})
    desc, events = h.run({"StartAt": "A", "States": {
        "A": task("keep", "B"),
        "B": task("tamper", ResultPath="$.b", Parameters={"first.$": "$", "again.$": "$"}),
    }}, {"shared": {"x": 1}})
    assert desc["status"] == "SUCCEEDED", desc
    assert json.loads(desc["output"]) == {"n": [1], "shared": {"x": 1}, "b": {"ok": True}}
    assert seen == [{"n": [1, 7], "shared": {"x": 1}}]
    scheduled = [e for e in events if e["type"] == "LambdaFunctionScheduled"]
    assert json.loads(scheduled[1]["lambdaFunctionScheduledEventDetails"]["input"]) == {
        "first": {"n": [1], "shared": {"x": 1}}, "again": {"n": [1], "shared": {"x": 1}}}


def test_retry_with_backoff_reruns_under_new_attempt_keys(make: Callable[..., Harness]) -> None:
    calls: list[tuple[float, str]] = []

    def flaky(event: Any, context: Any) -> Any:
        calls.append((time.monotonic(), context.idempotency_key))
        if len(calls) < 3:
            raise ConnectionError("try again")
        return {"ok": len(calls)}

    h = make({"flaky": flaky})
    retry = [{"ErrorEquals": ["ConnectionError"], "IntervalSeconds": 1, "BackoffRate": 1.0, "MaxAttempts": 3}]
    desc, events = h.run({"StartAt": "A", "States": {"A": task("flaky", Retry=retry)}})
    assert desc["status"] == "SUCCEEDED", desc
    assert json.loads(desc["output"]) == {"ok": 3}
    arn = desc["executionArn"]
    # A retry is a step of its own: steps 1, 2 and 3, attempts 0, 1 and 2.
    assert [k for _, k in calls] == [f"{arn}/{attempt + 1}/A/{attempt}" for attempt in range(3)]
    # Each retry waited its IntervalSeconds (a timer row, not a sleeping thread).
    assert calls[1][0] - calls[0][0] >= 0.9
    assert calls[2][0] - calls[1][0] >= 0.9
    assert types(events).count("LambdaFunctionScheduled") == 3
    assert types(events).count("TaskStateEntered") == 1
    assert_gap_free(events)


def test_catch_routes_error_to_fallback(make: Callable[..., Harness]) -> None:
    def boom(event: Any, context: Any) -> Any:
        raise KeyError("sku")

    h = make({"boom": boom})
    desc, events = h.run({"StartAt": "A", "States": {
        "A": task("boom", "Unreachable", Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                                                  "Next": "Fallback"}]),
        "Unreachable": {"Type": "Fail", "Error": "X"},
        "Fallback": {"Type": "Pass", "End": True},
    }}, {"order": 1})
    assert desc["status"] == "SUCCEEDED"
    output = json.loads(desc["output"])
    assert output["order"] == 1 and output["error"]["Error"] == "KeyError"
    assert "PassStateEntered" in types(events)
    assert_gap_free(events)


# ---- waits ------------------------------------------------------------------------------------


def test_short_wait_delays_the_next_state(make: Callable[..., Harness]) -> None:
    h = make()
    started = time.monotonic()
    desc, events = h.run({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": True}}}, {"a": 1})
    assert desc["status"] == "SUCCEEDED"
    assert time.monotonic() - started >= 0.95
    assert json.loads(desc["output"]) == {"a": 1}
    wait_events = {e["type"]: e for e in events}
    assert wait_events["WaitStateExited"]["timestamp"] >= wait_events["WaitStateEntered"]["timestamp"]
    assert h.rows("SELECT COUNT(*) FROM timers") == [(0,)]


def test_an_executions_first_events_are_not_older_than_its_start_date(
        make: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch) -> None:
    """The decider reads its round's clock before it takes the starts that arrived meanwhile; here its
    clock lags an hour behind the service's, the widest form of that gap."""
    from stateway.engine import runtime

    h = make()
    real_now_ms = runtime.now_ms
    monkeypatch.setattr(runtime, "now_ms", lambda: real_now_ms() - 3_600_000)
    desc, events = h.run({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, {})
    assert desc["status"] == "SUCCEEDED"
    assert all(e["timestamp"] >= desc["startDate"] for e in events)


def test_one_year_wait_holds_no_thread_and_stops(make: Callable[..., Harness]) -> None:
    h = make({"double": double}, workers=1)
    waiter = h.service.start_execution(h.machine(
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": YEAR_SECONDS, "End": True}}}), {})
    h.wait_for(lambda: "WaitStateEntered" in h.history_types(waiter))
    assert h.service.describe_execution(waiter)["status"] == "RUNNING"
    (due_ms,) = h.wait_for(lambda: h.rows("SELECT due_ms FROM timers WHERE execution_arn = ? AND purpose = 'wait'", waiter))[0:1]
    assert due_ms[0] - time.time() * 1000 > (YEAR_SECONDS - 60) * 1000
    assert h.rows("SELECT COUNT(*) FROM tasks") == [(0,)]
    # With one worker thread, a task in another execution still runs at once: the Wait holds no thread.
    assert h.engine._pool.queued == 0
    quick = h.service.start_execution(h.machine({"StartAt": "A", "States": {"A": task("double")}}), {"value": 2})
    assert h.engine.wait(quick, timeout=5)["status"] == "SUCCEEDED"
    assert h.service.describe_execution(waiter)["status"] == "RUNNING"

    h.service.stop_execution(waiter, error="Operator", cause="not a year")
    desc = h.engine.wait(waiter, timeout=5)
    assert desc["status"] == "ABORTED"
    assert desc["error"] == "Operator" and desc["cause"] == "not a year"
    assert h.history_types(waiter)[-1] == "ExecutionAborted"
    assert h.rows("SELECT COUNT(*) FROM timers WHERE execution_arn = ?", waiter) == [(0,)]


# ---- timeouts and heartbeats ------------------------------------------------------------------


def test_task_timeout_even_when_function_hangs(make: Callable[..., Harness]) -> None:
    release = threading.Event()
    finished = threading.Event()

    def hang(event: Any, context: Any) -> Any:
        release.wait(10)
        finished.set()
        return {"late": True}

    h = make({"hang": hang})
    started = time.monotonic()
    desc, events = h.run({"StartAt": "A", "States": {"A": task("hang", TimeoutSeconds=1)}}, timeout=10)
    assert desc["status"] == "FAILED"
    assert desc["error"] == "States.Timeout"
    assert time.monotonic() - started < 5
    assert types(events)[-2:] == ["LambdaFunctionTimedOut", "ExecutionFailed"]
    release.set()
    assert finished.wait(5)
    time.sleep(0.3)  # give a late result every chance to be (wrongly) applied
    assert h.service.get_execution_history(desc["executionArn"]) == events
    assert h.service.describe_execution(desc["executionArn"])["status"] == "FAILED"


def test_heartbeat_keeps_a_long_task_alive(make: Callable[..., Harness]) -> None:
    def slow(event: Any, context: Any) -> Any:
        for _ in range(8):
            time.sleep(0.25)
            context.heartbeat()
        return {"done": True}

    h = make({"slow": slow})
    desc, events = h.run({"StartAt": "A", "States": {"A": task("slow", HeartbeatSeconds=1, TimeoutSeconds=10)}})
    assert desc["status"] == "SUCCEEDED", desc
    assert json.loads(desc["output"]) == {"done": True}
    assert_gap_free(events)


def test_missing_heartbeat_times_out(make: Callable[..., Harness]) -> None:
    release = threading.Event()

    def silent(event: Any, context: Any) -> Any:
        release.wait(10)
        return {"late": True}

    h = make({"silent": silent})
    try:
        started = time.monotonic()
        desc, events = h.run({"StartAt": "A", "States": {"A": task("silent", HeartbeatSeconds=1)}}, timeout=10)
        assert desc["status"] == "FAILED"
        assert desc["error"] == "States.HeartbeatTimeout"
        assert time.monotonic() - started < 5
    finally:
        release.set()
    time.sleep(0.3)
    assert h.service.get_execution_history(desc["executionArn"]) == events


def test_execution_timeout_times_out(make: Callable[..., Harness]) -> None:
    h = make()
    started = time.monotonic()
    desc, events = h.run({"TimeoutSeconds": 1, "StartAt": "W",
                          "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}}, timeout=10)
    assert desc["status"] == "TIMED_OUT"
    assert time.monotonic() - started < 5
    assert types(events)[-1] == "ExecutionTimedOut"
    assert_gap_free(events)
    assert h.rows("SELECT COUNT(*) FROM timers") == [(0,)]


def test_an_execution_without_timeout_seconds_times_out_a_year_after_its_start(
        make: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch) -> None:
    from stateway.engine import runtime

    h = make()
    arn = h.service.start_execution(h.machine(
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 2 * YEAR_SECONDS, "End": True}}}), {})
    start_ms = h.rows("SELECT start_ms FROM executions WHERE arn = ?", arn)[0][0]
    # The year is a timer row like TimeoutSeconds', beside the Wait's: no thread waits for it.
    timers = h.wait_for(lambda: dict(h.rows("SELECT purpose, due_ms FROM timers WHERE execution_arn = ?", arn)))
    assert timers["execution_timeout"] == start_ms + YEAR_SECONDS * 1000  # from the start, as TimeoutSeconds
    assert timers["wait"] >= start_ms + 2 * YEAR_SECONDS * 1000  # from the Wait state's entry
    assert h.service.describe_execution(arn)["status"] == "RUNNING"

    # A year later by the engine's clock (nothing sleeps; its next look at the store, within the poll
    # interval, finds the timer due): the execution times out as TimeoutSeconds ends it.
    real_now_ms = runtime.now_ms
    monkeypatch.setattr(runtime, "now_ms", lambda: real_now_ms() + YEAR_SECONDS * 1000)
    desc = h.engine.wait(arn, timeout=10)
    assert desc["status"] == "TIMED_OUT" and "error" not in desc and "cause" not in desc
    events = h.service.get_execution_history(arn)
    assert types(events) == ["ExecutionStarted", "WaitStateEntered", "ExecutionTimedOut"]
    assert (desc["stopDate"] - desc["startDate"]).total_seconds() >= YEAR_SECONDS
    assert h.rows("SELECT COUNT(*) FROM timers WHERE execution_arn = ?", arn) == [(0,)]


def test_the_maximum_duration_ends_an_execution_exactly_as_timeout_seconds_does(tmp_path: Path) -> None:
    definition = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}}
    # A shorter maximum (a setting, as Express's five minutes is) stands in for the year.
    with Engine(f"sqlite:///{tmp_path / 'capped.db'}", max_duration_seconds=1, poll_interval=0.05) as engine:
        capped = engine.service.start_execution(engine.service.create_state_machine("capped", definition), {})
        own = engine.service.start_execution(engine.service.create_state_machine(
            "own", {"TimeoutSeconds": 1, **definition}), {})
        capped_desc, own_desc = engine.wait(capped, timeout=10), engine.wait(own, timeout=10)
        assert capped_desc["status"] == own_desc["status"] == "TIMED_OUT"
        shape = [[(e["id"], e["previousEventId"], e["type"]) for e in engine.service.get_execution_history(arn)]
                 for arn in (capped, own)]
    assert shape[0] == shape[1] == [(1, 0, "ExecutionStarted"), (2, 0, "WaitStateEntered"), (3, 2, "ExecutionTimedOut")]


def test_stop_execution_during_a_task_ignores_its_late_result(make: Callable[..., Harness]) -> None:
    release = threading.Event()
    entered = threading.Event()

    def hang(event: Any, context: Any) -> Any:
        entered.set()
        release.wait(10)
        return {"late": True}

    h = make({"hang": hang})
    arn = h.service.start_execution(h.machine({"StartAt": "A", "States": {"A": task("hang")}}), {})
    assert entered.wait(5)
    h.service.stop_execution(arn, error="Cancelled", cause="by test")
    desc = h.engine.wait(arn, timeout=5)
    assert desc["status"] == "ABORTED" and desc["error"] == "Cancelled"
    events = h.service.get_execution_history(arn)
    assert types(events)[-1] == "ExecutionAborted"
    assert h.rows("SELECT COUNT(*) FROM tasks WHERE execution_arn = ?", arn) == [(0,)]
    release.set()
    time.sleep(0.3)
    assert h.service.get_execution_history(arn) == events
    # Stopping a finished execution changes nothing.
    h.service.stop_execution(arn)
    time.sleep(0.1)
    assert h.service.describe_execution(arn)["status"] == "ABORTED"


# ---- the API's idempotency and listing --------------------------------------------------------


def test_idempotent_start_execution(make: Callable[..., Harness]) -> None:
    h = make()
    sm = h.machine({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": YEAR_SECONDS, "End": True}}})
    first = h.service.start_execution(sm, {"a": 1}, name="order-1")
    assert h.service.start_execution(sm, {"a": 1}, name="order-1") == first
    with pytest.raises(api.ExecutionAlreadyExists):
        h.service.start_execution(sm, {"a": 2}, name="order-1")
    assert h.rows("SELECT COUNT(*) FROM executions") == [(1,)]
    h.service.stop_execution(first)
    assert h.engine.wait(first, timeout=5)["status"] == "ABORTED"
    # Once closed, the same name is taken for good, even with the same input.
    with pytest.raises(api.ExecutionAlreadyExists):
        h.service.start_execution(sm, {"a": 1}, name="order-1")


def test_an_input_value_that_is_not_json_is_refused_and_nothing_starts(make: Callable[..., Harness]) -> None:
    h = make()
    sm = h.machine({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    for value, words in (({"ratio": float("nan")}, "Out of range float"), ({"ids": {1}}, "not JSON serializable")):
        with pytest.raises(api.InvalidExecutionInput, match=words):
            h.service.start_execution(sm, value)
    assert h.rows("SELECT COUNT(*) FROM executions") == [(0,)]


def test_a_definition_that_is_not_json_is_refused_and_nothing_is_stored(make: Callable[..., Harness]) -> None:
    h = make()
    # 569 bytes of YAML whose aliases expand to 10**9 strings: it must be refused, not expanded.
    bomb = "StartAt: P\nStates:\n  P:\n    Type: Pass\n    End: true\n    Result:\n" + "".join(
        f"      a{n}: &a{n} [" + ",".join([f"*a{n - 1}" if n else '"x"'] * 10) + "]\n" for n in range(9))
    with pytest.raises(DefinitionError, match="aliases expand the definition"):
        load_definition(bomb)  # a definition file (`stateway run`, `validate`)
    with pytest.raises(api.InvalidDefinition, match="INVALID_JSON_DESCRIPTION"):
        h.service.create_state_machine("bomb", bomb)  # text is the API's `definition` member: JSON only
    for result, words in ((float("nan"), "nan is not a JSON number"), ({1, 2}, "type set is not JSON"),
                          (b"x", "type bytes is not JSON")):
        with pytest.raises(api.InvalidDefinition, match=words):
            h.machine({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True, "Result": result}}})
    with pytest.raises(DefinitionError, match="Invalid YAML: .nan is not a JSON number"):
        load_definition("StartAt: P\nStates:\n  P: {Type: Pass, End: true, Result: .nan}\n")
    assert h.rows("SELECT COUNT(*) FROM state_machines") == [(0,)]


def test_list_executions_filters_and_paginates(make: Callable[..., Harness]) -> None:
    h = make()
    sm = h.machine({"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [
        {"Variable": "$.wait", "BooleanEquals": True, "Next": "W"}], "Default": "Done"},
        "W": {"Type": "Wait", "Seconds": YEAR_SECONDS, "End": True}, "Done": {"Type": "Succeed"}}})
    quick = [h.service.start_execution(sm, {"wait": False}, name=f"quick-{i}") for i in range(5)]
    slow = [h.service.start_execution(sm, {"wait": True}, name=f"slow-{i}") for i in range(2)]
    for arn in quick:
        assert h.engine.wait(arn, timeout=10)["status"] == "SUCCEEDED"
    for arn in slow:
        h.wait_for(lambda arn=arn: "WaitStateEntered" in h.history_types(arn))

    succeeded, token = h.service.list_executions(sm, status="SUCCEEDED")
    assert sorted(e["executionArn"] for e in succeeded) == sorted(quick) and token is None
    assert all("stopDate" in e for e in succeeded)
    running, _ = h.service.list_executions(sm, status="RUNNING")
    assert sorted(e["executionArn"] for e in running) == sorted(slow)
    assert all("stopDate" not in e for e in running)

    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page, token = h.service.list_executions(sm, max_results=2, next_token=token)
        assert len(page) <= 2
        seen += [e["executionArn"] for e in page]
        pages += 1
        if token is None:
            break
    assert pages == 4
    assert sorted(seen) == sorted(quick + slow) and len(set(seen)) == 7
    starts = [h.service.describe_execution(arn)["startDate"] for arn in seen]
    assert starts == sorted(starts, reverse=True)  # newest first, as AWS lists them
    for arn in slow:
        h.service.stop_execution(arn)
        assert h.engine.wait(arn, timeout=5)["status"] == "ABORTED"
    aborted, _ = h.service.list_executions(sm, status="ABORTED")
    assert len(aborted) == 2


def test_list_executions_checks_its_arguments_as_aws_does(make: Callable[..., Harness]) -> None:
    h = make()
    sm = h.machine({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    done = h.engine.wait(h.service.start_execution(sm), timeout=5)
    listed, token = h.service.list_executions(sm, max_results=0)  # 0: AWS's default page size
    assert [e["executionArn"] for e in listed] == [done["executionArn"]] and token is None
    for bad in ({"max_results": -1}, {"status": "BOGUS"}, {"redrive_filter": "BOGUS"}):
        with pytest.raises(api.ValidationException):
            h.service.list_executions(sm, **bad)
    assert h.service.list_executions(sm, redrive_filter="REDRIVEN") == ([], None)


def test_redrive_execution_answers_the_redrive_date_it_stores(make: Callable[..., Harness],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    h = make()
    sm = h.machine({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "No"}}})
    arn = h.service.start_execution(sm)
    assert h.engine.wait(arn, timeout=5)["status"] == "FAILED"
    # The decider applies the redrive in a later round, on a clock reading of its own: say 250 ms later.
    monkeypatch.setattr(runtime, "now_ms", lambda: service.now_ms() + 250)
    answered = h.service.redrive_execution(arn)
    right_after = h.service.describe_execution(arn)
    assert (right_after["redriveCount"], right_after["redriveDate"]) == (1, answered)
    assert h.engine.wait(arn, timeout=5)["status"] == "FAILED"
    listed, _ = h.service.list_executions(sm, redrive_filter="REDRIVEN")
    (event,) = [e for e in h.service.get_execution_history(arn) if e["type"] == "ExecutionRedriven"]
    assert [h.service.describe_execution(arn)["redriveDate"], listed[0]["redriveDate"], event["timestamp"]] == \
        [answered] * 3
    h.engine.stop()  # the redrives below stay queued: nothing ends the execution between them
    h.service.redrive_execution(arn)
    with pytest.raises(api.ExecutionNotRedrivable, match="Execution is RUNNING and cannot be redriven"):
        h.service.redrive_execution(arn)
    assert h.service.describe_execution(arn)["redriveCount"] == 2


def test_history_reverse_and_pagination(make: Callable[..., Harness]) -> None:
    h = make({"double": double})
    desc, events = h.run({"StartAt": "A", "States": {"A": task("double", "B"), "B": task("double", "C"),
                                                      "C": {"Type": "Pass", "End": True}}}, {"value": 1})
    arn = desc["executionArn"]
    assert len(events) > 7
    assert h.service.get_execution_history(arn, reverse=True) == events[::-1]
    forward: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = h.service.get_execution_history(arn, max_results=3, next_token=token)
        if not page:
            break
        forward += page
        token = str(page[-1]["id"])
    assert forward == events
    backward: list[dict[str, Any]] = []
    token = None
    while True:
        page = h.service.get_execution_history(arn, reverse=True, max_results=3, next_token=token)
        if not page:
            break
        backward += page
        token = str(page[-1]["id"])
    assert backward == events[::-1]
    without_data = h.service.get_execution_history(arn, include_execution_data=False)
    assert all("input" not in e.get("executionStartedEventDetails", {}) for e in without_data)


# ---- task tokens ------------------------------------------------------------------------------

TOKEN_TASK = {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
              "Parameters": {"QueueUrl": "https://sqs.example/q", "MessageBody": {"token.$": "$$.Task.Token"}},
              "End": True}


def _token_execution(h: Harness, **fields: Any) -> tuple[str, str]:
    arn = h.service.start_execution(h.machine({"StartAt": "Approve", "States": {"Approve": {**TOKEN_TASK, **fields}}}),
                                    {"claim": 7})
    h.wait_for(lambda: "TaskStarted" in h.history_types(arn))
    token = scheduled_parameters(h.service.get_execution_history(arn))["MessageBody"]["token"]
    return arn, token


def test_an_answer_stored_while_its_timeout_is_being_written_wins(make: Callable[..., Harness],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """SendTaskSuccess commits between the decider's read and the write of the round that times the
    task out: the answer came first (and was told so), so the round is recomputed with it first."""
    from stateway.engine.writer import Writer

    h = make()
    answered: list[str] = []
    submit = Writer.submit

    def answer_first(self: Writer[Any], item: Any, *, urgent: bool = False) -> None:
        work = getattr(item, "work", None)
        timing_out = work is not None and any('"TaskTimedOut"' in piece[3] for piece in work.history)
        if timing_out and not answered:  # the round that times the task out, before it is written
            answered.append(token)
            h.service.send_task_success(token, json.dumps({"approved": True}))
        submit(self, item, urgent=urgent)

    arn, token = _token_execution(h, HeartbeatSeconds=1)
    monkeypatch.setattr(Writer, "submit", answer_first)
    desc = h.engine.wait(arn, timeout=10)
    assert answered, "the heartbeat deadline came"
    assert (desc["status"], json.loads(desc["output"])) == ("SUCCEEDED", {"approved": True})
    assert "TaskTimedOut" not in types(h.service.get_execution_history(arn))


def test_wait_for_task_token_send_task_success(make: Callable[..., Harness]) -> None:
    h = make()
    arn, token = _token_execution(h)
    time.sleep(0.2)
    assert h.service.describe_execution(arn)["status"] == "RUNNING"
    assert h.rows("SELECT status FROM tasks WHERE token = ?", token) == [("WAITING",)]
    for not_json, words in [  # not JSON as AWS reads it, said in Jackson's words
            ("{not json", "Unexpected character ('n' (code 110)): was expecting double-quote to start field name"),
            ('{"a": NaN}', "Non-standard token 'NaN': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow"),
            ("", "No content to map due to end-of-input"),
            ("[" * 5000 + "]" * 5000, "Document nesting depth exceeds the maximum allowed (1000)")]:
        with pytest.raises(api.InvalidOutput) as refused:
            h.service.send_task_success(token, not_json)
        assert refused.value.message.startswith(f"Invalid Output: '{words}"), refused.value.message
    h.service.send_task_success(token, json.dumps({"approved": True}))
    desc = h.engine.wait(arn, timeout=5)
    assert desc["status"] == "SUCCEEDED"
    assert json.loads(desc["output"]) == {"approved": True}
    assert types(h.service.get_execution_history(arn))[-3:] == ["TaskSucceeded", "TaskStateExited",
                                                                 "ExecutionSucceeded"]
    with pytest.raises(api.TaskTimedOut):  # AWS: "Provided task does not exist anymore"
        h.service.send_task_success(token, "{}")
    with pytest.raises(api.TaskTimedOut):  # the token is looked at first (our choice: AWS's order is unknown)
        h.service.send_task_success(token, "{not json")
    with pytest.raises(api.TaskDoesNotExist):  # the form of a token, but never handed out
        h.service.send_task_success("0b9d7a2e-8f5c-4c1e-9a59-2f7d6b0c1e3a", "{}")
    with pytest.raises(api.InvalidToken):  # no token could look like this
        h.service.send_task_success("no-such-token", "{}")


def test_wait_for_task_token_send_task_failure(make: Callable[..., Harness]) -> None:
    h = make()
    arn, token = _token_execution(h)
    h.service.send_task_failure(token, error="Rejected", cause="by reviewer")
    desc = h.engine.wait(arn, timeout=5)
    assert desc["status"] == "FAILED"
    assert (desc["error"], desc["cause"]) == ("Rejected", "by reviewer")
    assert types(h.service.get_execution_history(arn))[-2:] == ["TaskFailed", "ExecutionFailed"]


def test_send_task_failure_without_error_is_caught_as_nulls(make: Callable[..., Harness]) -> None:
    h = make()
    caught = {**{k: v for k, v in TOKEN_TASK.items() if k != "End"}, "Catch": [
        {"ErrorEquals": ["States.Runtime"], "ResultPath": "$.runtime", "Next": "Done"},
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.all", "Next": "Done"}], "Next": "Done"}
    arn = h.service.start_execution(h.machine({"StartAt": "Ask", "States": {
        "Ask": caught, "Done": {"Type": "Pass", "End": True}}}), {"claim": 7})
    h.wait_for(lambda: "TaskStarted" in h.history_types(arn))
    h.service.send_task_failure(scheduled_parameters(h.service.get_execution_history(arn))["MessageBody"]["token"])
    desc = h.engine.wait(arn, timeout=5)
    assert json.loads(desc["output"]) == {"claim": 7, "all": {"Error": None, "Cause": None}}  # as AWS records it
    failed = [e for e in h.service.get_execution_history(arn) if e["type"] == "TaskFailed"]
    assert failed[0]["taskFailedEventDetails"] == {"resourceType": "sqs", "resource": "sendMessage.waitForTaskToken"}


def test_an_answer_stored_before_a_crash_is_applied_on_restart(tmp_path: Path) -> None:
    """The answer closes the task and queues its event in one transaction; the engine's round applies
    it later, even in the next process, and deletes the task then."""
    db = tmp_path / "answer.db"
    with Engine(f"sqlite:///{db}", poll_interval=0.05) as engine:
        arn = engine.service.start_execution(engine.service.create_state_machine("answered", {
            "StartAt": "Approve", "States": {"Approve": TOKEN_TASK}}))
        wait_for(lambda: "TaskStarted" in types(engine.service.get_execution_history(arn)))
        token = scheduled_parameters(engine.service.get_execution_history(arn))["MessageBody"]["token"]
    answering = Engine(f"sqlite:///{db}")  # not started: only its service writes, as an API process would
    answering.service.send_task_success(token, '"approved"')
    with pytest.raises(api.TaskTimedOut):
        answering.service.send_task_failure(token, "Late")
    assert rows(db, "SELECT COUNT(*) FROM tasks") == [(1,)] and rows(db, "SELECT COUNT(*) FROM inbox") == [(1,)]
    answering.store.close()
    with Engine(f"sqlite:///{db}", poll_interval=0.05) as engine:
        assert engine.wait(arn, timeout=10)["output"] == '"approved"'
        wait_for(lambda: rows(db, "SELECT COUNT(*) FROM tasks") == [(0,)])
        with pytest.raises(api.TaskTimedOut):
            engine.service.send_task_heartbeat(token)


def _token_machine(engine: Engine, name: str) -> tuple[str, str, str]:
    """A published machine whose execution waits for a task token: (machine, execution, token)."""
    machine = engine.service.create_state_machine(name, {"StartAt": "Approve", "States": {"Approve": TOKEN_TASK}},
                                                  publish=True)
    arn = engine.service.start_execution(f"{machine}:1")
    wait_for(lambda: "TaskStarted" in types(engine.service.get_execution_history(arn)))
    return machine, arn, scheduled_parameters(engine.service.get_execution_history(arn))["MessageBody"]["token"]


def test_a_machine_deleted_while_no_engine_runs_goes_once_its_execution_ends_after_a_restart(tmp_path: Path) -> None:
    """DELETING is a row: the next engine still ends the execution at its next state transition (here an
    answer stored while no engine ran) and removes the machine, its versions and tags with it."""
    db = tmp_path / "deleting.db"
    with Engine(f"sqlite:///{db}", poll_interval=0.05) as engine:
        machine, arn, token = _token_machine(engine, "retiring")
        engine.service.tag_resource(machine, [{"key": "team", "value": "ops"}])
    offline = Engine(f"sqlite:///{db}")  # not started: only its service writes, as the CLI would
    offline.service.delete_state_machine(machine)
    assert offline.service.describe_state_machine(machine)["status"] == "DELETING"
    offline.service.send_task_success(token, '"approved"')
    offline.store.close()
    with Engine(f"sqlite:///{db}", poll_interval=0.05) as engine:
        desc = engine.wait(arn, timeout=10)
        assert (desc["status"], desc["error"], desc["cause"]) == (
            "FAILED", "States.Runtime", "State machine retiring has been deleted.")
        assert types(engine.service.get_execution_history(arn)) == [
            "ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "ExecutionFailed"]
        with pytest.raises(api.StateMachineDoesNotExist):
            engine.service.describe_state_machine(machine)
    for table in ("state_machines", "state_machine_versions", "tags", "tasks", "timers"):
        assert rows(db, f"SELECT COUNT(*) FROM {table}") == [(0,)], table


def test_a_delete_from_another_process_ends_the_running_engines_execution(tmp_path: Path) -> None:
    db = tmp_path / "elsewhere.db"
    with Engine(f"sqlite:///{db}", poll_interval=0.05) as engine:
        machine, arn, token = _token_machine(engine, "elsewhere")
        other = Engine(f"sqlite:///{db}")  # another process's service: the engine hears of it by polling
        other.service.delete_state_machine(machine)
        other.service.send_task_success(token, '"approved"')  # stored after the delete: it finds it DELETING
        other.store.close()
        desc = engine.wait(arn, timeout=10)
        assert (desc["status"], desc["error"]) == ("FAILED", "States.Runtime")
        with pytest.raises(api.StateMachineDoesNotExist):
            engine.service.describe_state_machine(machine)


def test_send_task_heartbeat_keeps_token_alive(make: Callable[..., Harness]) -> None:
    h = make()
    arn, token = _token_execution(h, HeartbeatSeconds=1)
    for _ in range(6):
        time.sleep(0.3)
        h.service.send_task_heartbeat(token)
    assert h.service.describe_execution(arn)["status"] == "RUNNING"
    h.service.send_task_success(token, '"ok"')
    desc = h.engine.wait(arn, timeout=5)
    assert desc["status"] == "SUCCEEDED" and desc["output"] == '"ok"'


@pytest.mark.parametrize(("fields", "error"), [({"HeartbeatSeconds": 1}, "States.HeartbeatTimeout"),
                                               ({"TimeoutSeconds": 1}, "States.Timeout")])
def test_task_token_times_out(make: Callable[..., Harness], fields: dict[str, Any], error: str) -> None:
    h = make()
    arn, token = _token_execution(h, **fields)
    desc = h.engine.wait(arn, timeout=10)
    assert desc["status"] == "FAILED" and desc["error"] == error
    assert types(h.service.get_execution_history(arn))[-2:] == ["TaskTimedOut", "ExecutionFailed"]
    with pytest.raises(api.TaskTimedOut):
        h.service.send_task_success(token, "{}")


def test_lambda_invoke_wait_for_task_token_from_function(make: Callable[..., Harness]) -> None:
    tokens: list[str] = []

    def hand_off(event: Any, context: Any) -> Any:
        tokens.append(event["token"])
        return {"queued": True}

    h = make({"hand_off": hand_off})
    arn = h.service.start_execution(h.machine({"StartAt": "A", "States": {"A": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "hand_off", "Payload": {"token.$": "$$.Task.Token"}}, "End": True}}}), {})
    h.wait_for(lambda: tokens and "TaskSubmitted" in h.history_types(arn))
    assert h.service.describe_execution(arn)["status"] == "RUNNING"
    h.service.send_task_success(tokens[0], '{"answer": 42}')
    desc = h.engine.wait(arn, timeout=5)
    assert desc["status"] == "SUCCEEDED"
    assert json.loads(desc["output"]) == {"answer": 42}
    assert_gap_free(h.service.get_execution_history(arn))


def _invoke(function: str, invocation_type: Any) -> dict[str, Any]:
    return {"StartAt": "A", "States": {"A": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": function, "Payload": {"n": 1}, "InvocationType": invocation_type},
        "End": True}}}


def test_lambda_invoke_event_queues_the_function_and_succeeds_at_once(make: Callable[..., Harness]) -> None:
    release, called = threading.Event(), threading.Event()
    seen: list[Any] = []

    def slow_then_fail(event: Any, context: Any) -> Any:
        release.wait(30)  # still running when the task has succeeded
        seen.append(event)
        called.set()
        raise RuntimeError("only logged")

    h = make({"slow_then_fail": slow_then_fail})
    desc, events = h.run(_invoke("slow_then_fail", "Event"))
    assert desc["status"] == "SUCCEEDED" and not seen
    output = json.loads(desc["output"])
    assert (output["StatusCode"], output["Payload"], output["SdkHttpMetadata"]["HttpStatusCode"]) == (202, "", 202)
    assert "ExecutedVersion" not in output
    release.set()
    assert called.wait(30) and seen == [{"n": 1}]


def test_lambda_invoke_dry_run_does_not_call_the_function(make: Callable[..., Harness]) -> None:
    calls: list[Any] = []
    h = make({"record": lambda event, context: calls.append(event)})
    desc, _ = h.run(_invoke("record", "DryRun"))
    output = json.loads(desc["output"])
    assert desc["status"] == "SUCCEEDED" and (output["StatusCode"], output["Payload"]) == (204, "")
    assert calls == []
    missing, _ = h.run(_invoke("nowhere", "DryRun"))  # Lambda checks the function exists even so
    assert missing["error"] == "Lambda.ResourceNotFoundException"


@pytest.mark.parametrize("invocation_type", ["Async", 1])
def test_lambda_invoke_with_an_unknown_invocation_type_fails_as_lambda_does(make: Callable[..., Harness],
                                                                            invocation_type: Any) -> None:
    calls: list[Any] = []
    h = make({"record": lambda event, context: calls.append(event)})
    desc, _ = h.run(_invoke("record", invocation_type))
    assert (desc["status"], desc["error"]) == ("FAILED", "Lambda.AWSLambdaException")
    assert desc["cause"].startswith(f"1 validation error detected: Value '{invocation_type}' at 'invocationType' "
                                    "failed to satisfy constraint: Member must satisfy enum value set: "
                                    "[Event, RequestResponse, DryRun] (Service: AWSLambda; Status Code: 400; "
                                    "Error Code: ValidationException; Request ID: ")
    assert calls == []


@pytest.mark.parametrize("function_name", [
    "ok", "ok:$LATEST", "ok:prod", "ok:7", "123456789012:function:ok", "123456789012:function:ok:$LATEST",
    "arn:aws:lambda:us-east-1:123456789012:function:ok", "arn:aws:lambda:us-east-1:123456789012:function:ok:prod"])
def test_lambda_invoke_takes_every_form_of_function_name(make: Callable[..., Harness], function_name: str) -> None:
    def ok(event: Any, context: Any) -> Any:
        return {"got": event}

    h = make({"ok": ok, "ok:prod": ok, "ok:7": ok})  # a version or alias runs what is registered under it
    desc, _ = h.run(_invoke(function_name, "RequestResponse"))
    assert desc["status"] == "SUCCEEDED", desc
    assert json.loads(desc["output"])["Payload"] == {"got": {"n": 1}}


def test_lambda_invoke_names_a_missing_function_by_its_qualified_arn(make: Callable[..., Harness]) -> None:
    h = make()
    for function_name, arn in [
            ("nope", "arn:aws:lambda:us-east-1:123456789012:function:nope:$LATEST"),
            ("nope:v1", "arn:aws:lambda:us-east-1:123456789012:function:nope:v1"),
            ("111111111111:function:nope", "arn:aws:lambda:us-east-1:111111111111:function:nope:$LATEST"),
            ("arn:aws:lambda:eu-west-1:111111111111:function:nope:7",
             "arn:aws:lambda:eu-west-1:111111111111:function:nope:7")]:
        desc, _ = h.run(_invoke(function_name, "RequestResponse"))
        assert (desc["status"], desc["error"]) == ("FAILED", "Lambda.ResourceNotFoundException")
        assert desc["cause"].startswith(f"Function not found: {arn} (Service: AWSLambda; Status Code: 404; "), desc


def test_lambda_invoke_refuses_a_malformed_function_name_as_lambda_does(make: Callable[..., Harness]) -> None:
    calls: list[Any] = []
    h = make({"ok": lambda event, context: calls.append(event)})
    pattern = ("(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?(\\d{12}:)?"
               "(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST(\\.PUBLISHED)?|[a-zA-Z0-9-_]+))?")
    desc, _ = h.run(_invoke("ok:v.1", "RequestResponse"))
    assert (desc["status"], desc["error"]) == ("FAILED", "Lambda.AWSLambdaException")
    assert desc["cause"].startswith(
        "1 validation error detected: Value 'ok:v.1' at 'functionName' failed to satisfy constraint: Member must "
        f"satisfy regular expression pattern: {pattern} (Service: AWSLambda; Status Code: 400; Error Code: "
        "ValidationException; Request ID: "), desc["cause"]
    desc, _ = h.run(_invoke("x" * 257, "Async"))  # every broken member is listed, as Lambda lists them
    assert desc["cause"].startswith(f"2 validation errors detected: Value '{'x' * 257}' at 'functionName' failed to "
                                    "satisfy constraint: Member must have length less than or equal to 256; "), desc
    assert "; Value 'Async' at 'invocationType' failed to satisfy constraint: " in desc["cause"]
    assert calls == []


# ---- nested executions -------------------------------------------------------------------------


def _nested(h: Harness, resource: str, child_definition: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    child = h.machine(child_definition)
    return h.run({"StartAt": "Child", "States": {"Child": {
        "Type": "Task", "Resource": resource,
        "Parameters": {"StateMachineArn": child, "Input": {"value.$": "$.value"}}, "End": True}}}, {"value": 4})


CHILD = {"StartAt": "D", "States": {"D": task("double")}}


def test_nested_start_execution_sync(make: Callable[..., Harness]) -> None:
    h = make({"double": double})
    desc, events = _nested(h, "arn:aws:states:::states:startExecution.sync", CHILD)
    assert desc["status"] == "SUCCEEDED", desc
    out = json.loads(desc["output"])
    assert out["Status"] == "SUCCEEDED"
    assert isinstance(out["Output"], str) and json.loads(out["Output"]) == {"value": 8}
    assert isinstance(out["Input"], str) and json.loads(out["Input"]) == {"value": 4}
    assert {"ExecutionArn", "StartDate", "StopDate", "StateMachineArn", "Name", "OutputDetails"} <= set(out)
    assert h.service.describe_execution(out["ExecutionArn"])["status"] == "SUCCEEDED"
    assert types(events)[2:7] == ["TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded",
                                  "TaskStateExited"]
    assert_gap_free(events)


def test_nested_start_execution_sync2_parses_json(make: Callable[..., Harness]) -> None:
    h = make({"double": double})
    desc, _ = _nested(h, "arn:aws:states:::states:startExecution.sync:2", CHILD)
    assert desc["status"] == "SUCCEEDED", desc
    out = json.loads(desc["output"])
    assert out["Output"] == {"value": 8} and out["Input"] == {"value": 4}


def test_nested_start_execution_sync_child_failure(make: Callable[..., Harness]) -> None:
    h = make()
    desc, _ = _nested(h, "arn:aws:states:::states:startExecution.sync",
                      {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Child.Broke", "Cause": "why"}}})
    assert desc["status"] == "FAILED"
    assert desc["error"] == "States.TaskFailed"
    cause = json.loads(desc["cause"])
    assert cause["Status"] == "FAILED" and cause["Error"] == "Child.Broke" and cause["Cause"] == "why"


def test_nested_start_execution_fire_and_forget(make: Callable[..., Harness]) -> None:
    h = make({"double": double})
    desc, _ = _nested(h, "arn:aws:states:::states:startExecution", CHILD)
    assert desc["status"] == "SUCCEEDED"
    out = json.loads(desc["output"])
    assert set(out) == {"ExecutionArn", "StartDate"}
    child = h.engine.wait(out["ExecutionArn"], timeout=10)
    assert child["status"] == "SUCCEEDED" and json.loads(child["output"]) == {"value": 8}


def test_redispatched_nested_start_does_not_start_a_second_child(make: Callable[..., Harness]) -> None:
    from stateway.engine.codec import command_from_json

    h = make()
    child = h.machine({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": YEAR_SECONDS, "End": True}}})
    parent = h.service.start_execution(h.machine({"StartAt": "Child", "States": {"Child": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync",
        "Parameters": {"StateMachineArn": child, "Input": {}}, "End": True}}}), {})
    h.wait_for(lambda: "TaskSubmitted" in h.history_types(parent))
    ((command,),) = h.rows("SELECT command FROM tasks WHERE execution_arn = ?", parent)
    # Exactly what Engine._recover does with a task row the crash left behind.
    h.engine.dispatcher.dispatch(parent, command_from_json(command))
    time.sleep(0.5)
    children, _ = h.service.list_executions(child)
    assert len(children) == 1
    # The re-run reports the submission again; the history records it once.
    assert h.history_types(parent).count("TaskSubmitted") == 1


# ---- Parallel, Map, async handlers, payload limits ----------------------------------------------


def test_parallel_and_map_with_tasks(make: Callable[..., Harness]) -> None:
    h = make({"double": double, "add_one": add_one})
    definition = {"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Next": "M", "ResultSelector": {"items.$": "$[0].items"}, "Branches": [
            {"StartAt": "Items", "States": {"Items": {"Type": "Pass", "Parameters": {
                "items": [{"value": 1}, {"value": 2}, {"value": 3}, {"value": 4}, {"value": 5}]}, "End": True}}},
            {"StartAt": "Side", "States": {"Side": task("add_one")}},
        ]},
        "M": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2, "End": True,
              "ItemProcessor": {"StartAt": "D", "States": {"D": task("double", "I"), "I": task("add_one")}}},
    }}
    desc, events = h.run(definition, {"value": 10})
    assert desc["status"] == "SUCCEEDED", desc
    assert json.loads(desc["output"]) == [{"value": v * 2 + 1} for v in range(1, 6)]
    counts = Counter(types(events))
    assert counts["MapIterationStarted"] == counts["MapIterationSucceeded"] == 5
    assert counts["LambdaFunctionSucceeded"] == 11
    assert_gap_free(events)
    # Concurrent branches interleave differently, but the same events happen as in the pure runner.
    local = LocalRunner({"double": double, "add_one": add_one}).run(definition, {"value": 10})
    assert Counter(types(local.events)) == counts


def test_async_handler(make: Callable[..., Harness]) -> None:
    async def fetch(event: Any, context: Any) -> Any:
        await asyncio.sleep(0.05)
        return {"fetched": event["id"], "key": context.idempotency_key.rsplit("/", 2)[-2:]}

    h = make({"fetch": fetch})
    desc, _ = h.run({"StartAt": "A", "States": {"A": task("fetch")}}, {"id": "x"})
    assert desc["status"] == "SUCCEEDED", desc
    assert json.loads(desc["output"]) == {"fetched": "x", "key": ["A", "0"]}


def test_result_over_256_kib_exceeds_data_limit(make: Callable[..., Harness]) -> None:
    def big(event: Any, context: Any) -> Any:
        return {"blob": "x" * 300_000}

    h = make({"big": big})
    desc, events = h.run({"StartAt": "A", "States": {"A": task("big")}})
    assert desc["status"] == "FAILED"
    assert desc["error"] == "States.DataLimitExceeded"
    assert "LambdaFunctionFailed" in types(events)


# ---- the engine's history is the pure core's history ------------------------------------------


def flaky_once_factory() -> Callable[[Any, Any], Any]:
    seen: set[str] = set()

    def flaky_once(event: Any, context: Any) -> Any:
        state = context.idempotency_key.replace(":", "/").split("/")[-2]
        if state not in seen:
            seen.add(state)
            raise TimeoutError("first call fails")
        return event

    return flaky_once


COMPARED = {"StartAt": "Start", "States": {
    "Start": {"Type": "Pass", "Result": {"value": 3, "items": [1, 2, 3]}, "Next": "Flaky"},
    "Flaky": task("flaky", "Check", Retry=[{"ErrorEquals": ["TimeoutError"], "IntervalSeconds": 1,
                                            "MaxAttempts": 2}]),
    "Check": {"Type": "Choice", "Choices": [{"Variable": "$.value", "NumericGreaterThan": 2, "Next": "Each"}],
              "Default": "Nope"},
    "Nope": {"Type": "Fail", "Error": "Nope"},
    "Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1, "ResultPath": "$.mapped",
             "ItemSelector": {"value.$": "$$.Map.Item.Value"},
             "ItemProcessor": {"StartAt": "D", "States": {"D": task("double")}}, "Next": "Broken"},
    "Broken": task("boom", "Done", Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "Pause"}]),
    "Pause": {"Type": "Wait", "Seconds": 1, "Next": "Done"},
    "Done": {"Type": "Succeed"},
}}


def test_history_matches_local_runner(make: Callable[..., Harness]) -> None:
    def boom(event: Any, context: Any) -> Any:
        raise RuntimeError("always")

    h = make({"flaky": flaky_once_factory(), "double": double, "boom": boom})
    desc, events = h.run(COMPARED, {})
    assert desc["status"] == "SUCCEEDED", desc
    assert_gap_free(events)
    local = LocalRunner({"flaky": flaky_once_factory(), "double": double, "boom": boom}).run(COMPARED, {})
    assert local.status == "SUCCEEDED"
    assert types(events) == types(local.events)
    assert [(e["id"], e["previousEventId"]) for e in events] == [(e["id"], e["previousEventId"])
                                                                 for e in local.events]
    engine_output, local_output = json.loads(desc["output"]), local.output_value
    # The caught Lambda cause carries a per-invocation requestId; everything else is identical.
    for output in (engine_output, local_output):
        output["caught"]["Cause"] = json.loads(output["caught"]["Cause"])["errorMessage"]
    assert engine_output == local_output


def test_an_execution_keeps_its_state_machines_role_across_a_restart(tmp_path: Path) -> None:
    role = "arn:aws:iam::123456789012:role/MyRole"
    approve = {**{k: v for k, v in TOKEN_TASK.items() if k != "End"}, "Next": "Role"}
    definition = {"StartAt": "Approve", "States": {"Approve": approve, "Role": {
        "Type": "Pass", "Parameters": {"role.$": "$$.Execution.RoleArn"}, "End": True}}}
    db = f"sqlite:///{tmp_path / 'role.db'}"
    with Engine(db, poll_interval=0.05) as engine:
        own = engine.service.start_execution(engine.service.create_state_machine("own", definition, role_arn=role))
        default = engine.service.start_execution(engine.service.create_state_machine("default", definition))
        tokens = {}
        for arn in (own, default):
            wait_for(lambda arn=arn: "TaskStarted" in types(engine.service.get_execution_history(arn)))
            tokens[arn] = scheduled_parameters(engine.service.get_execution_history(arn))["MessageBody"]["token"]
    with Engine(db, poll_interval=0.05) as engine:  # a new process reads the execution back from the store
        for arn in (own, default):
            engine.service.send_task_success(tokens[arn], "{}")
        assert json.loads(engine.wait(own, timeout=10)["output"]) == {"role": role}
        assert json.loads(engine.wait(default, timeout=10)["output"]) == {
            "role": "arn:aws:iam::123456789012:role/stateway"}
