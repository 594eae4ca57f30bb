"""`stateway run|validate`: run a state machine locally, or check a definition, from the shell."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from stateway.asl import jsontext
from stateway.asl.errors import DefinitionError, StatewayError
from stateway.cli.timeline import render_timeline


class UsageError(StatewayError):
    """Bad command-line input: a missing file, JSON that does not parse."""


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except DefinitionError as exc:
        print(f"stateway: {exc.message}", file=sys.stderr)
        return 1
    except StatewayError as exc:
        print(f"stateway: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stateway", description="A durable workflow engine for the "
                                     "Amazon States Language.")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run a state machine to its end and show its output and timeline")
    run.add_argument("file", help="definition file (JSON or YAML)")
    source = run.add_mutually_exclusive_group()
    source.add_argument("--input", help="execution input as JSON text (default {})")
    source.add_argument("--input-file", help="file holding the execution input as JSON")
    run.add_argument("--functions", metavar="DIR",
                     help="folder of Lambda-style task functions: DIR/NAME.py serves function NAME")
    run.add_argument("--name", help="execution name (default: a UUID)")
    run.add_argument("--json", action="store_true",
                     help="print DescribeExecution-shaped JSON with GetExecutionHistory events")
    run.set_defaults(handler=_run)

    validate = commands.add_parser("validate", help="check a definition and list every problem")
    validate.add_argument("file", help="definition file (JSON or YAML)")
    validate.add_argument("--type", default="STANDARD", choices=["STANDARD", "EXPRESS"])
    validate.set_defaults(handler=_validate)
    return parser


def _read(path: str, what: str) -> str:
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"{what} not found: {path}")
    return file.read_text(encoding="utf-8")


def _load_definition(path: str) -> dict[str, Any]:
    from stateway.asl.loader import load_definition

    return load_definition(_read(path, "definition file"))


def _input_text(args: argparse.Namespace) -> str:
    text = args.input if args.input is not None else (
        _read(args.input_file, "input file") if args.input_file else "{}")
    try:
        json.loads(text)
    except ValueError as exc:
        raise UsageError(f"input is not valid JSON: {exc}") from None
    return text


def _run(args: argparse.Namespace) -> int:
    from stateway.testing.local import LocalRunner
    from stateway.workers.python import load_functions_dir

    definition = _load_definition(args.file)
    input_text = _input_text(args)
    functions = load_functions_dir(args.functions) if args.functions else {}
    name = Path(args.file).name.split(".")[0] or "StateMachine"
    result = LocalRunner(functions).run(definition, input_text=input_text, name=args.name,
                                        state_machine_name=name)
    if args.json:
        body = result.describe()
        body["events"] = [_event_json(e) for e in result.events]
        print(json.dumps(body, indent=2, ensure_ascii=False))
        return 0
    print(render_timeline(result.events))
    print()
    print(f"status: {result.status}")
    if result.output is not None:
        print("output: " + json.dumps(jsontext.loads(result.output), indent=2, ensure_ascii=False))
    if result.error is not None:
        print(f"error:  {result.error}")
    if result.cause is not None:
        print(f"cause:  {result.cause}")
    return 0


def _event_json(event: dict[str, Any]) -> dict[str, Any]:
    out = dict(event)
    out["timestamp"] = event["timestamp"].isoformat()
    return out


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
