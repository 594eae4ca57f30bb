"""A Python function's timeout, as a Lambda function's: per function or the engine's default for all; a
function that outlives it fails its task with Lambda's `Sandbox.Timedout`, and the worker it hangs in is
replaced, so that hung functions never use up the engine's workers."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import pytest
from support import FN, wait_for

import stateway
from stateway.asl.parse import parse_machine
from stateway.engine import Engine
from stateway.engine.express import ExpressRunner
from stateway.engine.pool import WorkerPool
from stateway.workers.python import FunctionLoadError, load_functions, load_functions_dir

pytestmark = pytest.mark.integration

INVOKE = "arn:aws:states:::lambda:invoke"


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at the end of the test: the hung functions return then (their threads cannot be killed)."""
    event = threading.Event()
    yield event
    event.set()


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"  # the registry is the process's: each test its own names


def _legacy(name: str, **extra: Any) -> dict[str, Any]:
    return {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": FN + name, "End": True, **extra}}}


def _invoke(name: str, **extra: Any) -> dict[str, Any]:
    return {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": INVOKE, "End": True,
                                             "Parameters": {"FunctionName": name, "Payload.$": "$"}, **extra}}}


def _workers(other: Collection[threading.Thread] = ()) -> list[threading.Thread]:
    """The worker threads alive, but for `other` (an earlier test's, still ending, in this process)."""
    return [t for t in threading.enumerate() if t.name.startswith("stateway-worker_") and t not in other]


def _timed_out_cause(request_id: str, seconds: str) -> dict[str, str]:
    return {"errorType": "Sandbox.Timedout", "errorMessage": f"RequestId: {request_id} Error: Task timed out after "
                                                            f"{seconds} seconds"}


def test_a_hung_function_fails_as_lambdas_timeout_and_no_longer_holds_the_only_worker(
        tmp_path: Path, release: threading.Event) -> None:
    hang, quick = _unique("hang"), _unique("quick")
    request_ids: list[str] = []
    returned = threading.Event()

    @stateway.function(hang, timeout=0.5)
    def hangs(event: Any, context: Any) -> dict[str, str]:
        request_ids.append(context.aws_request_id)
        release.wait(60)
        returned.set()
        return {"late": "result"}

    @stateway.function(quick)
    def answers(event: Any, context: Any) -> dict[str, bool]:
        return {"ran": True}

    earlier = set(_workers())
    with Engine(f"sqlite:///{tmp_path / 'e.db'}", workers=1, poll_interval=0.05) as engine:
        service = engine.service
        hung = service.start_execution(service.create_state_machine("hung", _legacy(hang)), {})
        # Queued behind the hung function on the engine's only worker: it runs once that one times out.
        other = service.start_execution(service.create_state_machine("other", _legacy(quick)), {})
        assert engine.wait(other, timeout=30)["status"] == "SUCCEEDED"
        failed = engine.wait(hung, timeout=30)
        assert (failed["status"], failed["error"]) == ("FAILED", "Sandbox.Timedout")
        assert json.loads(failed["cause"]) == _timed_out_cause(request_ids[0], "0.50")
        history = service.get_execution_history(hung)
        assert [e["type"] for e in history][-3:] == ["LambdaFunctionStarted", "LambdaFunctionFailed", "ExecutionFailed"]
        assert history[-2]["lambdaFunctionFailedEventDetails"]["error"] == "Sandbox.Timedout"
        assert len(_workers(earlier)) == 2, "the hung thread, and the one that took its place"

        release.set()  # the hung function returns now: its late result is never read
        returned.wait(10)
        wait_for(lambda: len(_workers(earlier)) == 1)  # the thread given up on ends, the pool keeps its size
        again = service.start_execution(service.create_state_machine("again", _legacy(quick)), {})
        assert engine.wait(again, timeout=30)["status"] == "SUCCEEDED"
        assert service.get_execution_history(hung) == history
        assert service.describe_execution(hung)["status"] == "FAILED"


