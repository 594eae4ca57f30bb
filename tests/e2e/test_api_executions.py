"""Executions and task tokens over the API as AWS answers them: roles, answers to one token, listing
by alias and version, ListExecutions' filters, redrive status, and the members' length limits."""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import test_api_core as core
from botocore.exceptions import ClientError
from test_api_core import create, error_of, wait_done

pytestmark = pytest.mark.e2e
server, sfn = core.server, core.sfn  # the shared server fixtures

MY_ROLE = "arn:aws:iam::123456789012:role/MyRole"
OTHER_ROLE = "arn:aws:iam::123456789012:role/OtherRole"
ROLE_OF_EXECUTION = {"StartAt": "R", "States": {"R": {
    "Type": "Pass", "Parameters": {"role.$": "$$.Execution.RoleArn"}, "End": True}}}


def _role_of(sfn: Any, execution: str) -> tuple[str, str]:
    """($$.Execution.RoleArn, ExecutionStarted's roleArn) of an ended execution."""
    output = json.loads(wait_done(sfn, execution)["output"])["role"]
    started = sfn.get_execution_history(executionArn=execution)["events"][0]
    return output, started["executionStartedEventDetails"]["roleArn"]


def test_an_execution_runs_with_its_state_machines_role(sfn: Any) -> None:
    created = sfn.create_state_machine(name="own-role", definition=json.dumps(ROLE_OF_EXECUTION),
                                       roleArn=MY_ROLE, publish=True)
    arn, v1 = created["stateMachineArn"], created["stateMachineVersionArn"]
    assert _role_of(sfn, sfn.start_execution(stateMachineArn=arn)["executionArn"]) == (MY_ROLE, MY_ROLE)
    sfn.update_state_machine(stateMachineArn=arn, roleArn=OTHER_ROLE)
    assert sfn.describe_state_machine(stateMachineArn=v1)["roleArn"] == MY_ROLE  # a version keeps its role
    assert _role_of(sfn, sfn.start_execution(stateMachineArn=v1)["executionArn"]) == (MY_ROLE, MY_ROLE)
    assert _role_of(sfn, sfn.start_execution(stateMachineArn=arn)["executionArn"]) == (OTHER_ROLE, OTHER_ROLE)
    alias = sfn.create_state_machine_alias(name="live", routingConfiguration=[
        {"stateMachineVersionArn": v1, "weight": 100}])["stateMachineAliasArn"]
    assert _role_of(sfn, sfn.start_execution(stateMachineArn=alias)["executionArn"]) == (MY_ROLE, MY_ROLE)


def test_an_express_execution_runs_with_its_state_machines_role(sfn: Any) -> None:
    arn = sfn.create_state_machine(name="own-role-express", definition=json.dumps(ROLE_OF_EXECUTION),
                                   roleArn=MY_ROLE, type="EXPRESS")["stateMachineArn"]
    result = sfn.start_sync_execution(stateMachineArn=arn)
    assert json.loads(result["output"]) == {"role": MY_ROLE}


# ---- task tokens ------------------------------------------------------------------------------


