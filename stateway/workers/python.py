"""Lambda-style Python task functions: loading `handler(event, context)` modules and invoking them."""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import json
import math
import os
import random
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Protocol

from stateway.asl import jsontext
from stateway.asl.errors import StatewayError

Handler = Callable[[Any, Any], Any]

# How long a function may run unless it says otherwise: Lambda's maximum. Lambda's own default, 3 s, would
# fail functions that ran for longer before functions here had a timeout at all.
DEFAULT_TIMEOUT_SECONDS = 900.0
# The module attribute that sets the timeout of a function loaded from a file or `module:function`.
TIMEOUT_ATTRIBUTE = "STATEWAY_TIMEOUT"
# What Lambda reports for an invocation that outlives its function's timeout.
TIMED_OUT_ERROR = "Sandbox.Timedout"


class FunctionLoadError(StatewayError):
    """A functions folder or module that cannot be loaded."""


def load_functions_dir(directory: str | Path) -> dict[str, Handler]:
    """Every `NAME.py` defining `handler(event, context)` in `directory`, keyed by NAME, with the timeout
    its module's `STATEWAY_TIMEOUT` sets."""
    folder = Path(directory)
    if not folder.is_dir():
        raise FunctionLoadError(f"functions directory not found: {folder}")
    functions: dict[str, Handler] = {}
    # As in a Lambda package, whose root is on sys.path: a handler imports its folder's other modules.
    root = str(folder.resolve())
    sys.path.insert(0, root)
    try:
        for path in sorted(folder.glob("*.py")):
            if not path.name.startswith("_"):
                module = _load_module(path)
                handler = getattr(module, "handler", None)
                if callable(handler):
                    functions[path.stem] = _with_module_timeout(handler, module, str(path))
    finally:
        sys.path.remove(root)
    return functions


def _load_module(path: Path) -> Any:
    module_name = f"stateway_functions_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise FunctionLoadError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # a broken user module is reported, not raised as a traceback
        raise FunctionLoadError(f"cannot load {path}: {_import_failure(exc)}") from exc
    return module


