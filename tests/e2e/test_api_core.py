"""`stateway serve` driven with boto3: state machines, executions, history, task tokens, errors, restarts.

Also home of the fixtures the other `test_api_*` files import: a real server process on a free
loopback port, a boto3 client pointed at it, and a folder of Lambda-style task functions.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

boto3 = pytest.importorskip("boto3")
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402
from support import wait_for  # noqa: E402

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
STATEWAY = ROOT / ".venv" / "bin" / "stateway"
ROLE = "arn:aws:iam::123456789012:role/stateway-e2e"

FUNCTIONS = {
    "double": "def handler(event, context):\n    return {'value': event['value'] * 2}\n",
    "boom": ("class OrderRejected(Exception):\n    pass\n\n"
             "def handler(event, context):\n    raise OrderRejected('no stock for ' + str(event.get('sku')))\n"),
    "echo": "def handler(event, context):\n    return event\n",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """One `stateway serve` subprocess on a free loopback port."""

    def __init__(self, workdir: Path, functions_dir: Path, db: Path | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.functions_dir = functions_dir
        self.db = db or workdir / "stateway.db"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "STATEWAY_ACTIVITY_POLL_SECONDS": "3", **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None
        self.log = workdir / f"serve-{self.port}.log"

    def start(self) -> Server:
        command = [str(STATEWAY) if STATEWAY.exists() else sys.executable, "serve", "--port", str(self.port),
                   "--db", f"sqlite:///{self.db}", "--functions", str(self.functions_dir)]
        if not STATEWAY.exists():
            command[1:1] = ["-m", "stateway.cli.main"]
        self.process = subprocess.Popen(command, cwd=self.workdir, env=self.env,
                                        stdout=self.log.open("wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"stateway serve exited: {self.log.read_text()}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"stateway serve did not start: {self.log.read_text()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            raise AssertionError(f"stateway serve did not stop within {timeout} s of signal {sig}; "
                                 f"its output:\n{self.log.read_text()}") from None

    def client(self, **config: Any) -> Any:
        return boto3.client(
            "stepfunctions", endpoint_url=self.url, region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key="secret",
            config=Config(inject_host_prefix=False, retries={"max_attempts": 1}, read_timeout=90, **config))


def write_functions(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in FUNCTIONS.items():
        (folder / f"{name}.py").write_text(source)
    return folder


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("serve")
    running = Server(workdir, write_functions(workdir / "functions")).start()
    yield running
    assert running.stop() == 0, running.log.read_text()


@pytest.fixture(scope="module")
def sfn(server: Server) -> Any:
    return server.client()


def lambda_arn(name: str) -> str:
    return f"arn:aws:lambda:us-east-1:123456789012:function:{name}"


def create(sfn: Any, name: str, definition: dict[str, Any], **kwargs: Any) -> str:
    return str(sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE,
                                        **kwargs)["stateMachineArn"])


def history_in_pages(sfn: Any, execution_arn: str, size: int) -> list[dict[str, Any]]:
    """An execution's whole history read `size` events a page, following nextToken."""
    events: list[dict[str, Any]] = []
    token = None
    while True:
        page = sfn.get_execution_history(executionArn=execution_arn, maxResults=size,
                                         **({"nextToken": token} if token else {}))
        assert len(page["events"]) <= size
        events += page["events"]
        token = page.get("nextToken")
        if not token:
            return events


