"""The `stateway` command: run state machines, inspect and steer executions, answer task tokens."""

from __future__ import annotations

import argparse
import errno
import json
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from stateway.asl import jsontext
from stateway.asl.errors import DefinitionError, StatewayError
from stateway.cli.timeline import render_timeline
from stateway.engine.errors import ApiError
from stateway.engine.service import input_problem
from stateway.workers.python import DEFAULT_TIMEOUT_SECONDS

DB_ENV = "STATEWAY_DB"
DEFAULT_DB = "sqlite:///.stateway/stateway.db"


class UsageError(StatewayError):
    """Bad command-line input: a missing file, JSON that does not parse."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread as Ctrl-C raises KeyboardInterrupt, so that a run it ends stops
    the same way: the engine stops cleanly, and a task function running in the main thread (the in-memory
    runner's) is not failed by it."""


# Arguments that name files: any bytes the OS allows. Every other text argument is stored or sent on.
_PATH_ARGUMENTS = frozenset({"file", "input_file", "functions", "db"})
STDIN = "-"  # as a file argument: read standard input
INTERRUPTED = 130  # what a shell reports for a command ended by SIGINT
TERMINATED = 143  # and by SIGTERM
OUTPUT_CLOSED = 141  # and by SIGPIPE, as `cat` is when the reader of its output goes away


def main(argv: list[str] | None = None) -> int:
    _escape_unprintable()
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        _check_text_arguments(args)
        status = int(args.handler(args))
        sys.stdout.flush()  # so that a reader gone away shows here rather than at exit
        return status
    except BrokenPipeError:
        return _output_closed()
    except Terminated:
        print("stateway: terminated", file=sys.stderr)
        return TERMINATED
    except KeyboardInterrupt:
        print("stateway: interrupted", file=sys.stderr)
        return INTERRUPTED
    except DefinitionError as exc:
        print(f"stateway: {_without_sources(exc.message)}", file=sys.stderr)
        return 1
    except ApiError as exc:
        print(f"stateway: {exc.type_name}: {exc.message}", file=sys.stderr)
        return 1
    except StatewayError as exc:
        print(f"stateway: {exc}", file=sys.stderr)
        return 2


# Jackson's location, `[Source: (String)"<up to 500 characters of the text>"; line: 44, column: 6]`, as AWS
# quotes it in a definition's parse errors (and the API does too).
_SOURCE = re.compile(r'\[Source: \(String\)".*?"(?:\[truncated \d+ chars\])?; line: (\d+), column: (\d+)\]',
                     re.DOTALL)


def _without_sources(message: str) -> str:
    """A definition error for a terminal: each quoted source, dozens of lines of the user's own file, becomes
    the line and column it points at, so the error is one line."""
    return _SOURCE.sub(lambda m: f"line {m.group(1)}, column {m.group(2)}", message)


def _output_closed() -> int:
    """Stop quietly once the reader of stdout has gone (`stateway executions history ARN | head`)."""
    # Python's recipe: stdout's buffer still holds what could not be written, and the flush at exit
    # would fail on it again; /dev/null takes it instead.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return OUTPUT_CLOSED