def test_only_the_first_answer_to_a_token_counts(sfn: Any) -> None:
    activity = sfn.create_activity(name="answered-twice")["activityArn"]
    arn = create(sfn, "answered-twice", {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": activity, "End": True}}})
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    token = sfn.get_activity_task(activityArn=activity)["taskToken"]
    sfn.send_task_failure(taskToken=token, error="WorkerA")
    closed = ("TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'", 400)
    assert error_of(sfn.send_task_success, taskToken=token, output='{"from": "WorkerB"}') == closed
    assert error_of(sfn.send_task_failure, taskToken=token, error="WorkerC") == closed
    assert error_of(sfn.send_task_heartbeat, taskToken=token) == closed
    done = wait_done(sfn, execution)
    assert (done["status"], done["error"]) == ("FAILED", "WorkerA")


def test_concurrent_answers_to_one_token_have_one_winner(server: core.Server, sfn: Any) -> None:
    arn = create(sfn, "answered-at-once", core.CALLBACK)
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    token = core._token(sfn, execution)
    clients = [server.client() for _ in range(10)]
    barrier = threading.Barrier(len(clients))

    def answer(index: int) -> str:
        barrier.wait()
        try:
            clients[index].send_task_success(taskToken=token, output=json.dumps({"worker": index}))
        except ClientError as exc:
            return str(exc.response["Error"]["Code"])
        return f"won {index}"

    with ThreadPoolExecutor(len(clients)) as pool:
        answers = list(pool.map(answer, range(len(clients))))
    winners = [a for a in answers if a.startswith("won")]
    assert len(winners) == 1 and sorted(set(answers) - set(winners)) == ["TaskTimedOut"], answers
    assert json.loads(wait_done(sfn, execution)["output"]) == {"worker": int(winners[0].split()[1])}


def test_task_answers_outside_awss_limits(server: core.Server, sfn: Any) -> None:
    loose = server.client(parameter_validation=False)  # boto3 itself refuses some of these
    execution = sfn.start_execution(stateMachineArn=create(sfn, "limits", core.CALLBACK))["executionArn"]
    token = core._token(sfn, execution)
    for call, kwargs, member, bound in [
        (loose.send_task_success, {"taskToken": "", "output": "{}"}, "taskToken", "greater than or equal to 1"),
        (loose.send_task_heartbeat, {"taskToken": "t" * 2049}, "taskToken", "less than or equal to 2048"),
        (loose.send_task_failure, {"taskToken": token, "error": "e" * 257}, "error", "less than or equal to 256"),
        (loose.send_task_failure, {"taskToken": token, "cause": "c" * 32_769}, "cause",
         "less than or equal to 32768"),
        (loose.stop_execution, {"executionArn": execution, "error": "e" * 257}, "error", "less than or equal to 256"),
        (loose.stop_execution, {"executionArn": execution, "cause": "c" * 32_769}, "cause",
         "less than or equal to 32768"),
    ]:
        assert error_of(call, **kwargs) == ("ValidationException", f"1 validation error detected: Value at "
                                            f"'{member}' failed to satisfy constraint: Member must have length "
                                            f"{bound}", 400)
    assert error_of(sfn.send_task_success, taskToken="bogus", output="{}") == ("InvalidToken", "Invalid token", 400)
    assert error_of(sfn.send_task_success, taskToken=str(uuid.uuid4()), output="{}")[0] == "TaskDoesNotExist"
    sfn.send_task_failure(taskToken=token, error="e" * 256, cause="c" * 32_768)  # the limits themselves are fine
    assert wait_done(sfn, execution)["error"] == "e" * 256


def test_a_task_output_over_256_kib_is_refused_and_the_task_stays_open(sfn: Any) -> None:
    """SendTaskSuccess's `output` is at most 262,144 bytes of UTF-8, as the API reference's length constraint
    says: a larger one is a ValidationException before the token is looked at, and the task can still be
    answered; the limit itself is fine."""
    execution = sfn.start_execution(stateMachineArn=create(sfn, "big-output", core.CALLBACK))["executionArn"]
    token = core._token(sfn, execution)
    refused = ("ValidationException", "1 validation error detected: Value at 'output' failed to satisfy "
               "constraint: Member must have length less than or equal to 262144", 400)
    over = json.dumps({"x": "a" * 262_144})
    assert error_of(sfn.send_task_success, taskToken=token, output=over) == refused
    assert error_of(sfn.send_task_success, taskToken=str(uuid.uuid4()), output=over) == refused
    wide = json.dumps({"x": "é" * 131_070}, ensure_ascii=False)  # 131,079 characters, 262,149 bytes
    assert error_of(sfn.send_task_success, taskToken=token, output=wide) == refused
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
    at_limit = json.dumps({"x": "a" * (262_144 - 9)})
    assert len(at_limit.encode()) == 262_144
    sfn.send_task_success(taskToken=token, output=at_limit)
    assert json.loads(wait_done(sfn, execution)["output"]) == json.loads(at_limit)


# ---- listing and describing -------------------------------------------------------------------


def _names(listed: dict[str, Any]) -> list[str]:
    return [e["name"] for e in listed["executions"]]


def test_list_executions_of_an_alias_or_a_version(sfn: Any) -> None:
    arn = create(sfn, "listed-by-alias", core.PASS, publish=True)
    version = arn + ":1"
    alias = sfn.create_state_machine_alias(name="live", routingConfiguration=[
        {"stateMachineVersionArn": version, "weight": 100}])["stateMachineAliasArn"]
    wait_done(sfn, sfn.start_execution(stateMachineArn=alias, name="via-alias")["executionArn"])
    wait_done(sfn, sfn.start_execution(stateMachineArn=version, name="via-version")["executionArn"])
    for i in range(3):
        wait_done(sfn, sfn.start_execution(stateMachineArn=arn, name=f"plain{i}")["executionArn"])
    by_alias = sfn.list_executions(stateMachineArn=alias)
    assert _names(by_alias) == ["via-alias"]
    assert by_alias["executions"][0]["stateMachineAliasArn"] == alias
    assert by_alias["executions"][0]["stateMachineVersionArn"] == version
    first = sfn.list_executions(stateMachineArn=version, maxResults=1)  # filtered before paging
    second = sfn.list_executions(stateMachineArn=version, maxResults=1, nextToken=first["nextToken"])
    assert _names(first) + _names(second) == ["via-version", "via-alias"] and "nextToken" not in second
    assert len(_names(sfn.list_executions(stateMachineArn=arn))) == 5
    assert error_of(sfn.list_executions, stateMachineArn=arn + ":gone")[0] == "ResourceNotFound"


def test_list_executions_filters_and_fields(server: core.Server, sfn: Any) -> None:
    arn = create(sfn, "listed-by-redrive", {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E"}}})
    redriven = sfn.start_execution(stateMachineArn=arn, name="redriven")["executionArn"]
    wait_done(sfn, sfn.start_execution(stateMachineArn=arn, name="not-redriven")["executionArn"])
    wait_done(sfn, redriven)
    sfn.redrive_execution(executionArn=redriven)
    assert wait_done(sfn, redriven)["status"] == "FAILED"
    listed = sfn.list_executions(stateMachineArn=arn, redriveFilter="REDRIVEN")
    assert _names(listed) == ["redriven"]
    assert listed["executions"][0]["redriveCount"] == 1 and listed["executions"][0]["redriveDate"].year >= 2024
    listed = sfn.list_executions(stateMachineArn=arn, redriveFilter="NOT_REDRIVEN")
    assert _names(listed) == ["not-redriven"] and "redriveCount" not in listed["executions"][0]
    assert len(_names(sfn.list_executions(stateMachineArn=arn, maxResults=0))) == 2  # 0: the default page size

    loose = server.client(parameter_validation=False)  # boto3 itself refuses some of these
    for member, value, words in [("redriveFilter", "BOGUS", "satisfy enum value set: [REDRIVEN, NOT_REDRIVEN]"),
                                 ("statusFilter", "BOGUS", "satisfy enum value set"),
                                 ("maxResults", -1, "have value greater than or equal to 0")]:
        code, message, status = error_of(loose.list_executions, stateMachineArn=arn, **{member: value})
        assert (code, status) == ("ValidationException", 400) and f"at '{member}'" in message and words in message
    map_run = "arn:aws:states:us-east-1:123456789012:mapRun:listed-by-redrive/m:0b9d7a2e-8f5c-4c1e-9a59-2f7d6b0c1e3a"
    assert error_of(sfn.list_executions, stateMachineArn=arn, mapRunArn=map_run)[0] == "ValidationException"
    assert error_of(sfn.list_executions, mapRunArn="garbage") == ("InvalidArn", "Invalid Arn: 'garbage'", 400)
    assert error_of(sfn.list_executions, mapRunArn=map_run)[0] == "ResourceNotFound"


def test_describe_execution_says_whether_it_can_be_redriven(sfn: Any) -> None:
    succeeded = wait_done(sfn, sfn.start_execution(stateMachineArn=create(sfn, "redrive-status", core.PASS))[
        "executionArn"])
    assert (succeeded["redriveStatus"], succeeded["redriveStatusReason"]) == (
        "NOT_REDRIVABLE", "Execution is SUCCEEDED and cannot be redriven")  # AWS's words, as recorded
    running = sfn.start_execution(stateMachineArn=create(sfn, "redrive-status-wait", core.WAIT))["executionArn"]
    described = sfn.describe_execution(executionArn=running)
    assert (described["redriveStatus"], described["redriveStatusReason"]) == (
        "NOT_REDRIVABLE", "Execution is RUNNING and cannot be redriven")
    sfn.stop_execution(executionArn=running)
    aborted = wait_done(sfn, running)
    assert aborted["status"] == "ABORTED" and aborted["redriveStatus"] == "REDRIVABLE"
    assert "redriveStatusReason" not in aborted


def test_start_and_poll_members_outside_awss_limits(server: core.Server, sfn: Any) -> None:
    loose = server.client(parameter_validation=False)  # boto3 itself refuses an empty name
    standard = create(sfn, "limits-standard", core.PASS)
    express = sfn.create_state_machine(name="limits-express", definition=json.dumps(core.PASS), roleArn=MY_ROLE,
                                       type="EXPRESS")["stateMachineArn"]
    activity = sfn.create_activity(name="limits-activity")["activityArn"]
    too_short = "Member must have length greater than or equal to 1"
    for call, kwargs, member, words in [
        (loose.start_execution, {"stateMachineArn": standard, "name": ""}, "name", too_short),
        (loose.start_execution, {"stateMachineArn": express, "name": ""}, "name", too_short),
        (loose.start_sync_execution, {"stateMachineArn": express, "name": ""}, "name", too_short),
        (loose.start_execution, {"stateMachineArn": standard, "traceHeader": "t" * 257}, "traceHeader",
         "Member must have length less than or equal to 256"),
        (loose.get_activity_task, {"activityArn": activity, "workerName": "w" * 81}, "workerName",
         "Member must have length less than or equal to 80"),
    ]:
        code, message, status = error_of(call, **kwargs)
        assert (code, status) == ("ValidationException", 400) and f"at '{member}'" in message and words in message
    assert sfn.list_executions(stateMachineArn=standard)["executions"] == []  # nothing started
    started = sfn.start_execution(stateMachineArn=standard, traceHeader="t" * 256)["executionArn"]
    assert wait_done(sfn, started)["status"] == "SUCCEEDED"