def test_lambda_invoke_reports_the_timeout_and_retry_and_catch_apply(tmp_path: Path, release: threading.Event) -> None:
    flaky = _unique("flaky")
    calls: list[int] = []

    @stateway.function(flaky, timeout=0.5)
    def first_call_hangs(event: Any, context: Any) -> dict[str, int]:
        calls.append(1)
        if len(calls) == 1:
            release.wait(60)
        return {"call": len(calls)}

    retried = _invoke(flaky, Retry=[{"ErrorEquals": ["Sandbox.Timedout"], "IntervalSeconds": 1, "MaxAttempts": 1}],
                      OutputPath="$.Payload")
    caught = {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": INVOKE, "Parameters": {"FunctionName": flaky}, "Next": "Fine",
              "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Handled"}]},
        "Fine": {"Type": "Succeed"}, "Handled": {"Type": "Pass", "End": True}}}
    with Engine(f"sqlite:///{tmp_path / 'e.db'}", workers=2, poll_interval=0.05) as engine:
        service = engine.service
        done = engine.wait(service.start_execution(service.create_state_machine("retried", retried), {}), timeout=30)
        assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == {"call": 2}
        failures = [e for e in service.get_execution_history(done["executionArn"]) if e["type"] == "TaskFailed"]
        assert [(f["taskFailedEventDetails"]["error"], f["taskFailedEventDetails"]["resourceType"]) for f in failures] \
            == [("Sandbox.Timedout", "lambda")]

        calls.clear()
        done = engine.wait(service.start_execution(service.create_state_machine("caught", caught), {}), timeout=30)
        assert done["status"] == "SUCCEEDED", "States.TaskFailed matches a function's timeout"
        error = json.loads(done["output"])["error"]
        assert error["Error"] == "Sandbox.Timedout"
        assert json.loads(error["Cause"])["errorMessage"].endswith("Error: Task timed out after 0.50 seconds")


def test_the_shorter_of_the_functions_timeout_and_the_tasks_wins_and_the_context_counts_down_to_it(
        tmp_path: Path, release: threading.Event) -> None:
    own, default, short = _unique("own"), _unique("default"), _unique("short")
    remaining: dict[str, int] = {}

    def remember(event: Any, context: Any) -> None:
        remaining[event["case"]] = context.get_remaining_time_in_millis()
        if event.get("hang"):
            release.wait(60)

    stateway.function(own, timeout=600)(remember)
    stateway.function(default)(remember)
    stateway.function(short, timeout=30)(remember)
    with Engine(f"sqlite:///{tmp_path / 'e.db'}", poll_interval=0.05, function_timeout_seconds=300) as engine:
        service = engine.service
        for case, definition in [("own", _legacy(own)), ("default", _legacy(default)),
                                 ("task", _legacy(own, TimeoutSeconds=120))]:
            arn = service.create_state_machine(case, definition)
            assert engine.wait(service.start_execution(arn, {"case": case}), timeout=30)["status"] == "SUCCEEDED"
        # Bounds with room for a slow machine: each is counted from when the function was called.
        assert 300_000 < remaining["own"] <= 600_000
        assert 150_000 < remaining["default"] <= 300_000
        assert 60_000 < remaining["task"] <= 120_000

        # A task whose TimeoutSeconds is shorter than its function's timeout times out as the task does.
        arn = service.create_state_machine("short", _legacy(short, TimeoutSeconds=1))
        done = engine.wait(service.start_execution(arn, {"case": "short", "hang": True}), timeout=30)
        assert (done["status"], done["error"]) == ("FAILED", "States.Timeout")


