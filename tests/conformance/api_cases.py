"""Runs the corpus's API cases (`api_error`, `validate_definition`, `start_sync_execution`, `test_state`)
against a real `stateway serve` over HTTP with boto3, and prints pass rates by kind.

python -m tests.conformance.api_cases [--show-failures] [--filter STR]

A case runs when its needs are met: nothing, local Lambda functions, or an activity. `api_error` cases
pass when the error code matches and the message matches after the corpus's normalisation (`<…>` in
the recording is a wildcard); `start_sync_execution` cases compare status, output, error and cause.
`validate_definition` cases carry no recorded response: they pass when the server answers.
`test_state` cases pass when the whole TestState response (status, output, error, cause, nextState and
inspectionData) matches the recording after the same normalisation; TestState mocks stand in for the
services, so a `test_state` case also runs when it needs only services whose every Task is mocked.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .compare import ActualRun, compare_case
from .corpus import CorpusMissing, bind, corpus_dir, load_case
from .http_mode import write_functions

KINDS = ("api_error", "validate_definition", "start_sync_execution", "test_state")
ROLE = "arn:aws:iam::123456789012:role/stateway-conformance"
PASS_DEFINITION = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
SUPPORTED_NEEDS = {"lambda", "activity_0"}
UNIMPLEMENTED_OPERATIONS: set[str] = set()
ISO_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?")


@dataclass
class Verdict:
    case_id: str
    kind: str
    status: str  # "pass" | "fail" | "skip"
    reason: str = ""


def normalise(text: str) -> str:
    text = text.replace("123456789012", "111111111111").replace("arn:aws:", "arn:<partition>:")
    return re.sub(r"(arn:<partition>:[a-z0-9-]+:)us-east-1:", r"\1<region>:", text)


def matches(expected: str, actual: str) -> bool:
    """`<…>` tokens in the recording stand for one name each."""
    pattern = "".join(r"[^:'\"/ ]*" if part.startswith("<") else re.escape(part)
                      for part in re.split(r"(<[^<>]*>)", expected))
    return re.fullmatch(pattern, normalise(actual), re.DOTALL) is not None


def _message_verified(raw: dict[str, Any]) -> bool:
    for marker in raw.get("source", {}).get("ls_markers", []):
        paths = marker.get("kwargs", {}).get("paths", [])
        if marker.get("marker") == "snapshot.skip_snapshot_verify" and \
                ("$..message" in paths or "$..Error.Message" in paths):
            return False
    return True


class Runner:
    def __init__(self, client: Any) -> None:
        self.client = client
        self.counter = 0

    def _name(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def values(self, raw: dict[str, Any]) -> dict[str, str]:
        text = json.dumps(raw.get("request", {}))
        values = {"sfn_role.arn": ROLE}
        if "{{sm_0." in text or "{{exec_0." in text:
            name = self._name("sm")
            created = self.client.create_state_machine(name=name, definition=json.dumps(PASS_DEFINITION),
                                                       roleArn=ROLE, publish=True)
            values.update({"sm_0.arn": created["stateMachineArn"], "sm_0.name": name,
                           "sm_0.version_1_arn": created["stateMachineVersionArn"]})
            if "{{exec_0." in text:
                exec_name = self._name("exec")
                self.client.start_execution(stateMachineArn=created["stateMachineArn"], name=exec_name,
                                            input=json.dumps({"body": "data"}))
                values["exec_0.name"] = exec_name
        if "{{activity_0." in text:  # the recordings used an activity that had been deleted
            activity = self.client.create_activity(name=self._name("activity"))["activityArn"]
            self.client.delete_activity(activityArn=activity)
            values["activity_0.arn"] = activity
        return values

    def api_error(self, raw: dict[str, Any]) -> tuple[bool, str]:
        from botocore.exceptions import ClientError

        values = self.values(raw)
        text = json.dumps(raw["request"]["params"])
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", value)
        params = json.loads(text)
        for field in ("definition", "mock"):
            if isinstance(params.get(field), dict) and field == "definition":
                params[field] = json.dumps(params[field])
        operation = raw["request"]["operation"]
        if operation in UNIMPLEMENTED_OPERATIONS:
            return False, f"{operation} is not implemented"
        expected = raw["expected"]
        try:
            getattr(self.client, operation)(**params)
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            message = exc.response["Error"].get("Message", "")
            status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
            if code != expected["error_code"]:
                return False, f"code {code} != {expected['error_code']}: {message[:200]}"
            wanted = expected["error_response"]["ResponseMetadata"]["HTTPStatusCode"]
            if status != wanted:
                return False, f"status {status} != {wanted}"
            for placeholder in raw.get("snapshot_placeholders", []):
                bound = re.fullmatch(r"\{\{([^}]*)\}\}", str(placeholder.get("value", "")))
                if bound and bound.group(1) in values and not placeholder["placeholder"].startswith("<"):
                    message = message.replace(values[bound.group(1)], placeholder["placeholder"])
            if not _message_verified(raw):
                return True, ""  # the recording marks the message as unverified against AWS
            if not matches(expected["error_message"], message):
                return False, f"message differs:\n      expected {expected['error_message'][:300]}\n" \
                              f"      actual   {normalise(message)[:300]}"
            return True, ""
        except Exception as exc:  # client-side validation and the like
            return False, f"{type(exc).__name__}: {str(exc)[:200]}"
        return False, "no error"

    def test_state(self, path: Path) -> tuple[bool, str]:
        bound = bind(load_case(path))
        raw = bound.case.raw
        values = {"sfn_role.arn": ROLE, **bound.values}
        request = json.loads(_substitute(json.dumps(raw["test_state_request"]), values))
        params: dict[str, Any] = {"definition": json.dumps(bound.definition), "input": json.dumps(bound.input)}
        for key, value in request.items():
            params[key] = value
        response = self.client.test_state(**params)
        actual = {k: v for k, v in response.items() if k != "ResponseMetadata"}
        expected = raw["expected"]["response"]
        actual_text = _decoded_text(actual)
        expected_text = json.dumps(_decoded(expected), sort_keys=True)
        if actual_text == expected_text or matches(expected_text, actual_text):
            return True, ""
        return False, f"response differs:\n      expected {expected_text[:600]}\n      actual   {actual_text[:600]}"

    def validate_definition(self, raw: dict[str, Any]) -> tuple[bool, str]:
        text = raw.get("definition_text")
        if text is None:
            text = json.dumps(raw.get("definition"))
        result = self.client.validate_state_machine_definition(definition=text)
        return result["result"] in ("OK", "FAIL"), ""

    def start_sync_execution(self, path: Path, functions_dir: Path) -> tuple[bool, str]:
        bound = bind(load_case(path))
        name = self._name("express")
        arn = self.client.create_state_machine(name=name, definition=json.dumps(bound.definition),
                                               roleArn=ROLE, type="EXPRESS")["stateMachineArn"]
        result = self.client.start_sync_execution(stateMachineArn=arn, name=bound.execution_name,
                                                  input=json.dumps(bound.input))
        # The same normalisation and comparison as the execution cases (placeholders, request ids, …).
        run = ActualRun(status=result["status"], output=result.get("output"), error=result.get("error"),
                        cause=result.get("cause"))
        verdicts = compare_case(bound.case, run, bound.values)
        problems = [f"{v.reason}" for v in (verdicts.status, verdicts.result) if v.passed is False]
        return not problems, "; ".join(problems)


def _substitute(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def _decoded(value: Any) -> Any:
    """JSON text of an object or array parsed (the recording kept arrays as text, spaced its own way);
    timestamps as `date`."""
    if isinstance(value, str):
        if value.startswith(("{", "[")):
            try:
                return _decoded(json.loads(value))
            except ValueError:
                return value
        return ISO_TIMESTAMP.sub("date", value)
    if isinstance(value, dict):
        return {k: _decoded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decoded(v) for v in value]
    return value


def _decoded_text(response: dict[str, Any]) -> str:
    return normalise(json.dumps(_decoded(response), sort_keys=True))


def _mocked_only(raw: dict[str, Any]) -> bool:
    """A TestState case whose Task states all run on the mock needs none of the services it names."""
    request = raw.get("test_state_request", {})
    if "mock" in request:
        return True
    name = request.get("stateName")
    return name is not None and '"Type": "Task"' not in json.dumps(_state_named(raw.get("definition"), name))


def _state_named(node: Any, name: str) -> Any:
    if isinstance(node, dict):
        states = node.get("States")
        if isinstance(states, dict) and name in states:
            return states[name]
        for value in node.values():
            found = _state_named(value, name)
            if found is not None:
                return found
    elif isinstance(node, list):
        for value in node:
            found = _state_named(value, name)
            if found is not None:
                return found
    return None


def run(show_failures: bool, filter_text: str | None) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
    from test_api_core import Server  # the e2e tests' real-server harness

    try:
        folder = corpus_dir()
    except CorpusMissing as exc:
        print(f"skipped: {exc}")
        return 0
    verdicts: list[Verdict] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        functions_dir = workdir / "functions"
        functions_dir.mkdir()
        bound_cases = []
        for path in sorted(folder.glob("*.json")):  # functions are loaded when the server starts
            raw = json.loads(path.read_text())
            if raw.get("kind") in ("start_sync_execution", "test_state"):
                bound_cases.append(bind(load_case(path)))
        # The same function files as the HTTP mode: Lambda's `/var/task/handler.py` in stack traces.
        write_functions(bound_cases, functions_dir)
        server = Server(workdir, functions_dir).start()
        try:
            runner = Runner(server.client())
            for path in sorted(folder.glob("*.json")):
                raw = json.loads(path.read_text())
                kind = raw.get("kind")
                if kind not in KINDS or (filter_text and filter_text not in path.name):
                    continue
                unmet = set(raw.get("needs", [])) - SUPPORTED_NEEDS
                if unmet and kind == "test_state" and _mocked_only(raw):
                    unmet = set()
                if unmet:
                    verdicts.append(Verdict(raw["id"], kind, "skip", f"needs {sorted(unmet)}"))
                    continue
                try:
                    if kind == "api_error":
                        ok, reason = runner.api_error(raw)
                    elif kind == "validate_definition":
                        ok, reason = runner.validate_definition(raw)
                    elif kind == "start_sync_execution":
                        ok, reason = runner.start_sync_execution(path, functions_dir)
                    else:
                        ok, reason = runner.test_state(path)
                except Exception as exc:  # one case's crash is its verdict
                    ok, reason = False, f"{type(exc).__name__}: {str(exc)[:200]}"
                verdicts.append(Verdict(raw["id"], kind, "pass" if ok else "fail", reason))
        finally:
            server.stop()
    report(verdicts, show_failures)
    return 0


def report(verdicts: list[Verdict], show_failures: bool) -> None:
    by_kind: dict[str, Counter[str]] = {}
    for v in verdicts:
        by_kind.setdefault(v.kind, Counter())[v.status] += 1
    print(f"{'kind':<22} {'pass':>5} {'ran':>5} {'rate':>7} {'skipped':>8}")
    total_pass = total_ran = 0
    for kind in KINDS:
        counts = by_kind.get(kind, Counter())
        ran = counts["pass"] + counts["fail"]
        total_pass += counts["pass"]
        total_ran += ran
        rate = f"{100.0 * counts['pass'] / ran:.1f}%" if ran else "-"
        print(f"{kind:<22} {counts['pass']:>5} {ran:>5} {rate:>7} {counts['skip']:>8}")
    if total_ran:
        print(f"{'all':<22} {total_pass:>5} {total_ran:>5} {100.0 * total_pass / total_ran:>6.1f}%")
    if show_failures:
        for v in verdicts:
            if v.status == "fail":
                print(f"\nFAIL {v.case_id}\n    {v.reason}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--show-failures", action="store_true")
    parser.add_argument("--filter")
    args = parser.parse_args(argv)
    return run(args.show_failures, args.filter)


if __name__ == "__main__":
    sys.exit(main())
