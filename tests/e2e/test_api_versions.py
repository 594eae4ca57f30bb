"""Versions, aliases with weighted routing, executions pinned to them, and tags, over the API."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pytest
import test_api_core as core
from test_api_core import PASS, create, error_of, wait_done

pytestmark = pytest.mark.e2e
server, sfn = core.server, core.sfn  # the shared server fixtures


def _result(value: str) -> dict[str, Any]:
    return {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": value, "End": True}}}


def test_versions_pin_executions(sfn: Any) -> None:
    created = sfn.create_state_machine(name="versioned", definition=json.dumps(_result("v1")),
                                       roleArn="arn:aws:iam::123456789012:role/r", publish=True,
                                       versionDescription="first")
    arn, v1 = created["stateMachineArn"], created["stateMachineVersionArn"]
    assert v1 == arn + ":1"
    updated = sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(_result("v2")), publish=True)
    v2 = updated["stateMachineVersionArn"]
    assert v2 == arn + ":2"
    revision = sfn.describe_state_machine(stateMachineArn=arn)["revisionId"]
    assert sfn.publish_state_machine_version(stateMachineArn=arn)["stateMachineVersionArn"] == v2  # unchanged
    code, _, _ = error_of(sfn.publish_state_machine_version, stateMachineArn=arn, revisionId="stale")
    assert code == "ConflictException"
    assert sfn.publish_state_machine_version(stateMachineArn=arn, revisionId=revision)["stateMachineVersionArn"] == v2
    listed = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
    assert [v["stateMachineVersionArn"] for v in listed] == [v2, v1]
    page = sfn.list_state_machine_versions(stateMachineArn=arn, maxResults=1)
    assert len(page["stateMachineVersions"]) == 1 and page["nextToken"]
    described = sfn.describe_state_machine(stateMachineArn=v1)
    assert json.loads(described["definition"]) == _result("v1") and described["description"] == "first"

    execution = sfn.start_execution(stateMachineArn=v1)["executionArn"]
    done = wait_done(sfn, execution)
    assert json.loads(done["output"]) == "v1" and done["stateMachineVersionArn"] == v1
    for_execution = sfn.describe_state_machine_for_execution(executionArn=execution)
    assert json.loads(for_execution["definition"]) == _result("v1")
    latest = wait_done(sfn, sfn.start_execution(stateMachineArn=arn)["executionArn"])
    assert json.loads(latest["output"]) == "v2"

    sfn.delete_state_machine_version(stateMachineVersionArn=v1)
    code, _, _ = error_of(sfn.describe_state_machine, stateMachineArn=v1)
    assert code == "StateMachineDoesNotExist"
    code, _, _ = error_of(sfn.list_state_machine_versions, stateMachineArn=arn, maxResults=1001)
    assert code == "ValidationException"


def test_a_revision_id_of_initial_publishes_a_machine_only_as_it_was_created(sfn: Any) -> None:
    """AWS's API reference: "To specify an initial revision ID for a state machine with no revision ID assigned,
    specify the string INITIAL for the revisionId parameter" — a machine as CreateStateMachine made it."""
    arn = create(sfn, "initial-revision", _result("v1"))
    first = sfn.publish_state_machine_version(stateMachineArn=arn, revisionId="INITIAL")["stateMachineVersionArn"]
    assert first == arn + ":1"
    assert sfn.publish_state_machine_version(stateMachineArn=arn, revisionId="INITIAL")[
        "stateMachineVersionArn"] == first  # the same revision again: the same version
    revision = sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(_result("v2")))["revisionId"]
    assert error_of(sfn.publish_state_machine_version, stateMachineArn=arn, revisionId="INITIAL") == (
        "ConflictException", "Failed to publish the State Machine version for revision INITIAL. The current State "
        f"Machine revision is {revision}.", 400)
    assert [v["stateMachineVersionArn"] for v in sfn.list_state_machine_versions(stateMachineArn=arn)[
        "stateMachineVersions"]] == [first]
    again = create(sfn, "initial-revision-unpublished", _result("v1"))
    sfn.update_state_machine(stateMachineArn=again, roleArn="arn:aws:iam::123456789012:role/other")
    assert error_of(sfn.publish_state_machine_version, stateMachineArn=again, revisionId="INITIAL")[0] == \
        "ConflictException"