def test_a_function_hung_when_the_engine_stopped_times_out_after_the_restart(
        tmp_path: Path, release: threading.Event) -> None:
    db = f"sqlite:///{tmp_path / 'e.db'}"
    name = _unique("stuck")
    started: list[str] = []

    def stuck(event: Any, context: Any) -> None:
        started.append(context.idempotency_key)
        release.wait(60)

    with Engine(db, functions={name: stuck}, poll_interval=0.05) as engine:  # the default: 900 s
        arn = engine.service.start_execution(engine.service.create_state_machine("m", _legacy(name)), {})
        wait_for(lambda: started)
    with Engine(db, functions={name: stuck}, poll_interval=0.05, function_timeout_seconds=0.5) as engine:
        done = engine.wait(arn, timeout=30)
    assert (done["status"], done["error"]) == ("FAILED", "Sandbox.Timedout")
    assert json.loads(done["cause"])["errorMessage"].endswith("Task timed out after 0.50 seconds")
    assert len(started) == 2 and started[0] == started[1], "run again after the restart, with the same key"


def test_express_executions_time_functions_out_and_keep_their_workers(release: threading.Event) -> None:
    hang, quick = _unique("hang"), _unique("quick")

    def hangs(event: Any, context: Any) -> None:
        release.wait(60)

    runner = ExpressRunner({hang: hangs, quick: lambda event, context: {"ran": True}}, workers=1,
                           function_timeout_seconds=0.5)
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:express"
    try:
        record = runner.run_sync(parse_machine(_invoke(hang)), machine, "hung", "{}")
        assert (record.status, record.error) == ("FAILED", "Sandbox.Timedout")
        assert [e["type"] for e in record.events][-3:] == ["TaskStarted", "TaskFailed", "ExecutionFailed"]
        record = runner.run_sync(parse_machine(_invoke(quick)), machine, "quick", "{}")
        assert record.status == "SUCCEEDED" and json.loads(record.output or "")["Payload"] == {"ran": True}
    finally:
        runner.shutdown()


