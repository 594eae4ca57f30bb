"""The Step Functions API actions: request parameters in, response fields out, through the service layer.

Each public method is named after its action in snake case (`StartExecution` → `start_execution`)
and takes the request's JSON object. Validation that AWS does before touching any resource (required
members, enums, `maxResults` and `nextToken` limits) happens here; everything that writes goes
through `stateway.engine.service.Service`, the one write path.
"""

from __future__ import annotations

import json
import os
import re
import threading
import uuid
from collections.abc import Callable
from concurrent import futures
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from stateway.asl import history, jsontext
from stateway.asl.model import StateMachine
from stateway.asl.parse import parse_machine
from stateway.engine import arns, constraints, map_runs
from stateway.engine import errors as api
from stateway.engine.constraints import Member
from stateway.engine.express import ExpressExecution, ExpressRunner
from stateway.engine.service import (
    ACTIVITY_STARTED_WAIT_SECONDS,
    EXECUTION_STATUSES,
    MAX_INPUT_BYTES,
    REDRIVE_FILTERS,
    check_enum,
    check_length,
    input_problem,
    page_size,
    stored_event,
)

if TYPE_CHECKING:
    from stateway.engine.runtime import Engine

Params = dict[str, Any]
GET_ACTIVITY_TASK_WAIT = 60.0


# The Step Functions actions stateway answers, by their API names. Only these are dispatched: any
# other `X-Amz-Target` (a misspelling, or the name of some other attribute of StepFunctionsApi) is
# UnknownOperationException, as AWS answers.
ACTIONS = frozenset({
    "CreateStateMachine", "UpdateStateMachine", "DeleteStateMachine", "DescribeStateMachine",
    "DescribeStateMachineForExecution", "ListStateMachines", "ValidateStateMachineDefinition", "TestState",
    "PublishStateMachineVersion", "ListStateMachineVersions", "DeleteStateMachineVersion",
    "CreateStateMachineAlias", "UpdateStateMachineAlias", "DescribeStateMachineAlias",
    "ListStateMachineAliases", "DeleteStateMachineAlias",
    "StartExecution", "StartSyncExecution", "StopExecution", "RedriveExecution", "DescribeExecution",
    "ListExecutions", "GetExecutionHistory", "DescribeMapRun", "ListMapRuns", "UpdateMapRun",
    "SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat",
    "CreateActivity", "DeleteActivity", "DescribeActivity", "ListActivities", "GetActivityTask",
    "TagResource", "UntagResource", "ListTagsForResource",
})