def _import_failure(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"it called sys.exit({exc.code!r}) while being imported"
    return f"{type(exc).__name__}: {exc}"


def load_functions(spec: str) -> dict[str, Handler]:
    """`--functions` values: a folder of `NAME.py` files, or `package.module:function`.

    Modules that register functions with `@stateway.function("name")` contribute those too.
    """
    from stateway.workers.registry import registered

    if ":" in spec and not Path(spec).is_dir():
        module_name, _, attribute = spec.partition(":")
        _current_directory_first()
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise FunctionLoadError(f"cannot import {module_name}: {exc}") from exc
        except (Exception, SystemExit) as exc:  # the module itself fails as it is imported
            raise FunctionLoadError(f"cannot import {module_name}: {_import_failure(exc)}") from exc
        handler = getattr(module, attribute, None)
        if not callable(handler):
            raise FunctionLoadError(f"{spec}: no callable named {attribute!r}")
        functions = registered()
        declared = functions.get(attribute)
        if not (isinstance(declared, TimedHandler) and declared.handler is handler):  # its decorator's timeout
            functions[attribute] = _with_module_timeout(handler, module, spec)
        return functions
    return {**load_functions_dir(spec), **registered()}


def _with_module_timeout(handler: Handler, module: Any, where: str) -> Handler:
    """The handler, with the timeout its module sets (`STATEWAY_TIMEOUT = 30`), if it sets one."""
    value = getattr(module, TIMEOUT_ATTRIBUTE, None)
    if value is None:
        return handler
    try:
        return TimedHandler(handler, valid_timeout(value))
    except (TypeError, ValueError) as exc:
        raise FunctionLoadError(f"{where}: {TIMEOUT_ATTRIBUTE} {exc}") from None


def valid_timeout(value: Any) -> float:
    """A function timeout as given (a positive, finite number of seconds), or TypeError/ValueError."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"must be a number of seconds, not {type(value).__name__}")
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"must be a positive number of seconds, not {value!r}")
    return float(value)


@dataclass(frozen=True)
class TimedHandler:
    """A handler with its own timeout, as a Lambda function is configured with one."""

    handler: Handler
    timeout_seconds: float

    def __call__(self, event: Any, context: Any) -> Any:
        return self.handler(event, context)


@dataclass(frozen=True)
class AliasHandler:
    """The handler of a version, registered for an alias that points at it (`@stateway.function("charge:3",
    aliases=["live"])`): an invocation through the alias runs the version, with its timeout, and reports the
    version's number, as Lambda reports the version an alias resolved to."""

    handler: Handler  # the version's, as registered (a TimedHandler when it has a timeout of its own)
    version: str  # a published version's number, or `$LATEST`

    def __call__(self, event: Any, context: Any) -> Any:
        return self.handler(event, context)


def timeout_of(handler: Handler, default: float = DEFAULT_TIMEOUT_SECONDS) -> float:
    """How long the handler may run: its own timeout, or the default for every function."""
    if isinstance(handler, AliasHandler):
        handler = handler.handler  # an alias runs with its version's timeout
    return handler.timeout_seconds if isinstance(handler, TimedHandler) else default


def _current_directory_first() -> None:
    """Import `package.module` from the current directory as `python -m`, uvicorn and gunicorn do: the
    installed `stateway` script's own sys.path starts with the script's folder instead."""
    here = os.getcwd()
    if sys.path[:1] not in ([here], [""]):  # "" is the current directory too (`python -c`)
        sys.path.insert(0, here)


@dataclass
class LambdaContext:
    """The `context` argument Lambda passes to a handler, with an idempotency key added."""

    function_name: str
    aws_request_id: str
    deadline_ms: int | None
    idempotency_key: str = ""
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 128
    invoked_function_arn: str = ""
    log_group_name: str = ""
    log_stream_name: str = ""
    heartbeat_callback: Callable[[], None] | None = None

    def heartbeat(self) -> None:
        """Tell the engine the task is alive, resetting its `HeartbeatSeconds` deadline."""
        if self.heartbeat_callback is not None:
            self.heartbeat_callback()

    def get_remaining_time_in_millis(self) -> int:
        if self.deadline_ms is None:
            return 900_000
        return max(0, self.deadline_ms - int(time.time() * 1000))


@dataclass(frozen=True)
class Invocation:
    """What one invocation produced: a JSON value, or an error name with Lambda's JSON cause."""

    ok: bool
    output: Any = None
    error: str | None = None
    cause: str | None = None
    timed_out: bool = False
    request_id: str = ""


class Bound(Protocol):
    """A call bounded in time by a `Watch`: `finish()` says whether it returned before its bound."""

    def finish(self) -> bool: ...


# Bounds the calling thread's current call: `watch(seconds, on_expiry)` runs `on_expiry` once `seconds` have
# passed unless the call finishes first, and frees the thread's place (a `WorkerPool.limit`).
Watch = Callable[[float, Callable[[], None]], Bound]


def invoke(handler: Handler, event: Any, function_name: str, *, timeout_seconds: float | None = None,
           idempotency_key: str = "", heartbeat: Callable[[], None] | None = None,
           request_id: str | None = None, watch: Watch | None = None,
           on_timeout: Callable[[Invocation], None] | None = None, function_version: str = "$LATEST",
           invoked_function_arn: str = "") -> Invocation:
    """Call a handler the way Lambda does: JSON in, JSON out, an exception becomes an error value.
    A new request id unless one is given (Lambda retries an asynchronous invocation under its own).
    `function_name` is the unqualified name; the version that runs and the ARN it was invoked by go to
    the context as Lambda gives them.

    A call that outlives `timeout_seconds` fails as Lambda's do (`Sandbox.Timedout`, `timed_out`) and its
    late result is never read. With `watch`, the handler runs in this thread and the timeout is reported
    to `on_timeout` as it happens, while the thread may still hang (the returned value is then the same
    timeout, to be ignored); without, the handler runs on a thread of its own, left behind at the timeout."""
    request_id = request_id or new_request_id()
    deadline = int(time.time() * 1000 + timeout_seconds * 1000) if timeout_seconds else None
    context = LambdaContext(function_name, request_id, deadline, idempotency_key, function_version=function_version,
                            invoked_function_arn=invoked_function_arn, heartbeat_callback=heartbeat)
    payload = jsontext.copy(event)  # the function gets its own copy, as over the wire
    if timeout_seconds is None:
        return _call(handler, payload, context, request_id)

    def timed_out() -> Invocation:  # built only for a call that ran out of time: most never do
        return Invocation(ok=False, error=TIMED_OUT_ERROR, cause=timed_out_cause(request_id, timeout_seconds),
                          timed_out=True, request_id=request_id)

    if watch is not None:
        bound = watch(timeout_seconds, (lambda: on_timeout(timed_out())) if on_timeout is not None else _nothing)
        result = _call(handler, payload, context, request_id)
        return result if bound.finish() else timed_out()
    box: dict[str, Invocation] = {}

    def call() -> None:
        box["result"] = _call(handler, payload, context, request_id)

    # A hung function must not hang the engine: its late result is simply never read.
    worker = threading.Thread(target=call, name=f"fn-{function_name}", daemon=True)
    worker.start()
    worker.join(min(timeout_seconds, threading.TIMEOUT_MAX))
    if worker.is_alive():
        return timed_out()
    return box["result"]


def _nothing() -> None:
    """What a bounded call without `on_timeout` does when it runs out of time: only the returned value says so."""


def timed_out_cause(request_id: str, timeout_seconds: float) -> str:
    """Lambda's error payload for an invocation that ran out of time, which Step Functions reports as the cause."""
    return json.dumps({"errorType": TIMED_OUT_ERROR,
                       "errorMessage": f"RequestId: {request_id} Error: Task timed out after {timeout_seconds:.2f} seconds"},
                      separators=(",", ":"))


def new_request_id() -> str:
    """A Lambda-style request id: a version-4 UUID."""
    # It is no secret, so it comes from `random`: `uuid.uuid4()` reads the OS, which releases the GIL
    # and then waits to get it back behind the decider, costing far more than the call itself.
    digits = f"{random.getrandbits(120):030x}"  # 30 hex digits; the version and variant take the rest
    variant = "89ab"[random.getrandbits(2)]
    return f"{digits[:8]}-{digits[8:12]}-4{digits[12:15]}-{variant}{digits[15:18]}-{digits[18:]}"


# Results that cannot be awaitable: most handlers return one of these.
_PLAIN = frozenset({dict, list, str, int, float, bool, type(None)})


def _call(handler: Handler, payload: Any, context: LambdaContext, request_id: str) -> Invocation:
    try:
        result = handler(payload, context)
        if type(result) not in _PLAIN and inspect.isawaitable(result):
            result = asyncio.run(_await(result))
    except Exception as exc:  # every handler failure is a task failure, never an engine crash
        return Invocation(ok=False, error=type(exc).__name__, cause=lambda_error_cause(exc, request_id),
                          request_id=request_id)
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt) and threading.current_thread() is threading.main_thread():
            raise  # in the main thread it may be the user's Ctrl-C, which stops the run instead
        # On Lambda, SystemExit and the like end the runtime process: the invocation fails with ExitError.
        return Invocation(ok=False, error=EXIT_ERROR, cause=exit_error_cause(exc, request_id), request_id=request_id)
    try:
        output = _to_json(result)
    except (TypeError, ValueError, RecursionError) as exc:
        # What Lambda's Python runtime reports for a result it cannot send as JSON.
        cause = json.dumps({"errorMessage": f"Unable to marshal response: {exc}", "errorType": MARSHAL_ERROR,
                            "requestId": request_id, "stackTrace": []}, separators=(",", ":"))
        return Invocation(ok=False, error=MARSHAL_ERROR, cause=cause, request_id=request_id)
    return Invocation(ok=True, output=output, request_id=request_id)