def _escape_unprintable() -> None:
    """Print a lone surrogate (JSON's "\\ud800" parses to one) as its `\\ud800` escape instead of failing."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)  # a stream that is not a TextIOWrapper has none
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


def _check_text_arguments(args: argparse.Namespace) -> None:
    """Refuse a name, token, ARN or message that is not UTF-8 (the OS hands Python undecodable bytes as
    surrogates): it could be neither stored nor sent."""
    for name, value in vars(args).items():
        if name in _PATH_ARGUMENTS or not isinstance(value, str):
            continue
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            shown = value.encode("utf-8", "surrogateescape").decode("ascii", "backslashreplace")
            option = name if name == "execution_arn" else "--" + name.replace("_", "-")
            raise UsageError(f"{option} is not valid UTF-8: {shown}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stateway", description="A durable workflow engine for the "
                                     "Amazon States Language.")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run a state machine to its end and show its output and timeline")
    run.add_argument("file", help="definition file (JSON or YAML), or - for stdin")
    source = run.add_mutually_exclusive_group()
    source.add_argument("--input", help="execution input as JSON text (default {})")
    source.add_argument("--input-file", help="file holding the execution input as JSON, or - for stdin")
    run.add_argument("--functions", metavar="DIR|MODULE:FUNCTION", action="append",
                     help="Lambda-style task functions: a folder where DIR/NAME.py serves function NAME, or "
                          "package.module:function; may be repeated")
    run.add_argument("--name", help="execution name (default: a UUID)")
    run.add_argument("--json", action="store_true",
                     help="print DescribeExecution-shaped JSON with GetExecutionHistory events")
    run.add_argument("--db", default=None, help=f"database URL (default ${DB_ENV} or {DEFAULT_DB})")
    run.add_argument("--in-memory", action="store_true",
                     help="run in memory with a virtual clock (Waits take no time; nothing is stored)")
    run.add_argument("--timeout", type=_seconds, default=3600.0, help="seconds to wait for the end (default 3600)")
    _function_timeout_argument(run)
    _s3_root_argument(run)
    run.set_defaults(handler=_run)

    executions = commands.add_parser("executions", help="list, describe, inspect and stop stored executions")
    ex_commands = executions.add_subparsers(dest="executions_command", required=True)
    ex_list = ex_commands.add_parser("list", help="executions of a state machine, newest first")
    ex_list.add_argument("--state-machine", required=True, help="state machine name or ARN")
    ex_list.add_argument("--status", choices=["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"])
    ex_list.add_argument("--max-results", type=int, default=100)
    for sub in ("describe", "history", "stop"):
        command = ex_commands.add_parser(sub, help=f"{sub} one execution")
        command.add_argument("execution_arn")
        if sub == "stop":
            command.add_argument("--error")
            command.add_argument("--cause")
        if sub == "history":
            command.add_argument("--reverse", action="store_true")
    for command in ex_commands.choices.values():
        command.add_argument("--db", default=None, help="database URL")
        command.add_argument("--json", action="store_true", help="print the API response as JSON")
    executions.set_defaults(handler=_executions)

    for action in ("success", "failure", "heartbeat"):
        answer = commands.add_parser(f"send-task-{action}", help=f"SendTask{action.title()} for a task token")
        answer.add_argument("--task-token", required=True)
        if action == "success":
            answer.add_argument("--output", required=True, help="the task's result as JSON text")
        if action == "failure":
            answer.add_argument("--error")
            answer.add_argument("--cause")
        answer.add_argument("--db", default=None, help="database URL")
        answer.set_defaults(handler=_send_task, action=action)

    serve = commands.add_parser("serve", help="run the engine and the Step Functions API (boto3, AWS CLI)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to bind (default 127.0.0.1: loopback only; 0.0.0.0 for every interface)")
    serve.add_argument("--port", type=_port, default=8083, help="TCP port (default 8083; 0 for any free one)")
    serve.add_argument("--db", default=None, help=f"database URL (default ${DB_ENV} or {DEFAULT_DB})")
    serve.add_argument("--functions", metavar="DIR",
                       help="folder of Lambda-style task functions: DIR/NAME.py serves function NAME")
    serve.add_argument("--workers", type=_workers, default=8, help="task worker threads (default 8)")
    _function_timeout_argument(serve)
    _s3_root_argument(serve)
    serve.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(handler=_serve)

    validate = commands.add_parser("validate", help="check a definition and list every problem")
    validate.add_argument("file", help="definition file (JSON or YAML), or - for stdin")
    validate.add_argument("--type", default="STANDARD", choices=["STANDARD", "EXPRESS"])
    validate.set_defaults(handler=_validate)
    return parser


def _function_timeout_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--function-timeout", dest="function_timeout", type=_seconds,
                        default=DEFAULT_TIMEOUT_SECONDS, metavar="SECONDS",
                        help="how long a Python function may run, unless it sets a timeout of its own, before "
                             f"it fails as Lambda's do (default {DEFAULT_TIMEOUT_SECONDS:g}, Lambda's maximum)")


def _bounded(parse: Callable[[str], Any], low: float, high: float, what: str) -> Callable[[str], Any]:
    """An argparse type: `parse(text)` between `low` and `high`; anything else is refused with the usage,
    saying the text is not `what`."""
    def check(text: str) -> Any:
        try:
            value = parse(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:  # NaN is within no bounds
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return value
    return check


_port = _bounded(int, 0, 65535, "a TCP port (0-65535)")
_workers = _bounded(int, 1, sys.maxsize, "a number of worker threads (1 or more)")  # 0 would run no task
_seconds = _bounded(float, sys.float_info.min, sys.float_info.max, "a number of seconds (more than 0)")


def _read(path: str, what: str) -> str:
    """The text of a file, of stdin for `-`; any path that can be read will do (/dev/stdin, `<(…)`)."""
    shown = "stdin" if path == STDIN else path
    try:
        data = _stdin_bytes() if path == STDIN else Path(path).read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{what} not found: {path}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {what} {shown}: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{what} is not UTF-8 text: {shown} (byte 0x{exc.object[exc.start]:02x} at offset "
                         f"{exc.start})") from None


def _stdin_bytes() -> bytes:
    if sys.stdin is None:  # the process was started with its stdin closed
        raise OSError(errno.EBADF, "stdin is closed")
    return sys.stdin.buffer.read()


def _load_definition(path: str) -> dict[str, Any]:
    from stateway.asl.loader import load_definition

    return load_definition(_read(path, "definition file"))


def _input_text(args: argparse.Namespace) -> str:
    text = args.input if args.input is not None else (
        _read(args.input_file, "input file") if args.input_file else "{}")
    problem = input_problem(text)  # as StartExecution reads it: no NaN, no 1e400, nesting within bounds
    if problem is not None:
        raise UsageError(f"input is not valid JSON: {problem}")
    return text


def _db_url(args: argparse.Namespace) -> str:
    return str(args.db or os.environ.get(DB_ENV) or DEFAULT_DB)


@contextmanager
def _terminate_as_interrupted() -> Iterator[None]:
    """While in this block, SIGTERM ends the command as Ctrl-C does (`Terminated`) instead of killing the
    process where it stands; a second SIGTERM, while the first is being handled, kills it as before."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set a handler (main() called from another thread, in a test)
        return

    def terminated(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def _run(args: argparse.Namespace) -> int:
    with _terminate_as_interrupted():
        return _run_to_the_end(args)


def _run_to_the_end(args: argparse.Namespace) -> int:
    from stateway.workers.python import load_functions

    if args.file == STDIN and args.input_file == STDIN:
        raise UsageError("the definition and --input-file cannot both be read from stdin")
    definition = _load_definition(args.file)
    input_text = _input_text(args)
    functions: dict[str, Any] = {}
    for spec in args.functions or []:
        functions.update(load_functions(spec))
    # Named after the file (`orders.asl.json` → orders); a definition from stdin, as from /dev/stdin.
    name = ("stdin" if args.file == STDIN else Path(args.file).name.split(".")[0]) or "StateMachine"
    if args.in_memory:
        from stateway.testing.local import LocalRunner

        runner = LocalRunner(functions, function_timeout_seconds=args.function_timeout, object_store=args.s3_root)
        result = runner.run(definition, input_text=input_text, name=args.name, state_machine_name=name)
        description, events = result.describe(), result.events
    else:
        description, events = _run_durable(args, definition, input_text, functions, name)
    if args.json:
        body = _jsonable(description)
        body["events"] = [_jsonable(e) for e in events]
        print(json.dumps(body, indent=2, ensure_ascii=False))
        return 0
    print(render_timeline(events))
    print()
    print(f"execution: {description['executionArn']}")
    print(f"status: {description['status']}")
    if description["status"] == "RUNNING" and not args.in_memory:
        print(f"stateway: still running after --timeout {args.timeout:g} s; it stays stored and goes on when an "
              f"engine next runs on {_db_url(args)} (`stateway serve`, or another `stateway run`)", file=sys.stderr)
    if description.get("output") is not None:
        print("output: " + json.dumps(jsontext.loads(description["output"]), indent=2, ensure_ascii=False))
    if description.get("error") is not None:
        print(f"error:  {description['error']}")
    if description.get("cause") is not None:
        print(f"cause:  {description['cause']}")
    return 0


def _run_durable(args: argparse.Namespace, definition: dict[str, Any], input_text: str,
                 functions: dict[str, Any], name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from stateway.engine import Engine
    from stateway.engine.errors import StateMachineAlreadyExists

    with Engine(_db_url(args), functions=functions, function_timeout_seconds=args.function_timeout,
                object_store=args.s3_root) as engine:
        service = engine.service
        try:
            arn = service.create_state_machine(name, definition)
        except StateMachineAlreadyExists:
            arn = f"arn:aws:states:{service.region}:{service.account}:stateMachine:{name}"
            service.update_state_machine(arn, definition=definition)
        execution = service.start_execution(arn, input_text=input_text, name=args.name)
        description = engine.wait(execution, timeout=args.timeout)
        return description, service.get_execution_history(execution)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _service(args: argparse.Namespace) -> Any:
    """The service on an existing store: commands that read executions or answer them create none."""
    from stateway.engine.service import Service
    from stateway.store.sqlite import open_store

    return Service(open_store(_db_url(args), create=False))


def _machine_arn(service: Any, name_or_arn: str) -> str:
    if name_or_arn.startswith("arn:"):
        return name_or_arn
    return f"arn:aws:states:{service.region}:{service.account}:stateMachine:{name_or_arn}"


def _executions(args: argparse.Namespace) -> int:
    service = _service(args)
    command = args.executions_command
    if command == "list":
        items, _ = service.list_executions(_machine_arn(service, args.state_machine), status=args.status,
                                           max_results=args.max_results)
        if args.json:
            print(json.dumps(_jsonable({"executions": items}), indent=2))
        for item in [] if args.json else items:
            print(f"{item['status']:<10} {item['startDate'].isoformat()}  {item['executionArn']}")
        return 0
    if command == "describe":
        print(json.dumps(_jsonable(service.describe_execution(args.execution_arn)), indent=2, ensure_ascii=False))
        return 0
    if command == "history":
        events = service.get_execution_history(args.execution_arn, reverse=args.reverse)
        if args.json:
            print(json.dumps(_jsonable({"events": events}), indent=2, ensure_ascii=False))
        else:
            print(render_timeline(events))
        return 0
    ended = service.describe_execution(args.execution_arn)["status"]
    stopped = service.stop_execution(args.execution_arn, error=args.error, cause=args.cause)
    if args.json:
        print(json.dumps({"stopDate": stopped.isoformat()}))
    elif ended != "RUNNING":  # StopExecution answers as for a stop (AWS has no error for it): say what it did
        print(f"nothing to stop: the execution ended {ended} at {stopped.isoformat()}")
    else:
        print(f"stop requested at {stopped.isoformat()}")
    return 0


def _send_task(args: argparse.Namespace) -> int:
    service = _service(args)
    if args.action == "success":
        service.send_task_success(args.task_token, args.output)
    elif args.action == "failure":
        service.send_task_failure(args.task_token, args.error, args.cause)
    else:
        service.send_task_heartbeat(args.task_token)
    print(f"sent task {args.action}")
    return 0


def _s3_root_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--s3-root", dest="s3_root", metavar="DIR", default=None,
                        help="directory that serves as S3 for distributed Maps' ItemReader and ResultWriter: "
                             "each subdirectory is a bucket, each file below it an object keyed by its path")


def _serve(args: argparse.Namespace) -> int:
    from stateway.api.server import serve
    from stateway.workers.python import load_functions_dir

    functions = load_functions_dir(args.functions) if args.functions else {}
    return serve(args.host, args.port, _db_url(args), functions=functions, workers=args.workers,
                 function_timeout_seconds=args.function_timeout, log_level=args.log_level,
                 object_store=args.s3_root)


def _validate(args: argparse.Namespace) -> int:
    from stateway.asl.validate import validate_definition

    problems = validate_definition(_load_definition(args.file), state_machine_type=args.type)
    if not problems:
        print("OK: the definition is valid")
        return 0
    for problem in problems:
        print(str(problem))
    return 1


if __name__ == "__main__":
    sys.exit(main())