def test_alias_routes_by_weight(sfn: Any) -> None:
    arn = create(sfn, "aliased", _result("blue"), publish=True)
    blue = arn + ":1"
    green = sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(_result("green")),
                                     publish=True)["stateMachineVersionArn"]
    alias = sfn.create_state_machine_alias(name="live", description="production", routingConfiguration=[
        {"stateMachineVersionArn": blue, "weight": 100}])["stateMachineAliasArn"]
    assert alias == arn + ":live"
    described = sfn.describe_state_machine_alias(stateMachineAliasArn=alias)
    assert described["name"] == "live" and described["description"] == "production"
    assert described["routingConfiguration"] == [{"stateMachineVersionArn": blue, "weight": 100}]
    first = wait_done(sfn, sfn.start_execution(stateMachineArn=alias)["executionArn"])
    assert json.loads(first["output"]) == "blue"
    assert first["stateMachineAliasArn"] == alias and first["stateMachineVersionArn"] == blue

    sfn.update_state_machine_alias(stateMachineAliasArn=alias, routingConfiguration=[
        {"stateMachineVersionArn": blue, "weight": 50}, {"stateMachineVersionArn": green, "weight": 50}])
    outputs = Counter(
        json.loads(wait_done(sfn, sfn.start_execution(stateMachineArn=alias)["executionArn"])["output"])
        for _ in range(40))
    assert outputs["blue"] > 5 and outputs["green"] > 5  # P(fail) ≈ 2·10⁻⁷

    code, message, _ = error_of(sfn.delete_state_machine_version, stateMachineVersionArn=green)
    assert code == "ConflictException" and alias in message
    code, _, _ = error_of(sfn.create_state_machine_alias, name="bad-sum", routingConfiguration=[
        {"stateMachineVersionArn": blue, "weight": 60}, {"stateMachineVersionArn": green, "weight": 50}])
    assert code == "ValidationException"
    code, _, _ = error_of(sfn.create_state_machine_alias, name="missing", routingConfiguration=[
        {"stateMachineVersionArn": arn + ":9", "weight": 100}])
    assert code == "ResourceNotFound"
    assert [a["stateMachineAliasArn"] for a in
            sfn.list_state_machine_aliases(stateMachineArn=arn)["stateMachineAliases"]] == [alias]
    sfn.delete_state_machine_alias(stateMachineAliasArn=alias)
    code, _, _ = error_of(sfn.describe_state_machine_alias, stateMachineAliasArn=alias)
    assert code == "ResourceNotFound"
    assert sfn.list_state_machine_aliases(stateMachineArn=arn)["stateMachineAliases"] == []



def test_aliases_of_a_version_are_those_that_route_to_it_newest_first(sfn: Any) -> None:
    """AWS's API reference: "To list aliases that reference a state machine version, you can specify the
    version ARN in the stateMachineArn parameter"."""
    arn = create(sfn, "aliases-by-version", _result("one"), publish=True)
    one = arn + ":1"
    two = sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(_result("two")),
                                   publish=True)["stateMachineVersionArn"]
    sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(_result("three")), publish=True)
    for name, routing in [("only-one", [(one, 100)]), ("both", [(one, 30), (two, 70)]), ("only-two", [(two, 100)])]:
        sfn.create_state_machine_alias(name=name, routingConfiguration=[
            {"stateMachineVersionArn": version, "weight": weight} for version, weight in routing])
        time.sleep(0.002)  # each in a millisecond of its own, so that their order is their creation's

    def listed(of: str, **paging: Any) -> list[str]:
        return [a["stateMachineAliasArn"].rsplit(":", 1)[1]
                for a in sfn.list_state_machine_aliases(stateMachineArn=of, **paging)["stateMachineAliases"]]

    # "Results are sorted by time, with the most recently created aliases listed first."
    assert listed(arn) == ["only-two", "both", "only-one"]
    assert listed(one) == ["both", "only-one"]
    assert listed(two) == ["only-two", "both"]
    assert listed(arn + ":3") == []
    first = sfn.list_state_machine_aliases(stateMachineArn=two, maxResults=1)
    rest = sfn.list_state_machine_aliases(stateMachineArn=two, nextToken=first["nextToken"])
    assert "nextToken" not in rest
    assert [a["stateMachineAliasArn"] for a in first["stateMachineAliases"] + rest["stateMachineAliases"]] == [
        arn + ":only-two", arn + ":both"]
    pages, token = [], None
    while True:
        page = sfn.list_state_machine_aliases(stateMachineArn=arn, maxResults=1, **({"nextToken": token} if token
                                                                                     else {}))
        pages += page["stateMachineAliases"]
        token = page.get("nextToken")
        if token is None:
            break
    assert [a["stateMachineAliasArn"].rsplit(":", 1)[1] for a in pages] == ["only-two", "both", "only-one"]
    assert error_of(sfn.list_state_machine_aliases, stateMachineArn=arn + ":9") == (
        "ResourceNotFound", f"Resource not found: '{arn}:9'", 400)


@pytest.mark.parametrize(("routing", "message"), [
    ([], "1 validation error detected: Value at 'routingConfiguration' failed to satisfy constraint: Member must "
         "have length less than or equal to 2 and greater than or equal to 1"),
    ([{"weight": 100}], "1 validation error detected: Value null at 'routingConfiguration.1.member."
                        "stateMachineVersionArn' failed to satisfy constraint: Member must not be null"),
])
def test_alias_create_refuses_an_empty_routing_in_the_api_reference_words(server: core.Server,
                                                                         routing: list[Any], message: str) -> None:
    # Not `InvalidArn: ''`: no entry names the machine, and the request says why.
    body = json.dumps({"name": "nowhere", "routingConfiguration": routing}).encode()
    assert core._raw(server, "AWSStepFunctions.CreateStateMachineAlias", body) == (
        400, {"__type": "ValidationException", "message": message})

def test_tags(sfn: Any) -> None:
    arn = create(sfn, "tagged", PASS)
    sfn.tag_resource(resourceArn=arn, tags=[{"key": "env", "value": "prod"}, {"key": "team", "value": "a"}])
    sfn.tag_resource(resourceArn=arn, tags=[{"key": "team", "value": "b"}])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [
        {"key": "env", "value": "prod"}, {"key": "team", "value": "b"}]
    sfn.untag_resource(resourceArn=arn, tagKeys=["env"])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "team", "value": "b"}]
    code, message, _ = error_of(sfn.list_tags_for_resource, resourceArn=arn + "-gone")
    assert (code, message) == ("ResourceNotFound", f"Resource not found: '{arn}-gone'")
    code, _, _ = error_of(sfn.tag_resource, resourceArn=arn,
                          tags=[{"key": f"k{i}", "value": "v"} for i in range(60)])
    assert code == "TooManyTags"
