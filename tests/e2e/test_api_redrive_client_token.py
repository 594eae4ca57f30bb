"""RedriveExecution's clientToken over the API, with boto3 and `stateway serve`: the token boto3 sends of
its own makes a resent request (a retry after a lost answer) get the first answer, and a retry after the
server was killed gets it too."""

from __future__ import annotations

import json
import signal
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import test_api_core as core
from test_api_core import create, error_of, lambda_arn, wait_done

pytestmark = pytest.mark.e2e

# Waits while a `hold` file exists (the redriven execution stays RUNNING), then fails unless `ok` exists.
HELD = (
    "import os, time\n\n"
    "def handler(event, context):\n"
    "    while os.path.exists(os.path.join(event['dir'], 'hold')):\n"
    "        time.sleep(0.02)\n"
    "    if not os.path.exists(os.path.join(event['dir'], 'ok')):\n"
    "        raise RuntimeError('not ready')\n"
    "    return 'done'\n"
)
MACHINE = {"StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": lambda_arn("held"), "End": True}}}


@pytest.fixture(scope="module")
def functions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("functions")
    (folder / "held.py").write_text(HELD)
    return folder


@pytest.fixture
def server(tmp_path: Path, functions: Path) -> Iterator[core.Server]:
    running = core.Server(tmp_path, functions).start()
    yield running
    running.stop()


def failed_execution(sfn: Any, name: str, folder: Path) -> str:
    arn = create(sfn, name, MACHINE)
    execution = str(sfn.start_execution(stateMachineArn=arn, input=json.dumps({"dir": str(folder)}))["executionArn"])
    assert wait_done(sfn, execution)["status"] == "FAILED"
    return execution


def resend(server: core.Server, body: bytes) -> dict[str, Any]:
    """POST a request body again as it was sent, as an SDK retrying after a lost answer does."""
    request = urllib.request.Request(server.url + "/", data=body, method="POST", headers={
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AWSStepFunctions.RedriveExecution"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.loads(response.read()))


def test_a_redrive_resent_with_boto3s_own_client_token_gets_the_first_answer(server: core.Server, tmp_path: Path) -> None:
    sfn = server.client()
    sent: list[bytes] = []
    sfn.meta.events.register("before-send.sfn.RedriveExecution", lambda request, **_: sent.append(request.body))
    execution = failed_execution(sfn, "resent", tmp_path)
    (tmp_path / "hold").touch()
    answer = sfn.redrive_execution(executionArn=execution)  # no token given: boto3 makes one up
    (body,) = sent
    token = json.loads(body)["clientToken"]
    assert len(token) == 36, "boto3 sends a UUID of its own"
    assert resend(server, body) == {"redriveDate": answer["redriveDate"].timestamp()}
    code, message, _ = error_of(sfn.redrive_execution, executionArn=execution)  # another token: a new request
    assert (code, message) == ("ExecutionNotRedrivable", "Execution is RUNNING and cannot be redriven")

    (tmp_path / "hold").unlink()
    assert wait_done(sfn, execution)["status"] == "FAILED"
    assert resend(server, body) == {"redriveDate": answer["redriveDate"].timestamp()}  # not a second redrive
    described = sfn.describe_execution(executionArn=execution)
    assert (described["status"], described["redriveCount"]) == ("FAILED", 1)
    assert described["redriveDate"] == answer["redriveDate"]
    events = sfn.get_execution_history(executionArn=execution)["events"]
    assert [e["type"] for e in events].count("ExecutionRedriven") == 1


def test_a_redrive_retried_after_the_server_was_killed_gets_the_first_answer(
        server: core.Server, tmp_path: Path, functions: Path) -> None:
    sfn = server.client()
    execution = failed_execution(sfn, "killed", tmp_path)
    (tmp_path / "hold").touch()
    answer = sfn.redrive_execution(executionArn=execution, clientToken="retry-after-a-crash")
    assert server.stop(signal.SIGKILL) == -signal.SIGKILL
    (tmp_path / "hold").unlink()
    (tmp_path / "ok").touch()

    restarted = core.Server(tmp_path, functions, db=server.db).start()
    try:
        again = restarted.client()
        retried = again.redrive_execution(executionArn=execution, clientToken="retry-after-a-crash")
        assert retried["redriveDate"] == answer["redriveDate"]
        done = wait_done(again, execution)
        assert (done["status"], done["redriveCount"], done["output"]) == ("SUCCEEDED", 1, '"done"')
        assert again.redrive_execution(executionArn=execution, clientToken="retry-after-a-crash")["redriveDate"] == \
            answer["redriveDate"]
    finally:
        assert restarted.stop() == 0, restarted.log.read_text()