def wait_done(sfn: Any, execution_arn: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            return dict(described)
        time.sleep(0.05)


def error_of(call: Callable[..., Any], **kwargs: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    error = info.value.response
    return error["Error"]["Code"], error["Error"]["Message"], error["ResponseMetadata"]["HTTPStatusCode"]


PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": True}, "End": True}}}
DOUBLE = {
    "StartAt": "Double",
    "States": {
        "Double": {"Type": "Task", "Resource": lambda_arn("double"), "ResultPath": "$.result", "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}
WAIT = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}}
CALLBACK = {
    "StartAt": "Ask",
    "States": {"Ask": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "HeartbeatSeconds": 30,
        "Parameters": {"QueueUrl": "https://sqs.example/q", "MessageBody": {"token.$": "$$.Task.Token"}},
        "End": True}},
}


# ---- state machines ---------------------------------------------------------------------------


def test_health_reports_a_running_engine(server: Server) -> None:
    with urllib.request.urlopen(server.url + "/health", timeout=5) as response:
        assert response.status == 200
        health = json.loads(response.read())
    assert health["status"] == "ok" and health["running"] is True and health["quarantinedExecutions"] == []


def test_health_answers_a_head_probe_as_a_get_without_a_body(server: Server) -> None:
    with urllib.request.urlopen(urllib.request.Request(server.url + "/health", method="HEAD"), timeout=5) as response:
        assert response.status == 200 and response.headers["Content-Type"] == "application/json"
        assert int(response.headers["Content-Length"]) > 0 and response.read() == b""
    with pytest.raises(urllib.error.HTTPError) as refused:  # other paths take POST only, as before
        urllib.request.urlopen(urllib.request.Request(server.url + "/other", method="HEAD"), timeout=5)
    assert refused.value.code == 405


def test_state_machine_lifecycle(sfn: Any) -> None:
    arn = create(sfn, "lifecycle", PASS, tags=[{"key": "team", "value": "ops"}])
    assert arn == "arn:aws:states:us-east-1:123456789012:stateMachine:lifecycle"
    assert create(sfn, "lifecycle", PASS) == arn  # the same definition again is idempotent
    code, message, status = error_of(sfn.create_state_machine, name="lifecycle", roleArn=ROLE,
                                     definition=json.dumps(DOUBLE))
    assert (code, status) == ("StateMachineAlreadyExists", 400)
    assert message == f"State Machine Already Exists: '{arn}'"

    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert described["name"] == "lifecycle" and described["type"] == "STANDARD"
    assert described["status"] == "ACTIVE" and json.loads(described["definition"]) == PASS
    assert described["roleArn"] == ROLE and described["creationDate"].year >= 2024

    updated = sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(DOUBLE))
    assert updated["revisionId"] != described["revisionId"]
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"]) == DOUBLE
    code, message, _ = error_of(sfn.update_state_machine, stateMachineArn=arn)
    assert code == "MissingRequiredParameter"

    sfn.delete_state_machine(stateMachineArn=arn)
    code, message, _ = error_of(sfn.describe_state_machine, stateMachineArn=arn)
    assert (code, message) == ("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")


def test_create_errors(sfn: Any) -> None:
    code, message, status = error_of(sfn.create_state_machine, name="bad", roleArn=ROLE,
                                     definition=json.dumps({"StartAt": "X"}))
    assert (code, status) == ("InvalidDefinition", 400)
    assert message == ("Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: "
                       "These fields are required: [States] at /'")
    code, message, _ = error_of(sfn.create_state_machine, name="bad name", roleArn=ROLE,
                                definition=json.dumps(PASS))
    assert (code, message) == ("InvalidName", "Invalid Name: 'bad name'")
    code, message, _ = error_of(sfn.describe_state_machine, stateMachineArn="not-an-arn")
    assert (code, message) == ("InvalidArn", "Invalid Arn: 'not-an-arn'")


def test_list_state_machines_pages(sfn: Any) -> None:
    names = [f"page-{i}" for i in range(5)]
    for name in names:
        create(sfn, name, PASS)
    seen: list[str] = []
    token = None
    while True:
        page = sfn.list_state_machines(maxResults=2, **({"nextToken": token} if token else {}))
        assert len(page["stateMachines"]) <= 2
        seen += [m["name"] for m in page["stateMachines"]]
        token = page.get("nextToken")
        if not token:
            break
    assert [n for n in seen if n.startswith("page-")] == names
    paginated = [m["name"] for p in sfn.get_paginator("list_state_machines").paginate(PaginationConfig={"PageSize": 3})
                 for m in p["stateMachines"]]
    assert paginated == seen
    code, message, _ = error_of(sfn.list_state_machines, maxResults=1001)
    assert code == "ValidationException" and "less than or equal to 1000" in message


def test_validate_state_machine_definition(sfn: Any) -> None:
    assert sfn.validate_state_machine_definition(definition=json.dumps(PASS))["result"] == "OK"
    result = sfn.validate_state_machine_definition(
        definition=json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}))
    assert result["result"] == "FAIL"
    assert result["diagnostics"][0]["code"] == "MISSING_TRANSITION_TARGET"
    assert result["diagnostics"][0]["location"] == "/States/A/Next"
    express = sfn.validate_state_machine_definition(definition=json.dumps(CALLBACK), type="EXPRESS")
    assert express["result"] == "FAIL"
    assert sfn.validate_state_machine_definition(definition="not json")["result"] == "FAIL"