MARSHAL_ERROR = "Runtime.MarshalError"
EXIT_ERROR = "Runtime.ExitError"


def exit_error_cause(exc: BaseException, request_id: str) -> str:
    """Lambda's cause for a runtime process that ended during the invocation, as Python would have ended."""
    if isinstance(exc, SystemExit):
        code = exc.code
        status = 0 if code is None else code & 0xFF if isinstance(code, int) else 1  # a message exits with 1
        reason = "Runtime exited without providing a reason" if status == 0 else \
            f"Runtime exited with error: exit status {status}"
    elif isinstance(exc, KeyboardInterrupt):
        reason = "Runtime exited with error: signal: interrupt"  # Python ends itself with SIGINT for this
    else:
        reason = "Runtime exited with error: exit status 1"  # another uncaught BaseException
    return json.dumps({"errorType": EXIT_ERROR, "errorMessage": f"RequestId: {request_id} Error: {reason}"},
                      separators=(",", ":"))


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _to_json(result: Any) -> Any:
    """Lambda sends bytes as they are and JSON-serialises anything else; raises what `json.dumps`
    raises for a value that is not JSON, and ValueError for NaN or an infinity, which JSON has not."""
    if isinstance(result, bytes | bytearray):
        text = bytes(result).decode("utf-8")
        try:
            return jsontext.loads(text)
        except ValueError:
            return text
    value = jsontext.copy(result)
    if not _finite(value):
        raise ValueError("Out of range float values are not JSON compliant")
    return value


