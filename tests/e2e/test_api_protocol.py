"""The HTTP API's edges: which actions are dispatched, bounded request bodies, long polls that hold no
thread, and pagination tokens that are signed and checked, not trusted."""

from __future__ import annotations

import base64
import json
import select
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import test_api_core as core
from test_api_core import PASS, Server, create, error_of, wait_done, write_functions

from stateway.api.actions import ACTIONS
from stateway.api.app import ACTION_THREADS, MAX_BODY_BYTES

pytestmark = pytest.mark.e2e
server, sfn = core.server, core.sfn  # the shared server fixtures


def _request(target: str, body: bytes, content_length: int | None = None) -> bytes:
    length = len(body) if content_length is None else content_length
    return (f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.0\r\n"
            f"X-Amz-Target: AWSStepFunctions.{target}\r\nContent-Length: {length}\r\n\r\n").encode() + body


def _answer(sock: socket.socket) -> tuple[bytes, dict[str, str], bytes]:
    """Read one HTTP response to its end: status line, headers, body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    headers = {k.decode().lower(): v.decode().strip() for k, v in (line.split(b":", 1) for line in lines)}
    while len(body) < int(headers["content-length"]):
        chunk = sock.recv(65536)
        assert chunk, body
        body += chunk
    return status, headers, body


# ---- dispatch ---------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["Close", "Call", "Handler", "Express", "Engine", "Service", "Closing",
                                    "ActivityWait", "Describe_state_machine", "describeStateMachine",
                                    "_express", "__init__", "AWSStepFunctions.ListStateMachines", ""])
def test_only_step_functions_actions_are_dispatched(server: Server, action: str) -> None:
    status, body = core._raw(server, f"AWSStepFunctions.{action}", b"{}")
    assert (status, body) == (400, {"__type": "UnknownOperationException",
                                    "message": f"Operation is not supported: '{action}'"})


def test_every_action_is_dispatched(server: Server) -> None:
    for action in sorted(ACTIONS):
        status, body = core._raw(server, f"AWSStepFunctions.{action}", b"{}")
        assert status in (200, 400), (action, body)
        assert body.get("__type") != "UnknownOperationException", action


# ---- request bodies ---------------------------------------------------------------------------


def test_a_body_declared_too_large_is_refused_before_it_is_read(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        # Only the headers are sent: the answer must not wait for the 150 MB they announce.
        sock.sendall(_request("ListStateMachines", b"", content_length=150_000_000))
        status, headers, body = _answer(sock)
        assert status == b"HTTP/1.1 413 Request Entity Too Large"
        assert headers["connection"] == "close"
        assert json.loads(body) == {
            "__type": "RequestEntityTooLargeException",
            "message": f"Request Entity Too Large: the request body is larger than {MAX_BODY_BYTES} bytes"}
        assert sock.recv(1) == b"", "the server closes the connection it did not read to the end"


def test_a_body_at_the_limit_is_read(server: Server) -> None:
    padding = b" " * (MAX_BODY_BYTES - len(b'{"maxResults": 1}'))
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(_request("ListStateMachines", b'{"maxResults": 1}' + padding))
        status, _, body = _answer(sock)
    assert status == b"HTTP/1.1 200 OK" and "stateMachines" in json.loads(body)


def test_boto3_sees_a_too_large_request_as_413(sfn: Any) -> None:
    arn = create(sfn, "too-large-input", PASS)
    with pytest.raises(core.ClientError) as info:
        sfn.start_execution(stateMachineArn=arn, input=json.dumps("x" * MAX_BODY_BYTES))
    error = info.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert error["Error"]["Code"] == "RequestEntityTooLargeException"


# ---- pagination tokens ------------------------------------------------------------------------


def _b64(text: bytes) -> str:
    return base64.urlsafe_b64encode(text).decode()


# Never a token of any listing.
FORGED_TOKENS = [
    _b64(b"[1,2]"), _b64(b"1e400"), _b64(b"{}"), _b64(b"null"), _b64(b"true"), _b64(b"-1"), _b64(b"1.5"),
    _b64(str(2**70).encode()), _b64(b'"\\ud800"'), _b64(b"[1]"), _b64(b'[1, "a", 2]'), _b64(b'["1", "a"]'),
    _b64(b"[" * 300 + b"]" * 300), _b64(b"\xff\xfe"), _b64(b"not json"), "!!!", "a",
]
# A position of each shape, made by hand (as tokens were before they were signed): listings by name, by
# number (history, versions), by start date.
HAND_MADE = {"name": _b64(b'"abc"'), "number": _b64(b"3"), "start": _b64(b'[1700000000000, "arn"]')}


@pytest.fixture(scope="module")
def paginated(sfn: Any) -> dict[str, tuple[str, Callable[[str], Any]]]:
    """Each paginated action: the shape of its positions, and a call with a given nextToken."""
    machine = create(sfn, "paged-tokens", PASS, publish=True)
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    wait_done(sfn, execution)
    express = create(sfn, "paged-tokens-express", PASS, type="EXPRESS")
    express_execution = sfn.start_sync_execution(stateMachineArn=express)["executionArn"]
    return {
        "ListStateMachines": ("name", lambda token: sfn.list_state_machines(nextToken=token)),
        "ListActivities": ("name", lambda token: sfn.list_activities(nextToken=token)),
        "ListStateMachineAliases": ("start", lambda token: sfn.list_state_machine_aliases(
            stateMachineArn=machine, nextToken=token)),
        "GetExecutionHistory": ("number", lambda token: sfn.get_execution_history(
            executionArn=execution, nextToken=token)),
        "GetExecutionHistory reversed": ("number", lambda token: sfn.get_execution_history(
            executionArn=execution, nextToken=token, reverseOrder=True)),
        "GetExecutionHistory of an Express execution": ("number", lambda token: sfn.get_execution_history(
            executionArn=express_execution, nextToken=token)),
        "ListStateMachineVersions": ("number", lambda token: sfn.list_state_machine_versions(
            stateMachineArn=machine, nextToken=token)),
        "ListExecutions": ("start", lambda token: sfn.list_executions(stateMachineArn=machine, nextToken=token)),
        "ListMapRuns": ("start", lambda token: sfn.list_map_runs(executionArn=execution, nextToken=token)),
    }


@pytest.mark.parametrize("token", FORGED_TOKENS)
def test_a_forged_next_token_is_invalid_token(paginated: dict[str, tuple[str, Callable[[str], Any]]],
                                              token: str) -> None:
    for action, (_, call) in paginated.items():
        code, message, status = error_of(call, token=token)
        assert (code, status, message) == ("InvalidToken", 400, f"Invalid Token: '{token}'"), action


def test_a_hand_made_position_is_invalid_token(paginated: dict[str, tuple[str, Callable[[str], Any]]]) -> None:
    """Tokens are signed: a position of the right shape is a place to start only if a listing wrote it."""
    for action, (shape, call) in paginated.items():
        code, message, status = error_of(call, token=HAND_MADE[shape])
        assert (code, status, message) == ("InvalidToken", 400, f"Invalid Token: '{HAND_MADE[shape]}'"), action


def test_a_token_of_another_listing_is_invalid_token(
        sfn: Any, paginated: dict[str, tuple[str, Callable[[str], Any]]]) -> None:
    """A real token, of a listing whose positions have another shape."""
    for name in ("paged-token-a", "paged-token-b"):
        sfn.create_activity(name=name)
    machine = create(sfn, "paged-token-shapes", PASS)
    executions = [sfn.start_execution(stateMachineArn=machine)["executionArn"] for _ in range(2)]
    for execution in executions:
        wait_done(sfn, execution)
    real = {"name": sfn.list_activities(maxResults=1)["nextToken"],
            "number": sfn.get_execution_history(executionArn=executions[0], maxResults=1)["nextToken"],
            "start": sfn.list_executions(stateMachineArn=machine, maxResults=1)["nextToken"]}
    for action, (shape, call) in paginated.items():
        call(real[shape])  # its own shape is a place to start at
        for other in real.keys() - {shape}:
            code, _, status = error_of(call, token=real[other])
            assert (code, status) == ("InvalidToken", 400), (action, other)


# ---- long polls -------------------------------------------------------------------------------


def test_idle_long_polls_leave_the_other_actions_their_threads(tmp_path: Path) -> None:
    """More idle GetActivityTask polls than the API has threads; everything else still answers at once."""
    polling = Server(tmp_path, write_functions(tmp_path / "functions"),
                     env={"STATEWAY_ACTIVITY_POLL_SECONDS": "60"}).start()
    pollers: list[socket.socket] = []
    try:
        sfn = polling.client()
        idle = sfn.create_activity(name="idle")["activityArn"]
        for _ in range(ACTION_THREADS + 44):
            sock = socket.create_connection(("127.0.0.1", polling.port), timeout=10)
            sock.sendall(_request("GetActivityTask", json.dumps({"activityArn": idle}).encode()))
            pollers.append(sock)
        time.sleep(1)  # not needed for the test to pass: gives the server time to take every poll up first
        assert "stateMachines" in sfn.list_state_machines(maxResults=1)
        # A worker of another activity is served in full meanwhile: its poll, then its SendTaskSuccess.
        busy = sfn.create_activity(name="busy")["activityArn"]
        machine = create(sfn, "busy-work", {"StartAt": "Work", "States": {
            "Work": {"Type": "Task", "Resource": busy, "End": True}}})
        execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
        task = sfn.get_activity_task(activityArn=busy, workerName="w")
        sfn.send_task_success(taskToken=task["taskToken"], output='{"done": true}')
        assert json.loads(wait_done(sfn, execution)["output"]) == {"done": True}
        readable, _, _ = select.select(pollers, [], [], 0)
        assert readable == [], "every idle poll is still waiting: the calls above did not wait for them"
    finally:
        for sock in pollers:
            sock.close()
        assert polling.stop() == 0, polling.log.read_text()


def test_a_poll_whose_client_went_away_claims_no_task(server: Server, sfn: Any) -> None:
    """A task claimed for a worker that is no longer there would wait for its timeouts, or for ever."""
    activity = sfn.create_activity(name="abandoned")["activityArn"]
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(_request("GetActivityTask", json.dumps({"activityArn": activity}).encode()))
    time.sleep(0.3)  # the server is holding the poll
    sock.close()
    machine = create(sfn, "abandoned-work", {"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": activity, "End": True}}})
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    time.sleep(1.5)  # a poll still waiting would have been woken for the task and claimed it by now
    task = sfn.get_activity_task(activityArn=activity, workerName="present")
    assert task.get("taskToken"), "the task waited for a worker that is there"
    sfn.send_task_success(taskToken=task["taskToken"], output="{}")
    assert wait_done(sfn, execution)["status"] == "SUCCEEDED"


def test_next_token_lengths_are_those_of_aws_api_model(server: Server, sfn: Any) -> None:
    """1,024 characters at most, but 3,096 for ListExecutions (botocore's model; its own checks are off)."""
    loose = server.client(parameter_validation=False)
    machine = create(sfn, "token-lengths", PASS)
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    wait_done(sfn, execution)
    calls = {1024: [lambda token: loose.get_execution_history(executionArn=execution, nextToken=token),
                    lambda token: loose.list_map_runs(executionArn=execution, nextToken=token),
                    lambda token: loose.list_state_machines(nextToken=token)],
             3096: [lambda token: loose.list_executions(stateMachineArn=machine, nextToken=token)]}
    for limit, listed in calls.items():
        for call in listed:
            assert error_of(call, token="a" * limit)[0] == "InvalidToken"  # long enough to be read
            code, message, _ = error_of(call, token="a" * (limit + 1))
            assert code == "ValidationException"
            assert message.endswith(f"Member must have length less than or equal to {limit}")