YAML_PASS = "StartAt: P\nStates:\n  P:\n    Type: Pass\n    End: true\n"
YAML_PROBLEM = ("INVALID_JSON_DESCRIPTION: Unrecognized token 'StartAt': was expecting (JSON String, Number, Array, "
                "Object or token 'null', 'true' or 'false')")


def test_the_api_takes_json_definitions_only(sfn: Any) -> None:
    """YAML is for definition files on the command line; AWS's API reads a definition as JSON."""
    result = sfn.validate_state_machine_definition(definition=YAML_PASS)
    assert result["result"] == "FAIL"
    assert [d["code"] for d in result["diagnostics"]] == ["INVALID_JSON_DESCRIPTION"]
    code, message, status = error_of(sfn.create_state_machine, name="yaml", roleArn=ROLE, definition=YAML_PASS)
    assert (code, status) == ("InvalidDefinition", 400)
    assert message.startswith(f"Invalid State Machine Definition: '{YAML_PROBLEM} at [Source:")
    arn = create(sfn, "json-then-yaml", PASS)
    code, message, _ = error_of(sfn.update_state_machine, stateMachineArn=arn, definition=YAML_PASS)
    assert code == "InvalidDefinition" and YAML_PROBLEM in message
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"]) == PASS
    code, message, _ = error_of(sfn.test_state, definition="Type: Pass\nEnd: true\n", input="{}")
    assert code == "InvalidDefinition" and "INVALID_JSON_DESCRIPTION" in message


# ---- executions and history ------------------------------------------------------------------


def test_execution_runs_a_function(sfn: Any) -> None:
    arn = create(sfn, "double", DOUBLE)
    started = sfn.start_execution(stateMachineArn=arn, name="first", input=json.dumps({"value": 21}))
    assert started["executionArn"] == "arn:aws:states:us-east-1:123456789012:execution:double:first"
    done = wait_done(sfn, started["executionArn"])
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == {"value": 21, "result": {"value": 42}}
    assert done["stopDate"] >= done["startDate"]
    # the same name and input while... it has ended: AWS refuses a second start with that name
    code, message, _ = error_of(sfn.start_execution, stateMachineArn=arn, name="first", input="{}")
    assert (code, message) == ("ExecutionAlreadyExists", f"Execution Already Exists: '{started['executionArn']}'")
    for_execution = sfn.describe_state_machine_for_execution(executionArn=started["executionArn"])
    assert for_execution["stateMachineArn"] == arn and json.loads(for_execution["definition"]) == DOUBLE


def test_failed_execution_names_the_exception(sfn: Any) -> None:
    arn = create(sfn, "boom", {"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": lambda_arn("boom"),
                                                                  "End": True}}})
    done = wait_done(sfn, sfn.start_execution(stateMachineArn=arn, input='{"sku": "X1"}')["executionArn"])
    assert done["status"] == "FAILED" and done["error"] == "OrderRejected"
    assert json.loads(done["cause"])["errorMessage"] == "no stock for X1"


