"""Executions and task tokens over the API as AWS answers them: roles, answers to one token, listing
by alias and version, ListExecutions' filters, redrive status, and the members' length limits."""

from __future__ import annotations

import json
from typing import Any

import pytest
import test_api_core as core
from test_api_core import wait_done

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