def _snake(action: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", action).lower()


def _validation(message: str) -> api.ApiError:
    return api.ValidationException(f"1 validation error detected: {message}")


def _require(p: Params, member: str) -> Any:
    value = p.get(member)
    if value is None:
        raise _validation(f"Value null at '{member}' failed to satisfy constraint: Member must not be null")
    return value


def _max_results(p: Params) -> int:
    return page_size(p.get("maxResults"))


def _next_token(p: Params, limit: int = 1024) -> str | None:  # 3096 for ListExecutions, as AWS's model says
    token = p.get("nextToken")
    if token is None:
        return None
    if token == "":  # AWS's PageToken is 1 character at least: an empty one is no "start at the top"
        raise _validation("Value '' at 'nextToken' failed to satisfy constraint: Member must have length greater "
                          "than or equal to 1")
    if len(token) > limit:
        raise _validation(f"Value '{token}' at 'nextToken' failed to satisfy constraint: "
                          f"Member must have length less than or equal to {limit}")
    return str(token)


def _page(items: list[dict[str, Any]], key: str, token: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {key: items}
    if token:
        out["nextToken"] = token
    return out


def _definition_text(p: Params) -> str:
    definition = _require(p, "definition")
    return definition if isinstance(definition, str) else json.dumps(definition)


def _json_member(p: Params, member: str, default: Any) -> Any:
    """A request member that carries JSON text (`input`, `variables`, `context`), parsed."""
    value = p.get(member)
    if value is None:
        return default
    if not isinstance(value, str):
        return value
    problem = input_problem(value)
    if problem is not None:
        raise api.InvalidExecutionInput(f"Invalid State Machine Execution Input: '{problem}'")
    return jsontext.loads(value)


def _tags(p: Params) -> list[dict[str, str]]:
    return [{"key": str(t.get("key", "")), "value": str(t.get("value", ""))} for t in p.get("tags") or []]


# ---- request member constraints, as the API reference lists them ------------------------------

STATE_MACHINE_TYPES = ("STANDARD", "EXPRESS")
LOG_LEVELS = ("ALL", "ERROR", "FATAL", "OFF")
_DEFINITION = Member(required=True, min_length=1, max_length=1_048_576, sensitive=True)
_ARN = Member(min_length=1, max_length=256)
_DESCRIPTION = Member(max_length=256, sensitive=True)
_LOG_LEVEL = Member(enum=LOG_LEVELS)
_INCLUDED_DATA = Member(enum=("ALL_DATA", "METADATA_ONLY"))
# `tags.N.member.key`: the members of each element of the list, numbered from 1 as AWS numbers them.
_TAG_MEMBERS = {"tags.N.member.key": Member(required=True, min_length=1, max_length=128, tag_text=True),
                "tags.N.member.value": Member(max_length=256, tag_text=True)}
_ROUTING_MEMBERS = {"routingConfiguration.N.member.stateMachineVersionArn": Member(required=True, min_length=1,
                                                                                     max_length=2048),
                    "routingConfiguration.N.member.weight": Member(required=True, minimum=0, maximum=100)}
# Checked before an action touches anything; every broken constraint is reported in one message.
MEMBERS: dict[str, dict[str, Member]] = {
    "CreateStateMachine": {
        "name": Member(required=True), "definition": _DEFINITION, "roleArn": Member(required=True, min_length=1, max_length=256),
        "type": Member(enum=STATE_MACHINE_TYPES), "versionDescription": _DESCRIPTION,
        "loggingConfiguration.level": _LOG_LEVEL, **_TAG_MEMBERS},
    "UpdateStateMachine": {
        "stateMachineArn": Member(required=True, min_length=1, max_length=256),
        "definition": Member(min_length=1, max_length=1_048_576, sensitive=True), "roleArn": _ARN,
        "versionDescription": _DESCRIPTION, "loggingConfiguration.level": _LOG_LEVEL},
    "ValidateStateMachineDefinition": {
        "definition": _DEFINITION, "type": Member(enum=STATE_MACHINE_TYPES),
        "severity": Member(enum=("ERROR", "WARNING")), "maxResults": Member(minimum=0, maximum=100)},
    "PublishStateMachineVersion": {"description": _DESCRIPTION},
    "CreateStateMachineAlias": {"description": _DESCRIPTION, **_ROUTING_MEMBERS},
    "UpdateStateMachineAlias": {"description": _DESCRIPTION, **_ROUTING_MEMBERS},
    "CreateActivity": {"name": Member(required=True), **_TAG_MEMBERS},
    "TagResource": {**_TAG_MEMBERS},
    "UntagResource": {"tagKeys.N.member": Member(min_length=1, max_length=128)},  # no pattern, as listed
    "RedriveExecution": {"clientToken": Member(min_length=1, max_length=64)},
    # Accepted and otherwise unused: with no encryption, every description is what ALL_DATA gives.
    "DescribeStateMachine": {"includedData": _INCLUDED_DATA},
    # Before the machine's type is looked at, as every member constraint is.
    "StartSyncExecution": {"name": Member(min_length=1, max_length=80), "includedData": _INCLUDED_DATA},
    "DescribeExecution": {"includedData": _INCLUDED_DATA},
    "DescribeStateMachineForExecution": {"includedData": _INCLUDED_DATA},
    # TestStateConfiguration's counts are Integers of at least 0 and MockInput's mode an enum: a negative
    # retry count would otherwise read as "no retry yet" and an unknown mode as no validation.
    "TestState": {
        "definition": _DEFINITION, "roleArn": _ARN,
        "mock.result": Member(max_length=262_144, sensitive=True),
        "mock.fieldValidationMode": Member(enum=("STRICT", "PRESENT", "NONE")),
        "stateConfiguration.retrierRetryCount": Member(minimum=0, bits=32),
        "stateConfiguration.mapIterationFailureCount": Member(minimum=0, bits=32),
        "stateConfiguration.errorCausedByState": Member(min_length=1, max_length=80),
        "stateConfiguration.mapItemReaderData": Member(max_length=262_144, sensitive=True)},
}


def check_members(action: str, p: Params) -> None:
    """Refuse a request that breaks its action's member constraints, in AWS's words."""
    constraints.refuse([problem for path, member in MEMBERS.get(action, {}).items()
                        for at, value in _values_at(p, path) for problem in constraints.problems(at, value, member)])


def _values_at(p: Params, path: str) -> list[tuple[str, Any]]:
    """The values a member path names: `a.b` inside a structure, `a.N.member.b` in each list element, and
    `a.N.member` each element of a list of strings."""
    head, _, rest = path.partition(".")
    value = p.get(head)
    if not rest:
        return [(head, value)]
    if rest == "N.member":  # each element of a list of strings
        return [(f"{head}.{i}.member", item) for i, item in enumerate(value if isinstance(value, list) else [], 1)]
    if rest.startswith("N.member."):
        items = value if isinstance(value, list) else []
        return [(f"{head}.{i}.member.{rest[9:]}", item.get(rest[9:]) if isinstance(item, dict) else None)
                for i, item in enumerate(items, 1)]
    return [(path, value.get(rest))] if isinstance(value, dict) else []


def _version_description(p: Params) -> str:
    """`versionDescription`, which AWS takes only with `publish`."""
    if p.get("versionDescription") and not p.get("publish"):
        raise api.ValidationException("Version description can only be set when publish is true")
    return str(p.get("versionDescription") or "")


class StepFunctionsApi:
    """Dispatches `AWSStepFunctions.<Action>` requests to the engine's service and the Express runner."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.service = engine.service
        self.express = ExpressRunner(engine.functions, service=engine.service, region=engine.service.region,
                                     account=engine.service.account, role_arn=engine.service.role_arn,
                                     function_timeout_seconds=engine.function_timeout_seconds)
        self._machines: dict[str, StateMachine] = {}
        self._machines_lock = threading.Lock()
        self.closing = threading.Event()
        # AWS holds an empty GetActivityTask poll for 60 s; a setting so that tests need not wait as long.
        self.activity_wait = float(os.environ.get("STATEWAY_ACTIVITY_POLL_SECONDS", GET_ACTIVITY_TASK_WAIT))

    def handler(self, action: str) -> Callable[[Params], dict[str, Any]]:
        if action not in ACTIONS:
            raise api.UnknownOperationException(f"Operation is not supported: '{action}'")
        method = getattr(self, _snake(action))
        if action not in MEMBERS:
            return method  # type: ignore[no-any-return]

        def checked(p: Params) -> dict[str, Any]:
            check_members(action, p)
            return method(p)  # type: ignore[no-any-return]
        return checked

    def call(self, action: str, params: Params) -> dict[str, Any]:
        return self.handler(action)(params)

    def end_polls(self) -> None:
        """End every waiting GetActivityTask poll at once with no task: the server is stopping."""
        self.closing.set()
        self.engine.activity_bell.ring_all()

    def close(self) -> None:
        self.end_polls()
        self.express.shutdown()

    # ---- state machines ---------------------------------------------------------------------

    def create_state_machine(self, p: Params) -> dict[str, Any]:
        name = _require(p, "name")
        machine_type = p.get("type") or "STANDARD"
        return self.service.create_state_machine_response(
            name, _definition_text(p), type=machine_type, role_arn=p.get("roleArn"),
            description=p.get("description") or "", publish=bool(p.get("publish")),
            version_description=_version_description(p), tags=_tags(p),
            logging=p.get("loggingConfiguration"), tracing=p.get("tracingConfiguration"))

    def update_state_machine(self, p: Params) -> dict[str, Any]:
        arn = _require(p, "stateMachineArn")
        definition = _definition_text(p) if p.get("definition") is not None else None
        return self.service.update_state_machine(
            arn, definition=definition, role_arn=p.get("roleArn"), logging=p.get("loggingConfiguration"),
            tracing=p.get("tracingConfiguration"), publish=bool(p.get("publish")),
            version_description=_version_description(p))

    def delete_state_machine(self, p: Params) -> dict[str, Any]:
        self.service.delete_state_machine(_require(p, "stateMachineArn"))
        return {}

    def describe_state_machine(self, p: Params) -> dict[str, Any]:
        arn = _require(p, "stateMachineArn")
        parts = arns.split(arn)
        if len(parts) == 8 and not parts[7].isdigit():
            raise api.InvalidArn(f"Invalid Arn: '{arn}'")
        out = self.service.describe_state_machine(arn)
        if not out.get("description"):
            out.pop("description", None)
        return out

    def describe_state_machine_for_execution(self, p: Params) -> dict[str, Any]:
        arn = _require(p, "executionArn")
        record = self._express(arn)
        if record is not None:
            machine = self.service.describe_state_machine(record.state_machine_arn)
            return {"stateMachineArn": machine["stateMachineArn"], "name": machine["name"],
                    "definition": machine["definition"], "roleArn": machine["roleArn"],
                    "updateDate": machine["creationDate"], "revisionId": machine["revisionId"],
                    "loggingConfiguration": machine["loggingConfiguration"],
                    "tracingConfiguration": machine["tracingConfiguration"]}
        return self.service.describe_state_machine_for_execution(arn)

    def list_state_machines(self, p: Params) -> dict[str, Any]:
        items, token = self.service.list_state_machines_page(max_results=_max_results(p),
                                                             next_token=_next_token(p))
        return _page(items, "stateMachines", token)

    def validate_state_machine_definition(self, p: Params) -> dict[str, Any]:
        from stateway.asl.errors import DefinitionError
        from stateway.asl.loader import load_json_definition
        from stateway.asl.validate import diagnostics, validate_definition

        text = _definition_text(p)
        machine_type = p.get("type") or "STANDARD"
        try:
            problems = validate_definition(load_json_definition(text), state_machine_type=machine_type)
        except DefinitionError as exc:
            problems = list(exc.problems)
        found = diagnostics(problems)
        limit = p.get("maxResults") or 100
        out: dict[str, Any] = {"result": "FAIL" if found else "OK", "diagnostics": found[:limit],
                               "truncated": len(found) > limit}
        return out

    def test_state(self, p: Params) -> dict[str, Any]:
        """TestState: run one state (or `stateName` of a whole machine) with a given input and mock."""
        from stateway.asl import teststate
        from stateway.asl.errors import DefinitionError
        from stateway.asl.loader import load_json_definition

        text = _definition_text(p)
        level = p.get("inspectionLevel") or teststate.INFO
        if level not in teststate.INSPECTION_LEVELS:
            raise _validation(f"Value '{level}' at 'inspectionLevel' failed to satisfy constraint: Member must "
                              f"satisfy enum value set: [{', '.join(teststate.INSPECTION_LEVELS)}]")
        try:
            definition = load_json_definition(text)
        except DefinitionError as exc:
            raise api.InvalidDefinition(exc.message) from None
        mock = p.get("mock")
        config = p.get("stateConfiguration")
        variables = _json_member(p, "variables", None)
        if variables is not None and not isinstance(variables, dict):
            # Variables are names with values: the text must hold a JSON object.
            raise _validation("Value at 'variables' failed to satisfy constraint: Member must be a JSON object")
        request = teststate.TestStateRequest(
            definition=definition,
            input=_json_member(p, "input", {}),
            state_name=p.get("stateName"),
            inspection_level=level,
            role_arn=p.get("roleArn"),
            variables=variables,
            context=_json_member(p, "context", teststate.UNSET),
            mock=None if not isinstance(mock, dict) else teststate.Mock(
                result=mock.get("result"),
                error=(mock.get("errorOutput") or {}).get("error"),
                cause=(mock.get("errorOutput") or {}).get("cause"),
                has_error_output=mock.get("errorOutput") is not None,
                field_validation_mode=mock.get("fieldValidationMode") or "STRICT"),
            config=None if not isinstance(config, dict) else teststate.StateConfiguration(
                retrier_retry_count=config.get("retrierRetryCount"),
                error_caused_by_state=config.get("errorCausedByState"),
                map_iteration_failure_count=config.get("mapIterationFailureCount"),
                map_item_reader_data=config.get("mapItemReaderData")),
        )
        arn = f"arn:aws:states:{self.service.region}:{self.service.account}:execution:TestState:{uuid.uuid4()}"
        result = self.service.test_state(request, perform=lambda command: self.express.task_events(command, arn))
        return result.response(level)  # type: ignore[no-any-return]

    # ---- versions and aliases ---------------------------------------------------------------

    def publish_state_machine_version(self, p: Params) -> dict[str, Any]:
        arn = _require(p, "stateMachineArn")
        version_arn = self.service.publish_state_machine_version(arn, p.get("description") or "",
                                                                 revision_id=p.get("revisionId"))
        return {"stateMachineVersionArn": version_arn,
                "creationDate": self.service.describe_state_machine(version_arn)["creationDate"]}

    def list_state_machine_versions(self, p: Params) -> dict[str, Any]:
        arn = _require(p, "stateMachineArn")
        limit, token = _max_results(p), _next_token(p)
        items, next_token = self.service.list_state_machine_versions(arn, max_results=limit, next_token=token)
        return _page(items, "stateMachineVersions", next_token)

    def delete_state_machine_version(self, p: Params) -> dict[str, Any]:
        self.service.delete_state_machine_version(_require(p, "stateMachineVersionArn"))
        return {}

    def create_state_machine_alias(self, p: Params) -> dict[str, Any]:
        arn, created = self.service.create_state_machine_alias(
            _require(p, "name"), _require(p, "routingConfiguration"), description=p.get("description") or "")
        return {"stateMachineAliasArn": arn, "creationDate": created}

    def update_state_machine_alias(self, p: Params) -> dict[str, Any]:
        updated = self.service.update_state_machine_alias(
            _require(p, "stateMachineAliasArn"), description=p.get("description"),
            routing=p.get("routingConfiguration"))
        return {"updateDate": updated}

    def describe_state_machine_alias(self, p: Params) -> dict[str, Any]:
        return self.service.describe_state_machine_alias(_require(p, "stateMachineAliasArn"))

    def list_state_machine_aliases(self, p: Params) -> dict[str, Any]:
        arn = _require(p, "stateMachineArn")
        limit, token = _max_results(p), _next_token(p)
        items, next_token = self.service.list_state_machine_aliases(arn, max_results=limit, next_token=token)
        return _page(items, "stateMachineAliases", next_token)

    def delete_state_machine_alias(self, p: Params) -> dict[str, Any]:
        self.service.delete_state_machine_alias(_require(p, "stateMachineAliasArn"))
        return {}

    # ---- executions -------------------------------------------------------------------------

    def _machine_type(self, arn: str) -> str:
        resolved = arn
        parts = arns.split(arn)
        if len(parts) == 8 and parts[5] == "stateMachine":
            resolved = ":".join(parts[:7])
        try:
            return str(self.service._machine(resolved)["type"])
        except api.InvalidArn:
            raise api.InvalidArn(f"Invalid Arn: '{arn}'") from None
        except api.StateMachineDoesNotExist:
            raise api.StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'") from None

    def _parsed(self, definition: str) -> StateMachine:
        with self._machines_lock:
            machine = self._machines.get(definition)
        if machine is None:
            machine = parse_machine(definition, validate=False)
            with self._machines_lock:
                self._machines[definition] = machine
        return machine

    def _express_start(self, p: Params, sync: bool) -> ExpressExecution:
        arn = str(p["stateMachineArn"])
        resolved, _alias = self.service._route_alias(arn)
        described = self.service.describe_state_machine(resolved)
        machine_arn = arns.machine_of_version(resolved)[0]
        if described["type"] != "EXPRESS":
            # Deleted and created again as STANDARD since the caller's look at its type: the machine this
            # start chose to run in memory is gone, and a STANDARD machine is never run in memory.
            raise api.StateMachineDoesNotExist(f"State Machine Does Not Exist: '{machine_arn}'")
        input_text = p.get("input")
        if input_text is None:
            input_text = "{}"
        problem = input_problem(input_text)
        if problem is not None:
            raise api.InvalidExecutionInput(f"Invalid State Machine Execution Input: '{problem}'")
        if len(input_text.encode("utf-8")) > MAX_INPUT_BYTES:
            raise api.InvalidExecutionInput("The execution input exceeds the maximum size of 262144 bytes.")
        check_length(p.get("name"), "name", 80, minimum=1)
        name = p.get("name") or str(uuid.uuid4())
        if not arns.valid_name(name):
            raise api.InvalidName(f"Invalid Name: '{name}'")
        machine = self._parsed(described["definition"])
        # The execution runs with its state machine's role (a version's: the one it was published with).
        if sync:
            return self.express.run_sync(machine, machine_arn, name, input_text, described["roleArn"])
        return self.express.start(machine, machine_arn, name, input_text, described["roleArn"])

    def start_execution(self, p: Params) -> dict[str, Any]:
        arn = _require(p, "stateMachineArn")
        check_length(p.get("traceHeader"), "traceHeader", 256)
        if self._machine_type(arn) == "EXPRESS":
            record = self._express_start(p, sync=False)
            return {"executionArn": record.execution_arn, "startDate": _ms(record.start_ms)}
        input_text = p.get("input")
        if input_text == "":
            raise api.InvalidExecutionInput("Invalid State Machine Execution Input: 'Invalid execution input.'")
        # The service reads the machine again: it refuses one created again as EXPRESS since this look.
        execution = self.service.start_execution(arn, name=p.get("name"), input_text=input_text,
                                                 machine_type="STANDARD")
        return {"executionArn": execution,
                "startDate": self.service.describe_execution(execution)["startDate"]}

    def start_sync_execution(self, p: Params) -> dict[str, Any]:
        arn = _require(p, "stateMachineArn")
        check_length(p.get("traceHeader"), "traceHeader", 256)
        if self._machine_type(arn) != "EXPRESS":
            raise api.StateMachineTypeNotSupported("This operation is not supported by this type of state machine")
        return self._express_start(p, sync=True).sync_response()

    def _express(self, arn: str) -> ExpressExecution | None:
        parts = arns.split(arn)
        if parts and parts[5] == "express" and not map_runs.is_child_execution_arn(arn):
            record = self.express.get(arn)
            if record is None:
                raise api.ExecutionDoesNotExist(f"Execution Does Not Exist: '{arn}'")
            return record
        return None

    def stop_execution(self, p: Params) -> dict[str, Any]:
        arn = _require(p, "executionArn")
        if self._express(arn) is not None:
            raise api.StateMachineTypeNotSupported("This operation is not supported by this type of state machine")
        return {"stopDate": self.service.stop_execution(arn, error=p.get("error"), cause=p.get("cause"))}

    def redrive_execution(self, p: Params) -> dict[str, Any]:
        arn = _require(p, "executionArn")
        if self._express(arn) is not None:
            raise api.ExecutionNotRedrivable(f"Execution {arn} is of type EXPRESS and cannot be redriven")
        # SDKs send a clientToken of their own when the caller gives none (boto3 does), and the same one
        # when they retry: a retry after a lost answer is answered as the redrive it repeats.
        return {"redriveDate": self.service.redrive_execution(arn, client_token=p.get("clientToken"))}

    def describe_execution(self, p: Params) -> dict[str, Any]:
        arn = _require(p, "executionArn")
        record = self._express(arn)
        if record is not None:
            return record.describe()
        return self.service.describe_execution(arn)

    def list_executions(self, p: Params) -> dict[str, Any]:
        arn, map_run_arn = p.get("stateMachineArn"), p.get("mapRunArn")
        if arn is None and map_run_arn is None:
            raise api.ValidationException("Must provide a StateMachine ARN or MapRun ARN")
        if arn is not None and map_run_arn is not None:
            raise api.ValidationException("Cannot provide both a StateMachine ARN and a MapRun ARN")
        status, redrive_filter = p.get("statusFilter"), p.get("redriveFilter")
        check_enum(status, "statusFilter", EXECUTION_STATUSES)  # before any look-up, as AWS checks them
        check_enum(redrive_filter, "redriveFilter", REDRIVE_FILTERS)
        limit, token = _max_results(p), _next_token(p, 3096)
        if map_run_arn is not None:
            map_runs.describe_map_run(self.service.store, map_run_arn)  # InvalidArn, ResourceNotFound
            items, next_token = map_runs.list_child_executions(
                self.service.store, self.service.page_tokens, map_run_arn, status=status,
                redrive_filter=redrive_filter, max_results=limit, next_token=token)
            return _page(items, "executions", next_token)
        arn = str(arn)
        if self._machine_type(arn) == "EXPRESS":
            raise api.StateMachineTypeNotSupported("This operation is not supported by this type of state machine")
        items, next_token = self.service.list_executions(arn, status=status, max_results=limit, next_token=token,
                                                         redrive_filter=redrive_filter)
        return _page(items, "executions", next_token)

    def get_execution_history(self, p: Params) -> dict[str, Any]:
        arn = _require(p, "executionArn")
        limit, token = _max_results(p), _next_token(p)
        reverse = bool(p.get("reverseOrder"))
        include = p.get("includeExecutionData", True) is not False
        tokens = self.service.page_tokens
        position = tokens.number_position(token) if token else None
        record = self._express(arn)
        if record is not None:
            events = _express_history(list(record.events), limit + 1, position, reverse=reverse, include=include)
        else:
            events = self.service.get_execution_history(
                arn, reverse=reverse, max_results=limit + 1, next_token=None if position is None else str(position),
                include_execution_data=include)
        out: dict[str, Any] = {"events": events[:limit]}
        if len(events) > limit:
            out["nextToken"] = tokens.token(events[limit - 1]["id"])
        return out

    # ---- Map Runs (distributed Maps; recorded by the engine, stateway.engine.map_runs) ----------

    def describe_map_run(self, p: Params) -> dict[str, Any]:
        return map_runs.describe_map_run(self.service.store, _require(p, "mapRunArn"))

    def update_map_run(self, p: Params) -> dict[str, Any]:
        self.service.update_map_run(
            _require(p, "mapRunArn"), max_concurrency=p.get("maxConcurrency"),
            tolerated_failure_percentage=p.get("toleratedFailurePercentage"),
            tolerated_failure_count=p.get("toleratedFailureCount"))
        return {}

    def list_map_runs(self, p: Params) -> dict[str, Any]:
        items, token = map_runs.list_map_runs(
            self.service.store, self.service.page_tokens, _require(p, "executionArn"),
            max_results=_max_results(p), next_token=_next_token(p))
        return _page(items, "mapRuns", token)

    # ---- task tokens and activities ---------------------------------------------------------

    def send_task_success(self, p: Params) -> dict[str, Any]:
        self.service.send_task_success(_require(p, "taskToken"), _require(p, "output"))
        return {}

    def send_task_failure(self, p: Params) -> dict[str, Any]:
        self.service.send_task_failure(_require(p, "taskToken"), p.get("error"), p.get("cause"))
        return {}

    def send_task_heartbeat(self, p: Params) -> dict[str, Any]:
        self.service.send_task_heartbeat(_require(p, "taskToken"))
        return {}

    def create_activity(self, p: Params) -> dict[str, Any]:
        arn, created = self.service.create_activity(_require(p, "name"), _tags(p))
        return {"activityArn": arn, "creationDate": created}

    def delete_activity(self, p: Params) -> dict[str, Any]:
        self.service.delete_activity(_require(p, "activityArn"))
        return {}

    def describe_activity(self, p: Params) -> dict[str, Any]:
        return self.service.describe_activity(_require(p, "activityArn"))

    def list_activities(self, p: Params) -> dict[str, Any]:
        items, token = self.service.list_activities(max_results=_max_results(p), next_token=_next_token(p))
        return _page(items, "activities", token)

    def get_activity_task(self, p: Params) -> dict[str, Any]:
        """One attempt of GetActivityTask's long poll, answered once the task's ActivityStarted is
        recorded: the activity's oldest task, or {} (no token) for none (the app waits in `claim`'s way)."""
        task, started = self.claim_activity_task(p)
        if started is not None:
            futures.wait([started], ACTIVITY_STARTED_WAIT_SECONDS)
        return task

    def claim_activity_task(self, p: Params) -> tuple[dict[str, Any], Future[None] | None]:
        """One attempt of GetActivityTask's long poll: the activity's oldest task, or {} (no token) for
        none, and a future done once the task's ActivityStarted is durable.

        The app repeats it for up to `activity_wait` seconds, whenever a task of the activity is
        committed, and waits between attempts and for that future without a thread (stateway.api.app),
        so that idle pollers hold neither the threads other actions need nor the store.
        """
        claimed = self.service.claim_activity_task(_require(p, "activityArn"), p.get("workerName"))
        if claimed is None:
            return {}, None  # AWS answers an empty poll with no token
        return {"taskToken": claimed.token, "input": claimed.input}, claimed.started

    # ---- tags -------------------------------------------------------------------------------

    def tag_resource(self, p: Params) -> dict[str, Any]:
        self.service.tag_resource(_require(p, "resourceArn"), _tags({"tags": _require(p, "tags")}))
        return {}

    def untag_resource(self, p: Params) -> dict[str, Any]:
        self.service.untag_resource(_require(p, "resourceArn"), [str(k) for k in _require(p, "tagKeys")])
        return {}

    def list_tags_for_resource(self, p: Params) -> dict[str, Any]:
        return {"tags": self.service.list_tags_for_resource(_require(p, "resourceArn"))}


def _ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _express_history(events: list[dict[str, Any]], limit: int, position: int | None, *, reverse: bool,
                     include: bool) -> list[dict[str, Any]]:
    """A page of an Express execution's history from its in-memory log, as a Standard one's is read."""
    ordered = events[::-1] if reverse else events
    if position is not None:
        ordered = [e for e in ordered if (e["id"] < position if reverse else e["id"] > position)]
    return [_express_event(e, include) for e in ordered[:limit]]


def _express_event(event: dict[str, Any], include: bool) -> dict[str, Any]:
    """An event of the in-memory log as the API shows a stored one."""
    kind = event["type"]
    return stored_event([event["id"], event["previousEventId"], kind, event["timestamp"],
                         event.get(history.details_key(kind))], include)


def output_json(value: Any) -> str:
    return jsontext.dumps(value)