def test_start_execution_errors(sfn: Any) -> None:
    arn = create(sfn, "inputs", PASS)
    code, message, _ = error_of(sfn.start_execution, stateMachineArn=arn, input="not some json")
    assert code == "InvalidExecutionInput"
    assert message == ("Invalid State Machine Execution Input: 'Unrecognized token 'not': was expecting "
                       "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')'")
    code, message, _ = error_of(sfn.start_execution, stateMachineArn=arn + "-missing")
    assert (code, message) == ("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}-missing'")
    code, _, _ = error_of(sfn.start_execution, stateMachineArn=arn, name="a/b")
    assert code == "InvalidName"
    code, _, _ = error_of(sfn.describe_execution, executionArn=arn.replace("stateMachine", "execution") + ":nope")
    assert code == "ExecutionDoesNotExist"


@pytest.mark.parametrize(("text", "problem"), [
    ('{"a": NaN}', "Non-standard token 'NaN': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow"),
    ("[1, -Infinity]", "Non-standard token '-Infinity'"),
    ("[" * 5000 + "]" * 5000, "Document nesting depth exceeds the maximum allowed (1000)"),
    ('{"a": 1e400}', "Numeric value (1e400) out of range of double"),
    ('{"items": [' + '{"n": 1},' * 3000 + '{"n": NaN}]}', "Non-standard token 'NaN'"),  # a large one
], ids=["NaN", "Infinity", "nested too deeply", "beyond a double", "NaN in a large input"])
def test_an_input_that_is_not_json_as_aws_reads_it_is_refused(sfn: Any, text: str, problem: str) -> None:
    arn = create(sfn, "strict-inputs", PASS)
    code, message, _ = error_of(sfn.start_execution, stateMachineArn=arn, input=text)
    assert code == "InvalidExecutionInput"
    assert message.startswith(f"Invalid State Machine Execution Input: '{problem}")
    assert sfn.list_executions(stateMachineArn=arn)["executions"] == [], "nothing was started"


def test_a_large_input_is_checked_and_run_like_a_small_one(sfn: Any) -> None:
    arn = create(sfn, "large-map", {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.items", "End": True,
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}}})
    items = [{"sku": f"X{i}", "name": "é\u0001", "qty": i / 2} for i in range(2000)]
    text = json.dumps({"items": items}, indent=2)  # ~170 KB, as a client writes it: not compact
    done = wait_done(sfn, sfn.start_execution(stateMachineArn=arn, input=text)["executionArn"])
    assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == items
    assert done["input"] == text, "the input is kept as it was given"
    code, message, _ = error_of(sfn.start_execution, stateMachineArn=arn, input=text[:-2])
    assert code == "InvalidExecutionInput"
    assert message.startswith("Invalid State Machine Execution Input: 'Unexpected end-of-input")


def test_history_pages_reverse_and_without_data(sfn: Any) -> None:
    arn = create(sfn, "history", DOUBLE)
    execution = sfn.start_execution(stateMachineArn=arn, input='{"value": 1}')["executionArn"]
    wait_done(sfn, execution)
    full = sfn.get_execution_history(executionArn=execution)["events"]
    types = [e["type"] for e in full]
    assert types == ["ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted",
                     "LambdaFunctionSucceeded", "TaskStateExited", "SucceedStateEntered", "SucceedStateExited",
                     "ExecutionSucceeded"]
    assert [e["id"] for e in full] == list(range(1, len(full) + 1))
    assert history_in_pages(sfn, execution, 4) == full
    reverse = sfn.get_execution_history(executionArn=execution, reverseOrder=True, maxResults=3)
    assert [e["id"] for e in reverse["events"]] == [9, 8, 7] and reverse["nextToken"]
    rest = sfn.get_execution_history(executionArn=execution, reverseOrder=True, nextToken=reverse["nextToken"])
    assert [e["id"] for e in rest["events"]] == [6, 5, 4, 3, 2, 1]
    bare = sfn.get_execution_history(executionArn=execution, includeExecutionData=False)["events"]
    assert "input" in full[0]["executionStartedEventDetails"]
    assert "input" not in bare[0]["executionStartedEventDetails"]
    assert "output" not in bare[-1]["executionSucceededEventDetails"]


