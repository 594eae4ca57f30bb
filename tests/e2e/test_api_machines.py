"""State machines, versions, aliases, activities and tags under concurrent calls and AWS's request rules."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import test_api_core as core
from botocore.exceptions import ClientError
from test_api_core import CALLBACK, PASS, ROLE, WAIT, _raw, _token, create, error_of, wait_done

pytestmark = pytest.mark.e2e
server, sfn = core.server, core.sfn  # the shared server fixtures
ARN = "arn:aws:states:us-east-1:123456789012"


def _burst(call: Callable[[int], Any], n: int = 20) -> Counter[str]:
    """`call(i)` from n threads released together: how many answered each way (OK or the error code)."""
    outcomes: Counter[str] = Counter()
    gate = threading.Barrier(n)
    lock = threading.Lock()

    def run(i: int) -> None:
        gate.wait()
        try:
            call(i)
            outcome = "OK"
        except ClientError as exc:
            outcome = exc.response["Error"]["Code"]
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def _result(value: int) -> str:
    return json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": value, "End": True}}})


def test_concurrent_creates_and_publishes_queue_instead_of_failing(sfn: Any) -> None:
    assert _burst(lambda i: sfn.create_activity(name="raced")) == {"OK": 20}
    assert _burst(lambda i: create(sfn, "raced", PASS)) == {"OK": 20}
    assert _burst(lambda i: sfn.create_state_machine(name="raced-apart", definition=_result(i), roleArn=ROLE)) == {
        "OK": 1, "StateMachineAlreadyExists": 19}

    arn = create(sfn, "raced-versions", PASS, publish=True)
    assert _burst(lambda i: sfn.update_state_machine(stateMachineArn=arn, definition=_result(i), publish=True)) == {
        "OK": 20}
    versions = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
    assert sorted(int(v["stateMachineVersionArn"].rsplit(":", 1)[1]) for v in versions) == list(range(1, 22))
    # Each update published its own revision: the latest version holds the machine's definition.
    latest = sfn.describe_state_machine(stateMachineArn=f"{arn}:21")
    assert latest["definition"] == sfn.describe_state_machine(stateMachineArn=arn)["definition"]

    routing = [{"stateMachineVersionArn": f"{arn}:1", "weight": 100}]
    assert _burst(lambda i: sfn.create_state_machine_alias(name="live", routingConfiguration=routing)) == {"OK": 20}


def test_a_deleted_version_number_is_never_given_again(sfn: Any) -> None:
    arn = create(sfn, "renumbered", PASS, publish=True)
    second = sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(WAIT),
                                      publish=True)["stateMachineVersionArn"]
    assert second == f"{arn}:2"
    execution = sfn.start_execution(stateMachineArn=second)["executionArn"]
    sfn.stop_execution(executionArn=execution)
    sfn.delete_state_machine_version(stateMachineVersionArn=second)
    sfn.update_state_machine(stateMachineArn=arn, definition=_result(3))
    third = sfn.publish_state_machine_version(stateMachineArn=arn)["stateMachineVersionArn"]
    assert third == f"{arn}:3"
    assert sfn.list_executions(stateMachineArn=third)["executions"] == []


def test_a_create_with_too_many_tags_creates_nothing(sfn: Any) -> None:
    tags = [{"key": f"k{i}", "value": "v"} for i in range(51)]
    code, _, status = error_of(sfn.create_state_machine, name="overtagged", definition=json.dumps(PASS),
                               roleArn=ROLE, tags=tags)
    assert (code, status) == ("TooManyTags", 400)
    code, _, _ = error_of(sfn.describe_state_machine, stateMachineArn=f"{ARN}:stateMachine:overtagged")
    assert code == "StateMachineDoesNotExist"
    code, _, _ = error_of(sfn.create_activity, name="overtagged", tags=tags)
    assert code == "TooManyTags"
    code, _, _ = error_of(sfn.describe_activity, activityArn=f"{ARN}:activity:overtagged")
    assert code == "ActivityDoesNotExist"

    arn = sfn.create_activity(name="tagged-activity", tags=tags[:2])["activityArn"]
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == tags[:2]


def test_delete_state_machine_refuses_a_version_or_alias_arn(sfn: Any) -> None:
    arn = create(sfn, "qualified", PASS, publish=True)
    alias = sfn.create_state_machine_alias(name="live", routingConfiguration=[
        {"stateMachineVersionArn": f"{arn}:1", "weight": 100}])["stateMachineAliasArn"]
    for qualified in (f"{arn}:1", alias):
        code, message, status = error_of(sfn.delete_state_machine, stateMachineArn=qualified)
        assert (code, status) == ("ValidationException", 400) and qualified in message
    assert sfn.describe_state_machine(stateMachineArn=f"{arn}:1")["stateMachineArn"] == f"{arn}:1"
    assert sfn.describe_state_machine_alias(stateMachineAliasArn=alias)["name"] == "live"


def test_delete_state_machine_with_running_executions_is_deleting_until_the_last_one_ends(sfn: Any) -> None:
    arn = create(sfn, "retiring", CALLBACK, publish=True, tags=[{"key": "team", "value": "ops"}])
    alias = sfn.create_state_machine_alias(name="live", routingConfiguration=[
        {"stateMachineVersionArn": f"{arn}:1", "weight": 100}])["stateMachineAliasArn"]
    sfn.tag_resource(resourceArn=alias, tags=[{"key": "stage", "value": "prod"}])
    first = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    second = sfn.start_execution(stateMachineArn=alias)["executionArn"]
    tokens = [_token(sfn, first), _token(sfn, second)]

    assert sfn.delete_state_machine(stateMachineArn=arn)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert sfn.describe_state_machine(stateMachineArn=arn)["status"] == "DELETING"
    assert sfn.describe_state_machine(stateMachineArn=f"{arn}:1")["status"] == "DELETING"
    # Being deleted, it is no longer listed (DescribeStateMachine still answers for it, as above).
    assert "retiring" not in [m["name"] for m in sfn.list_state_machines()["stateMachines"]]
    being_deleted = f"State Machine is being deleted: '{arn}'"
    for target in (arn, f"{arn}:1", alias):
        assert error_of(sfn.start_execution, stateMachineArn=target) == ("StateMachineDeleting", being_deleted, 400)
    assert error_of(sfn.create_state_machine, name="retiring", definition=json.dumps(CALLBACK), roleArn=ROLE) == (
        "StateMachineDeleting", being_deleted, 400)
    assert error_of(sfn.update_state_machine, stateMachineArn=arn, definition=json.dumps(PASS))[0] == \
        "StateMachineDeleting"
    assert error_of(sfn.publish_state_machine_version, stateMachineArn=arn)[0] == "StateMachineDeleting"
    sfn.delete_state_machine(stateMachineArn=arn)  # again: still accepted, nothing changes
    assert [wait_done(sfn, e, timeout=0.3)["status"] for e in (first, second)] == ["RUNNING", "RUNNING"]

    # AWS ends an execution of a machine being deleted at its next state transition: here, the answer.
    sfn.send_task_success(taskToken=tokens[0], output=json.dumps({"approved": True}))
    ended = wait_done(sfn, first)
    assert (ended["status"], ended["error"], ended["cause"]) == (
        "FAILED", "States.Runtime", "State machine retiring has been deleted.")
    events = sfn.get_execution_history(executionArn=first)["events"]
    assert [e["type"] for e in events][-1] == "ExecutionFailed"
    assert events[-1]["executionFailedEventDetails"] == {
        "error": "States.Runtime", "cause": "State machine retiring has been deleted."}
    assert sfn.describe_state_machine(stateMachineArn=arn)["status"] == "DELETING"  # the second still runs
    deleting = ("NOT_REDRIVABLE", "State machine is in DELETING status")
    assert (ended["redriveStatus"], ended["redriveStatusReason"]) == deleting
    assert error_of(sfn.redrive_execution, executionArn=first)[:2] == ("ExecutionNotRedrivable", deleting[1])

    sfn.stop_execution(executionArn=second)  # a stop is no transition: it aborts as ever
    assert wait_done(sfn, second)["status"] == "ABORTED"
    # The last one ended: the machine is gone, with its versions, aliases and tags.
    code, message, _ = error_of(sfn.describe_state_machine, stateMachineArn=arn)
    assert (code, message) == ("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
    assert error_of(sfn.describe_state_machine, stateMachineArn=f"{arn}:1")[0] == "StateMachineDoesNotExist"
    gone = sfn.describe_execution(executionArn=second)
    assert (gone["redriveStatus"], gone["redriveStatusReason"]) == deleting
    assert error_of(sfn.describe_state_machine_alias, stateMachineAliasArn=alias)[0] == "ResourceNotFound"
    assert sfn.describe_execution(executionArn=first)["status"] == "FAILED"  # executions stay described

    arn = create(sfn, "retiring", PASS, publish=True)  # the name is free again, and nothing carries over
    sfn.create_state_machine_alias(name="live", routingConfiguration=[{"stateMachineVersionArn": f"{arn}:1",
                                                                         "weight": 100}])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == []
    assert sfn.list_tags_for_resource(resourceArn=alias)["tags"] == []


def test_delete_state_machine_without_running_executions_deletes_at_once(sfn: Any) -> None:
    arn = create(sfn, "finished", PASS)
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    assert wait_done(sfn, execution)["status"] == "SUCCEEDED"
    sfn.delete_state_machine(stateMachineArn=arn)
    assert error_of(sfn.describe_state_machine, stateMachineArn=arn)[0] == "StateMachineDoesNotExist"
    assert create(sfn, "finished", WAIT) == arn


def test_update_with_only_logging_or_tracing(sfn: Any) -> None:
    arn = create(sfn, "configured", PASS)
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert described["loggingConfiguration"] == {"level": "OFF", "includeExecutionData": False}
    assert described["tracingConfiguration"] == {"enabled": False}
    updated = sfn.update_state_machine(stateMachineArn=arn, loggingConfiguration={
        "level": "ERROR", "includeExecutionData": True})
    assert updated["revisionId"] != described["revisionId"]
    sfn.update_state_machine(stateMachineArn=arn, tracingConfiguration={"enabled": True})
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert described["loggingConfiguration"] == {"level": "ERROR", "includeExecutionData": True}
    assert described["tracingConfiguration"] == {"enabled": True}
    assert json.loads(described["definition"]) == PASS
    # The configuration is part of CreateStateMachine's idempotency check, as on AWS.
    code, _, _ = error_of(sfn.create_state_machine, name="configured", definition=json.dumps(PASS), roleArn=ROLE)
    assert code == "StateMachineAlreadyExists"


def _constraint_cases() -> list[tuple[str, dict[str, Any], str]]:
    version = f"{ARN}:stateMachine:bounded:1"
    definition = json.dumps(PASS)
    valid = {"name": "constrained", "definition": definition, "roleArn": ROLE}
    return [
        ("CreateStateMachine", {"name": "constrained", "definition": definition},
         "1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null"),
        ("CreateStateMachine", {**valid, "versionDescription": "first"},
         "Version description can only be set when publish is true"),
        ("CreateStateMachine", {**valid, "definition": json.dumps({**PASS, "Comment": "x" * 1_048_576})},
         "1 validation error detected: Value at 'definition' failed to satisfy constraint: Member must have length "
         "less than or equal to 1048576"),
        ("CreateStateMachine", {**valid, "loggingConfiguration": {"level": "BOGUS"}},
         "1 validation error detected: Value 'BOGUS' at 'loggingConfiguration.level' failed to satisfy constraint: "
         "Member must satisfy enum value set: [ALL, ERROR, FATAL, OFF]"),
        ("CreateStateMachine", {**valid, "tags": [{"key": "k" * 129, "value": "v"}, {"value": "v" * 257}]},
         f"3 validation errors detected: Value '{'k' * 129}' at 'tags.1.member.key' failed to satisfy constraint: "
         "Member must have length less than or equal to 128; Value null at 'tags.2.member.key' failed to satisfy "
         f"constraint: Member must not be null; Value '{'v' * 257}' at 'tags.2.member.value' failed to satisfy "
         "constraint: Member must have length less than or equal to 256"),
        ("TagResource", {"resourceArn": f"{ARN}:stateMachine:bounded", "tags": [{}]},
         "1 validation error detected: Value null at 'tags.1.member.key' failed to satisfy constraint: "
         "Member must not be null"),
        ("TagResource", {"resourceArn": f"{ARN}:stateMachine:bounded",
                         "tags": [{"key": "a#b", "value": "é 1_.:/=+-@"}, {"key": "ok", "value": "nul\u0000"}]},
         "2 validation errors detected: Value 'a#b' at 'tags.1.member.key' failed to satisfy constraint: "
         "Member must satisfy regular expression pattern: ^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$; Value 'nul\u0000' at "
         "'tags.2.member.value' failed to satisfy constraint: Member must satisfy regular expression pattern: "
         "^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$"),
        # Before the machine is looked at: StartSyncExecution of a STANDARD machine is refused for its members.
        ("StartSyncExecution", {"stateMachineArn": f"{ARN}:stateMachine:bounded", "name": "", "includedData": "X"},
         "2 validation errors detected: Value '' at 'name' failed to satisfy constraint: Member must have length "
         "greater than or equal to 1; Value 'X' at 'includedData' failed to satisfy constraint: Member must satisfy "
         "enum value set: [ALL_DATA, METADATA_ONLY]"),
        ("GetActivityTask", {"activityArn": f"{ARN}:activity:bounded", "workerName": ""},
         "1 validation error detected: Value '' at 'workerName' failed to satisfy constraint: Member must have "
         "length greater than or equal to 1"),
        *[(action, {**body, "nextToken": ""}, "1 validation error detected: Value '' at 'nextToken' failed to "
                                              "satisfy constraint: Member must have length greater than or equal to 1")
          for action, body in [("ListStateMachines", {}), ("ListActivities", {}),
                               ("ListExecutions", {"stateMachineArn": f"{ARN}:stateMachine:bounded"}),
                               ("GetExecutionHistory", {"executionArn": f"{ARN}:execution:bounded:e"}),
                               ("ListStateMachineVersions", {"stateMachineArn": f"{ARN}:stateMachine:bounded"})]],
        ("UntagResource", {"resourceArn": f"{ARN}:stateMachine:bounded", "tagKeys": ["ok", "", "k" * 129]},
         "2 validation errors detected: Value '' at 'tagKeys.2.member' failed to satisfy constraint: Member must have "
         f"length greater than or equal to 1; Value '{'k' * 129}' at 'tagKeys.3.member' failed to satisfy "
         "constraint: Member must have length less than or equal to 128"),
        ("UpdateStateMachine", {"stateMachineArn": f"{ARN}:stateMachine:bounded", "roleArn": ROLE,
                                "versionDescription": "v"}, "Version description can only be set when publish is true"),
        ("CreateStateMachineAlias", {"name": "a", "description": "d" * 257,
                                     "routingConfiguration": [{"stateMachineVersionArn": version, "weight": 100}]},
         "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length "
         "less than or equal to 256"),
        ("CreateStateMachineAlias", {"name": "a", "routingConfiguration": [
            {"stateMachineVersionArn": version, "weight": 101}]},
         "1 validation error detected: Value '101' at 'routingConfiguration.1.member.weight' failed to satisfy "
         "constraint: Member must have value less than or equal to 100"),
        *[(action, {member: arn, "includedData": "BOGUS"},
           "1 validation error detected: Value 'BOGUS' at 'includedData' failed to satisfy constraint: Member must "
           "satisfy enum value set: [ALL_DATA, METADATA_ONLY]")
          for action, member, arn in [("DescribeStateMachine", "stateMachineArn", f"{ARN}:stateMachine:bounded"),
                                      ("DescribeExecution", "executionArn", f"{ARN}:execution:bounded:e"),
                                      ("DescribeStateMachineForExecution", "executionArn", f"{ARN}:execution:bounded:e")]],
        ("ValidateStateMachineDefinition", {"definition": definition, "maxResults": -1},
         "1 validation error detected: Value '-1' at 'maxResults' failed to satisfy constraint: Member must have "
         "value greater than or equal to 0"),
        ("ValidateStateMachineDefinition", {"definition": definition, "maxResults": 101, "type": "FOO",
                                            "severity": "FOO"},
         "3 validation errors detected: Value 'FOO' at 'type' failed to satisfy constraint: Member must satisfy enum "
         "value set: [STANDARD, EXPRESS]; Value 'FOO' at 'severity' failed to satisfy constraint: Member must "
         "satisfy enum value set: [ERROR, WARNING]; Value '101' at 'maxResults' failed to satisfy constraint: "
         "Member must have value less than or equal to 100"),
    ]


@pytest.mark.parametrize(("action", "body", "message"), _constraint_cases())
def test_member_constraints_are_checked_as_aws_words_them(server: core.Server, sfn: Any, action: str,
                                                          body: dict[str, Any], message: str) -> None:
    create(sfn, "bounded", PASS, publish=True)
    status, answer = _raw(server, f"AWSStepFunctions.{action}", json.dumps(body).encode())
    assert (status, answer) == (400, {"__type": "ValidationException", "message": message})
    code, _, _ = error_of(sfn.describe_state_machine, stateMachineArn=f"{ARN}:stateMachine:constrained")
    assert code == "StateMachineDoesNotExist"  # nothing was created


def test_a_weight_that_is_not_an_integer_is_refused(server: core.Server, sfn: Any) -> None:
    arn = create(sfn, "weighed", PASS, publish=True)
    status, answer = _raw(server, "AWSStepFunctions.CreateStateMachineAlias", json.dumps({
        "name": "truthy", "routingConfiguration": [{"stateMachineVersionArn": f"{arn}:1", "weight": True}]}).encode())
    assert (status, answer["__type"]) == (400, "SerializationException")
    assert "'routingConfiguration.1.member.weight'" in answer["message"]
    code, _, _ = error_of(sfn.describe_state_machine_alias, stateMachineAliasArn=f"{arn}:truthy")
    assert code == "ResourceNotFound"
