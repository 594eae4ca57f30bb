"""The AWS CLI (`awscli` from PyPI) against `stateway serve`, unchanged but for `--endpoint-url`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import test_api_core as core

pytestmark = pytest.mark.e2e
server = core.server

AWS = Path(sys.executable).parent / "aws"


def aws(server: core.Server, *args: str, check: bool = True) -> Any:
    if not AWS.exists() and shutil.which("aws") is None:
        pytest.skip("the AWS CLI is not installed (pip install awscli)")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
           "AWS_MAX_ATTEMPTS": "1"}
    command = [str(AWS) if AWS.exists() else "aws", "stepfunctions", "--endpoint-url", server.url,
               "--output", "json", *args]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    if not check:
        return done
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else {}


def test_aws_cli_round_trip(server: core.Server, tmp_path: Path) -> None:
    definition = tmp_path / "machine.json"
    definition.write_text(json.dumps(core.DOUBLE))
    created = aws(server, "create-state-machine", "--name", "cli-double", "--role-arn", core.ROLE,
                  "--definition", f"file://{definition}")
    arn = created["stateMachineArn"]
    assert isinstance(created["creationDate"], str | float | int)
    assert "cli-double" in [m["name"] for m in aws(server, "list-state-machines")["stateMachines"]]
    started = aws(server, "start-execution", "--state-machine-arn", arn, "--name", "cli-run",
                  "--input", '{"value": 4}')
    execution = started["executionArn"]
    deadline = time.monotonic() + 20
    while (described := aws(server, "describe-execution", "--execution-arn", execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"value": 4, "result": {"value": 8}}
    history = aws(server, "get-execution-history", "--execution-arn", execution, "--reverse-order",
                  "--max-items", "2")
    assert [e["type"] for e in history["events"]] == ["ExecutionSucceeded", "SucceedStateExited"]
    listed = aws(server, "list-executions", "--state-machine-arn", arn, "--status-filter", "SUCCEEDED")
    assert [e["name"] for e in listed["executions"]] == ["cli-run"]
    activity = aws(server, "create-activity", "--name", "cli-activity")["activityArn"]
    assert aws(server, "describe-activity", "--activity-arn", activity)["name"] == "cli-activity"
    aws(server, "tag-resource", "--resource-arn", arn, "--tags", "key=env,value=test")
    assert aws(server, "list-tags-for-resource", "--resource-arn", arn)["tags"] == [{"key": "env", "value": "test"}]
    aws(server, "delete-state-machine", "--state-machine-arn", arn)


def test_aws_cli_errors_and_sync_execution(server: core.Server, tmp_path: Path) -> None:
    failed = aws(server, "describe-state-machine", "--state-machine-arn",
                 "arn:aws:states:us-east-1:123456789012:stateMachine:nope", check=False)
    assert failed.returncode != 0
    assert "StateMachineDoesNotExist" in failed.stderr
    assert "State Machine Does Not Exist: 'arn:aws:states:us-east-1:123456789012:stateMachine:nope'" in failed.stderr
    express = aws(server, "create-state-machine", "--name", "cli-express", "--role-arn", core.ROLE,
                  "--type", "EXPRESS", "--definition", json.dumps(core.PASS))["stateMachineArn"]
    result = aws(server, "start-sync-execution", "--state-machine-arn", express, "--input", "{}")
    assert result["status"] == "SUCCEEDED" and json.loads(result["output"]) == {"ok": True}