def test_list_executions_filters_and_pages(sfn: Any) -> None:
    arn = create(sfn, "listing", WAIT)
    quick = create(sfn, "listing-quick", PASS)
    running = [sfn.start_execution(stateMachineArn=arn, name=f"r{i}")["executionArn"] for i in range(3)]
    done = sfn.start_execution(stateMachineArn=quick)["executionArn"]
    wait_done(sfn, done)
    listed = sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING", maxResults=2)
    assert len(listed["executions"]) == 2 and listed["nextToken"]
    more = sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING", nextToken=listed["nextToken"])
    assert sorted(e["executionArn"] for e in listed["executions"] + more["executions"]) == sorted(running)
    assert sfn.list_executions(stateMachineArn=arn, statusFilter="SUCCEEDED")["executions"] == []
    assert [e["status"] for e in sfn.list_executions(stateMachineArn=quick)["executions"]] == ["SUCCEEDED"]
    code, message, _ = error_of(sfn.list_executions, stateMachineArn=arn, statusFilter="succeeded")
    assert code == "ValidationException" and "enum value set" in message
    for execution in running:
        sfn.stop_execution(executionArn=execution)


def test_stop_execution(sfn: Any) -> None:
    arn = create(sfn, "stoppable", WAIT)
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    stopped = sfn.stop_execution(executionArn=execution, error="Operator", cause="no longer needed")
    assert stopped["stopDate"].year >= 2024
    done = wait_done(sfn, execution)
    assert (done["status"], done["error"], done["cause"]) == ("ABORTED", "Operator", "no longer needed")
    assert sfn.get_execution_history(executionArn=execution, reverseOrder=True)["events"][0]["type"] == \
        "ExecutionAborted"


# ---- task tokens ------------------------------------------------------------------------------


def _token(sfn: Any, execution: str) -> str:
    """The token the definition passed to the service, read from TaskScheduled once the task started."""
    def scheduled() -> str | None:
        events = sfn.get_execution_history(executionArn=execution)["events"]
        if not any(e["type"] == "TaskStarted" for e in events):
            return None
        details = next(e for e in events if e["type"] == "TaskScheduled")["taskScheduledEventDetails"]
        return str(json.loads(details["parameters"])["MessageBody"]["token"])

    return str(wait_for(scheduled, timeout=10, interval=0.05))


def test_send_task_success_failure_heartbeat(sfn: Any) -> None:
    arn = create(sfn, "callback", CALLBACK)
    ok = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    token = _token(sfn, ok)
    sfn.send_task_heartbeat(taskToken=token)
    sfn.send_task_success(taskToken=token, output=json.dumps({"approved": True}))
    assert json.loads(wait_done(sfn, ok)["output"]) == {"approved": True}

    failing = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    token = _token(sfn, failing)
    code, _, _ = error_of(sfn.send_task_success, taskToken=token, output="{not json")
    assert code == "InvalidOutput"
    sfn.send_task_failure(taskToken=token, error="Rejected", cause="by the reviewer")
    done = wait_done(sfn, failing)
    assert (done["status"], done["error"], done["cause"]) == ("FAILED", "Rejected", "by the reviewer")
    code, _, _ = error_of(sfn.send_task_success, taskToken=token, output="{}")
    assert code == "TaskTimedOut"  # an answered token is gone: "Provided task does not exist anymore"
    code, _, _ = error_of(sfn.send_task_heartbeat, taskToken="x" * 3000)
    assert code == "ValidationException"  # AWS's TaskToken: at most 2048 characters


# ---- the protocol -----------------------------------------------------------------------------


