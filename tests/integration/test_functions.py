"""Task functions from a folder, from `module:function`, and from the `@stateway.function` registry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import uuid
from pathlib import Path

import pytest

import stateway
from stateway.engine import Engine
from stateway.workers.python import FunctionLoadError, Invocation, invoke, load_functions
from stateway.workers.registry import registered

pytestmark = pytest.mark.integration

TASK = "arn:aws:lambda:us-east-1:123456789012:function:{}"


def _machine(function_name: str) -> dict[str, object]:
    return {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": TASK.format(function_name), "End": True}}}


def test_registered_function_serves_its_lambda_name(tmp_path: Path) -> None:
    @stateway.function("charge-payment")
    def charge(event: dict[str, int], context: object) -> dict[str, int]:
        return {"charged": event["amount"]}

    with Engine(f"sqlite:///{tmp_path / 'e.db'}") as engine:
        arn = engine.service.create_state_machine("pay", _machine("charge-payment"))
        described = engine.wait(engine.service.start_execution(arn, {"amount": 42}), timeout=10)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"charged": 42}


def test_the_decorator_used_bare_registers_the_function_under_its_own_name(tmp_path: Path) -> None:
    @stateway.function
    def bare_charge(event: dict[str, int], context: object) -> dict[str, int]:
        return {"charged": event["amount"]}

    @stateway.function()
    def called_refund(event: object, context: object) -> dict[str, bool]:
        return {"refunded": True}

    assert bare_charge({"amount": 1}, None) == {"charged": 1}  # still the function itself
    assert registered()["bare_charge"] is bare_charge and registered()["called_refund"] is called_refund
    with Engine(f"sqlite:///{tmp_path / 'e.db'}") as engine:
        arn = engine.service.create_state_machine("bare", _machine("bare_charge"))
        described = engine.wait(engine.service.start_execution(arn, {"amount": 5}), timeout=10)
    assert json.loads(described["output"]) == {"charged": 5}
    with pytest.raises(TypeError, match="takes a function name"):
        stateway.function(42)  # type: ignore[call-overload]


def test_module_function_spec_and_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "shop_tasks.py").write_text(textwrap.dedent("""
        def ship(event, context):
            return {"shipped": event["id"]}
    """))
    (tmp_path / "fns").mkdir()
    (tmp_path / "fns" / "greet.py").write_text("def handler(event, context):\n    return 'hi ' + event\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_functions("shop_tasks:ship")["ship"]({"id": 7}, None) == {"shipped": 7}
    assert load_functions(str(tmp_path / "fns"))["greet"]("ada", None) == "hi ada"
    with pytest.raises(FunctionLoadError):
        load_functions("shop_tasks:missing")
    with pytest.raises(FunctionLoadError):
        load_functions("no_such_module_here:fn")


def test_cli_accepts_module_function(tmp_path: Path) -> None:
    (tmp_path / "shop_tasks.py").write_text("def ship(event, context):\n    return {'shipped': event['id']}\n")
    definition = tmp_path / "ship.asl.json"
    definition.write_text(json.dumps(_machine("ship")))
    done = subprocess.run(
        [sys.executable, "-m", "stateway.cli.main", "run", str(definition), "--functions", "shop_tasks:ship",
         "--input", '{"id": 9}', "--db", f"sqlite:///{tmp_path / 'cli.db'}", "--json"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        # Keep PYTHONPATH: the subprocess must import the stateway under test, not the one the venv installs.
        env={"PYTHONPATH": os.pathsep.join([str(tmp_path), *filter(None, [os.environ.get("PYTHONPATH")])]),
             "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["status"] == "SUCCEEDED" and json.loads(body["output"]) == {"shipped": 9}


def test_cli_imports_a_module_function_from_the_current_directory(tmp_path: Path) -> None:
    """As `python -m` and uvicorn do; `-P` leaves the current directory off sys.path, as the installed
    `stateway` script does."""
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "__init__.py").write_text("")
    (tmp_path / "shop" / "tasks.py").write_text("def ship(event, context):\n    return {'shipped': event['id']}\n")
    (tmp_path / "ship.asl.json").write_text(json.dumps(_machine("ship")))
    done = subprocess.run(
        [sys.executable, "-P", "-m", "stateway.cli.main", "run", "ship.asl.json", "--functions", "shop.tasks:ship",
         "--input", '{"id": 9}', "--in-memory", "--json"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(json.loads(done.stdout)["output"]) == {"shipped": 9}


def _cyclic(event: object, context: object) -> object:
    loop: list[object] = []
    loop.append(loop)
    return loop


@pytest.mark.parametrize(("handler", "message"), [
    (lambda event, context: {"ratio": float("nan")}, "Out of range float values are not JSON compliant"),
    (lambda event, context: [1, float("-inf")], "Out of range float values are not JSON compliant"),
    (lambda event, context: {"ids": {1, 2}}, "Object of type set is not JSON serializable"),
    (_cyclic, "Circular reference detected"),
], ids=["NaN", "infinity", "a set", "a cycle"])
def test_a_result_that_is_not_json_fails_the_task_as_lambda_reports_it(handler: object, message: str) -> None:
    result = invoke(handler, {}, "unsendable")  # type: ignore[arg-type]
    assert not result.ok and result.error == "Runtime.MarshalError"
    cause = json.loads(result.cause or "")
    assert cause["errorType"] == "Runtime.MarshalError" and cause["requestId"] == result.request_id
    assert cause["errorMessage"] == f"Unable to marshal response: {message}"


def test_a_task_whose_function_returns_nan_fails_and_can_be_caught(tmp_path: Path) -> None:
    machine = {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": TASK.format("nan"), "End": True,
              "Catch": [{"ErrorEquals": ["Runtime.MarshalError"], "ResultPath": "$.error", "Next": "Caught"}]},
        "Caught": {"Type": "Pass", "End": True}}}
    with Engine(f"sqlite:///{tmp_path}/nan.db", functions={"nan": lambda event, context: float("nan")}) as engine:
        arn = engine.service.start_execution(engine.service.create_state_machine("nan", machine), {"order": 1})
        done = engine.wait(arn, timeout=30)
    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    assert output["order"] == 1 and output["error"]["Error"] == "Runtime.MarshalError"


def test_each_invocation_has_its_own_lambda_request_id() -> None:
    seen: list[str] = []

    def record(event: object, context: object) -> object:
        seen.append(context.aws_request_id)  # type: ignore[attr-defined]
        raise KeyError("missing")

    results = [invoke(record, {}, "record") for _ in range(3)]
    assert len(set(seen)) == 3
    for request_id, result in zip(seen, results, strict=True):
        assert uuid.UUID(request_id).version == 4 and str(uuid.UUID(request_id)) == request_id
        assert result.request_id == request_id
        assert json.loads(result.cause or "")["requestId"] == request_id


def test_a_stack_trace_reads_each_line_from_its_own_module_when_two_share_a_file_name() -> None:
    import linecache
    import types

    def module(source: str) -> types.ModuleType:
        class Loader:
            @staticmethod
            def get_source(_name: str) -> str:
                return source

        made = types.ModuleType("handler")
        made.__loader__ = Loader()  # type: ignore[assignment]
        exec(compile(source, "/no/such/dir/handler.py", "exec"), made.__dict__)
        return made

    sources = ["def handler(event, context):\n    raise ValueError('first')\n",
               "class Oops(Exception):\n    message: str\n\ndef handler(event, context):\n    raise Oops()\n"]
    first, second = module(sources[0]), module(sources[1])
    for made, other, line in ((first, sources[1], "raise ValueError('first')"), (second, sources[0], "raise Oops()")):
        # What another worker's failure left in linecache under the shared name must not be read.
        linecache.cache["/no/such/dir/handler.py"] = (0, None, other.splitlines(True), "/no/such/dir/handler.py")
        result = invoke(made.handler, {}, "handler")
        trace = json.loads(result.cause or "")["stackTrace"]
        assert trace[0].splitlines()[1].strip() == line
    linecache.cache.pop("/no/such/dir/handler.py", None)


def _exit(code: object) -> object:
    def handler(event: object, context: object) -> object:
        sys.exit(code)  # type: ignore[arg-type]
    return handler


def _interrupt(event: object, context: object) -> object:
    raise KeyboardInterrupt


@pytest.mark.parametrize(("handler", "reason"), [
    (_exit(3), "Runtime exited with error: exit status 3"),
    (_exit("bye"), "Runtime exited with error: exit status 1"),
    (_exit(None), "Runtime exited without providing a reason"),
    (_interrupt, "Runtime exited with error: signal: interrupt"),
], ids=["code", "message", "none", "interrupt"])
def test_a_function_that_exits_fails_its_task_as_lambda_does(handler: object, reason: str) -> None:
    box: dict[str, object] = {}
    # Off the main thread, as a worker runs it; a KeyboardInterrupt in the main thread is the user's Ctrl-C.
    thread = threading.Thread(target=lambda: box.update(result=invoke(handler, {}, "bail")))  # type: ignore[arg-type]
    thread.start()
    thread.join()
    result = box["result"]
    assert isinstance(result, Invocation) and not result.ok and result.error == "Runtime.ExitError"
    assert json.loads(result.cause or "") == {"errorType": "Runtime.ExitError",
                                              "errorMessage": f"RequestId: {result.request_id} Error: {reason}"}


def test_functions_that_exit_neither_end_workers_nor_hang_their_executions(tmp_path: Path) -> None:
    timed = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": TASK.format("bail"), "TimeoutSeconds": 60,
                                              "End": True}}}
    functions = {"bail": _exit(2), "interrupt": _interrupt, "ok": lambda event, context: {"ok": True}}
    with Engine(f"sqlite:///{tmp_path / 'exit.db'}", functions=functions, workers=1) as engine:
        service = engine.service
        machines = [service.create_state_machine(name, _machine(name)) for name in ("bail", "interrupt")]
        machines.append(service.create_state_machine("timed", timed))
        for arn in machines * 2:  # more such calls than workers
            done = engine.wait(service.start_execution(arn, {}), timeout=30)
            assert (done["status"], done.get("error")) == ("FAILED", "Runtime.ExitError"), done
        ok = engine.wait(service.start_execution(service.create_state_machine("ok", _machine("ok")), {}), timeout=30)
    assert ok["status"] == "SUCCEEDED" and json.loads(ok["output"]) == {"ok": True}


def test_a_functions_folder_is_a_package_root_and_a_module_that_exits_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "fns"
    folder.mkdir()
    (folder / "pricing.py").write_text("RATE = 41\n")
    (folder / "quote.py").write_text("import pricing\n\ndef handler(event, context):\n    return pricing.RATE + 1\n")
    definition = tmp_path / "quote.asl.json"
    definition.write_text(json.dumps(_machine("quote")))
    run = [sys.executable, "-m", "stateway.cli.main", "run", str(definition), "--functions", str(folder),
           "--in-memory", "--json"]
    done = subprocess.run(run, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(json.loads(done.stdout)["output"]) == 42
    (folder / "quits.py").write_text("import sys\nsys.exit(1)\n")
    done = subprocess.run(run, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.strip() == f"stateway: cannot load {folder / 'quits.py'}: it called sys.exit(1) while being imported"