def test_a_timeout_is_declared_in_a_functions_module_and_bad_ones_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "fns"
    folder.mkdir()
    (folder / "slow.py").write_text("import time\nSTATEWAY_TIMEOUT = 0.5\n\n"
                                    "def handler(event, context):\n    time.sleep(3600)\n")
    (folder / "plain.py").write_text("def handler(event, context):\n"
                                     "    return context.get_remaining_time_in_millis()\n")
    functions = load_functions_dir(folder)
    assert getattr(functions["slow"], "timeout_seconds", None) == 0.5
    assert not hasattr(functions["plain"], "timeout_seconds")

    definition = tmp_path / "slow.asl.json"
    definition.write_text(json.dumps(_legacy("slow")))
    for mode in (["--in-memory"], ["--db", f"sqlite:///{tmp_path / 'run.db'}"]):
        done = subprocess.run([sys.executable, "-m", "stateway.cli.main", "run", str(definition), "--functions",
                               str(folder), "--json", *mode], capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["error"] == "Sandbox.Timedout", mode
        assert json.loads(result["cause"])["errorMessage"].endswith("Task timed out after 0.50 seconds")

    # --function-timeout sets the default of every function without its own.
    definition.write_text(json.dumps(_legacy("plain")))
    done = subprocess.run([sys.executable, "-m", "stateway.cli.main", "run", str(definition), "--functions",
                           str(folder), "--json", "--in-memory", "--function-timeout", "40"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert 20_000 < json.loads(json.loads(done.stdout)["output"]) <= 40_000

    (folder / "bad.py").write_text("STATEWAY_TIMEOUT = '30'\n\ndef handler(event, context):\n    return 1\n")
    with pytest.raises(FunctionLoadError, match=r"bad.py: STATEWAY_TIMEOUT must be a number of seconds, not str"):
        load_functions_dir(folder)
    (folder / "bad.py").write_text("STATEWAY_TIMEOUT = 0\n\ndef handler(event, context):\n    return 1\n")
    with pytest.raises(FunctionLoadError, match=r"STATEWAY_TIMEOUT must be a positive number of seconds, not 0"):
        load_functions_dir(folder)
    for value in ("--function-timeout=0", "--function-timeout=nan", "--function-timeout=-1"):
        done = subprocess.run([sys.executable, "-m", "stateway.cli.main", "run", str(definition), value],
                              capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert done.returncode == 2 and "is not a number of seconds (more than 0)" in done.stderr, done.stderr


def test_module_function_and_the_decorator_set_timeouts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "timedpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "own.py").write_text("STATEWAY_TIMEOUT = 12\n\ndef charge(event, context):\n    return 1\n")
    name = _unique("decorated")
    (package / "decorated.py").write_text(
        f"import stateway\n\n@stateway.function({name!r}, timeout=7)\ndef {name.replace('-', '_')}(event, context):\n"
        "    return 2\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert getattr(load_functions("timedpkg.own:charge")["charge"], "timeout_seconds", None) == 12
    decorated = load_functions(f"timedpkg.decorated:{name.replace('-', '_')}")
    assert getattr(decorated[name], "timeout_seconds", None) == 7
    assert decorated[name]({}, None) == 2
    with pytest.raises(ValueError, match="timeout must be a positive number of seconds"):
        stateway.function("never", timeout=-1)
    with pytest.raises(TypeError, match="timeout must be a number of seconds"):
        stateway.function("never", timeout="5")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive number of seconds"):
        Engine(f"sqlite:///{tmp_path / 'e.db'}", function_timeout_seconds=0)


def test_a_bounded_call_that_hangs_is_replaced_in_the_pool(release: threading.Event) -> None:
    pool = WorkerPool(1, "bounded-test")
    expired: list[str] = []
    ran: list[str] = []
    finished: list[bool] = []

    def hangs() -> None:
        limit = pool.limit(0.2, lambda: expired.append("hangs"))
        release.wait(60)
        finished.append(limit.finish())

    def quick() -> None:
        finished.append(pool.limit(60, lambda: expired.append("quick")).finish())
        ran.append("quick")

    try:
        pool.submit(hangs)
        pool.submit(quick)  # only one thread: it runs once the hung call is given up on
        wait_for(lambda: ran)
        assert expired == ["hangs"] and finished == [True] and pool.abandoned == 1
        release.set()
        wait_for(lambda: len(finished) == 2)
        assert finished == [True, False], "the late call learns that it expired"
        wait_for(lambda: pool.abandoned == 0)
        assert len([t for t in threading.enumerate() if t.name.startswith("bounded-test_")]) == 1
    finally:
        pool.shutdown()


def test_a_timeout_longer_than_a_thread_can_wait_leaves_the_other_timeouts_working(
        tmp_path: Path, release: threading.Event) -> None:
    """A valid timeout (positive, finite) longer than `threading.TIMEOUT_MAX` (some 292 years), as one may
    write for a function that should never time out, must not stop the watchdog that times out the others."""
    patient, hang = _unique("patient"), _unique("hang")
    waiting = threading.Event()

    @stateway.function(patient, timeout=1e10)
    def waits(event: Any, context: Any) -> dict[str, bool]:
        waiting.set()
        release.wait(60)
        return {"patient": True}

    @stateway.function(hang, timeout=0.2)
    def hangs(event: Any, context: Any) -> dict[str, bool]:
        release.wait(60)
        return {"late": True}

    with Engine(f"sqlite:///{tmp_path / 'e.db'}", workers=2, poll_interval=0.05) as engine:
        service = engine.service
        service.start_execution(service.create_state_machine("patient", _legacy(patient)), {})
        assert waiting.wait(30)
        machine = service.create_state_machine("hung", _legacy(hang))
        for _ in range(2):  # the watchdog looks again after the first expiry: the long limit is its next then
            failed = engine.wait(service.start_execution(machine, {}), timeout=30)
            assert (failed["status"], failed.get("error")) == ("FAILED", "Sandbox.Timedout")