def _raw(server: Server, target: str | None, body: bytes) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/x-amz-json-1.0"}
    if target:
        headers["X-Amz-Target"] = target
    request = urllib.request.Request(server.url + "/", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.parametrize(("action", "body", "member"), [
    ("DescribeStateMachine", {"stateMachineArn": 1}, "stateMachineArn"),
    ("ListMapRuns", {"executionArn": "arn:aws:states:us-east-1:123456789012:execution:m:e", "nextToken": 1},
     "nextToken"),
    ("GetActivityTask", {"activityArn": {"a": 1}}, "activityArn"),
    ("SendTaskFailure", {"taskToken": ["t"]}, "taskToken"),
    ("ListExecutions", {"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:m",
                        "maxResults": "ten"}, "maxResults"),
    ("GetExecutionHistory", {"executionArn": "x", "reverseOrder": "yes"}, "reverseOrder"),
    ("TagResource", {"resourceArn": "x", "tags": ["not a tag"]}, "tags"),
    ("CreateStateMachine", {"name": "m", "definition": "{}", "roleArn": "r", "loggingConfiguration": "all"},
     "loggingConfiguration"),
])
def test_a_member_of_the_wrong_type_is_a_serialization_error(server: Server, action: str, body: dict[str, Any],
                                                              member: str) -> None:
    status, answer = _raw(server, f"AWSStepFunctions.{action}", json.dumps(body).encode())
    assert (status, answer["__type"]) == (400, "SerializationException")
    assert f"'{member}'" in answer["message"]



@pytest.mark.parametrize("token", ["", "t" * 65])
def test_a_redrive_client_token_outside_its_length_is_refused_before_the_execution_is_looked_at(
        server: Server, token: str) -> None:
    body = {"executionArn": "arn:aws:states:us-east-1:123456789012:execution:m:never", "clientToken": token}
    bound = "greater than or equal to 1" if not token else "less than or equal to 64"
    assert _raw(server, "AWSStepFunctions.RedriveExecution", json.dumps(body).encode()) == (400, {
        "__type": "ValidationException", "message": f"1 validation error detected: Value '{token}' at 'clientToken' "
                                                    f"failed to satisfy constraint: Member must have length {bound}"})

def test_protocol_errors_and_unsigned_requests(server: Server) -> None:
    status, body = _raw(server, "AWSStepFunctions.NoSuchAction", b"{}")
    assert (status, body["__type"]) == (400, "UnknownOperationException")
    status, body = _raw(server, "AWSStepFunctions.ListStateMachines", b"{not json")
    assert (status, body["__type"]) == (400, "SerializationException")
    status, body = _raw(server, "AWSStepFunctions.ListStateMachines", b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}")
    assert (status, body["__type"]) == (400, "SerializationException")
    status, body = _raw(server, "AWSStepFunctions.CreateActivity", b'{"name": "a\\ud800"}')
    assert (status, body["__type"]) == (400, "SerializationException"), "a lone surrogate no store can hold"
    status, body = _raw(server, "AWSStepFunctions.ListStateMachines", b'{"nextToken": null, "x": "\\ud83d\\ude00"}')
    assert status == 200, "a surrogate pair is a character"
    status, body = _raw(server, "AWSStepFunctions.ListStateMachines", b"")
    assert status == 200 and isinstance(body["stateMachines"], list)  # unsigned requests are accepted too
    status, body = _raw(server, "AWSStepFunctions.DescribeExecution", b'{"executionArn": "arn:nope"}')
    assert (status, body) == (400, {"__type": "InvalidArn", "message": "Invalid Arn: 'arn:nope'"})


def test_restart_recovers_running_executions(tmp_path: Path) -> None:
    functions = write_functions(tmp_path / "functions")
    first = Server(tmp_path, functions).start()
    sfn = first.client()
    arn = create(sfn, "survivor", {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 2, "Next": "D"},
        "D": {"Type": "Task", "Resource": lambda_arn("double"), "End": True}}})
    execution = sfn.start_execution(stateMachineArn=arn, input='{"value": 5}')["executionArn"]
    assert first.stop(signal.SIGINT) == 0  # Ctrl-C: a graceful stop
    second = Server(tmp_path, functions, db=first.db).start()
    try:
        done = wait_done(second.client(), execution)
        assert (done["status"], json.loads(done["output"])) == ("SUCCEEDED", {"value": 10})
    finally:
        assert second.stop() == 0