def _finite(value: Any) -> bool:
    """Whether a JSON value holds no NaN or infinity (Python encodes them, JSON has no such number)."""
    kind = type(value)
    if kind is float:
        return math.isfinite(value)
    if kind is dict:
        return all(_finite(item) for item in value.values())
    if kind is list:
        return all(_finite(item) for item in value)
    return True


def lambda_error_cause(exc: BaseException, request_id: str) -> str:
    """Lambda's error payload: errorMessage, errorType, requestId and the handler's stack trace."""
    # Drop our own invocation frames: the trace starts in the user's handler, as on Lambda.
    frames = traceback.StackSummary.from_list([summary for frame, summary in _frames(exc.__traceback__)
                                               if summary.filename != __file__])
    return json.dumps({
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(frames),
    }, separators=(",", ":"))


def _frames(tb: TracebackType | None) -> Iterator[tuple[FrameType, traceback.FrameSummary]]:
    """The traceback's frames with their summaries. A line of code that has no file on disk (exec'd
    code) is read from its own module's loader: linecache keeps one entry per file name, which two
    such modules of the same name, failing at once in two workers, would read each other's lines from."""
    summaries = traceback.extract_tb(tb, limit=None)
    for (frame, _), summary in zip(traceback.walk_tb(tb), summaries, strict=True):
        if summary.lineno is not None and not os.path.exists(summary.filename):
            line = _module_line(frame.f_globals, summary.lineno)
            if line is not None:
                summary = traceback.FrameSummary(
                    summary.filename, summary.lineno, summary.name, lookup_line=False, line=line,
                    end_lineno=summary.end_lineno, colno=summary.colno, end_colno=summary.end_colno)
        yield frame, summary


def _module_line(module_globals: dict[str, Any], lineno: int) -> str | None:
    loader = module_globals.get("__loader__")
    get_source = getattr(loader, "get_source", None)
    if get_source is None:
        return None
    try:
        source = get_source(module_globals.get("__name__"))
    except Exception:  # no source to show: the line is looked up as before
        return None
    lines = source.splitlines(True) if isinstance(source, str) else []  # as linecache keeps them
    if not 0 < lineno <= len(lines):
        return None
    line = lines[lineno - 1]
    return line if line.endswith("\n") else line + "\n"
