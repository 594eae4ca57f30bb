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
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from stateway.asl import history, jsontext
from stateway.asl.model import StateMachine
from stateway.asl.parse import parse_machine
from stateway.engine import arns, map_runs, paging
from stateway.engine import errors as api
from stateway.engine.express import ExpressExecution, ExpressRunner
from stateway.engine.service import MAX_INPUT_BYTES, input_problem

if TYPE_CHECKING:
    from stateway.engine.runtime import Engine

Params = dict[str, Any]
EXECUTION_STATUSES = ["SUCCEEDED", "TIMED_OUT", "PENDING_REDRIVE", "ABORTED", "FAILED", "RUNNING"]
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
    "ListExecutions", "GetExecutionHistory", "DescribeMapRun", "ListMapRuns",
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
    value = p.get("maxResults")
    if value is None or value == 0:
        return 100
    if not isinstance(value, int) or value < 0:
        raise _validation(f"Value '{value}' at 'maxResults' failed to satisfy constraint: "
                          "Member must have value greater than or equal to 0")
    if value > 1000:
        raise _validation(f"Value '{value}' at 'maxResults' failed to satisfy constraint: "
                          "Member must have value less than or equal to 1000")
    return value


def _next_token(p: Params, limit: int = 1024) -> str | None:
    token = p.get("nextToken")
    if token is None:
        return None
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


class StepFunctionsApi:
    """Dispatches `AWSStepFunctions.<Action>` requests to the engine's service and the Express runner."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.service = engine.service
        self.express = ExpressRunner(engine.functions, service=engine.service, region=engine.service.region,
                                     account=engine.service.account, role_arn=engine.service.role_arn)
        self._machines: dict[str, StateMachine] = {}
        self._machines_lock = threading.Lock()
        self.closing = threading.Event()
        # AWS holds an empty GetActivityTask poll for 60 s; a setting so that tests need not wait as long.
        self.activity_wait = float(os.environ.get("STATEWAY_ACTIVITY_POLL_SECONDS", GET_ACTIVITY_TASK_WAIT))

    def handler(self, action: str) -> Callable[[Params], dict[str, Any]]:
        if action not in ACTIONS:
            raise api.UnknownOperationException(f"Operation is not supported: '{action}'")
        return getattr(self, _snake(action))  # type: ignore[no-any-return]

    def call(self, action: str, params: Params) -> dict[str, Any]:
        return self.handler(action)(params)

    def close(self) -> None:
        self.closing.set()
        self.express.shutdown()

    # ---- state machines ---------------------------------------------------------------------

    def create_state_machine(self, p: Params) -> dict[str, Any]:
        name = _require(p, "name")
        machine_type = p.get("type") or "STANDARD"
        arn = self.service.create_state_machine(
            name, _definition_text(p), type=machine_type, role_arn=p.get("roleArn"),
            description=p.get("description") or "")
        if p.get("tags"):
            self.service.tag_resource(arn, _tags(p))
        described = self.service.describe_state_machine(arn)
        out: dict[str, Any] = {"stateMachineArn": arn, "creationDate": described["creationDate"]}
        if p.get("publish"):
            out["stateMachineVersionArn"] = self.service.publish_state_machine_version(
                arn, p.get("versionDescription") or "")
        return out

    def update_state_machine(self, p: Params) -> dict[str, Any]:
        arn = _require(p, "stateMachineArn")
        definition = _definition_text(p) if p.get("definition") is not None else None
        if definition is None and p.get("roleArn") is None and p.get("publish"):
            self.service._machine(arn)
        else:
            self.service.update_state_machine(arn, definition=definition, role_arn=p.get("roleArn"))
        described = self.service.describe_state_machine(arn)
        out: dict[str, Any] = {"updateDate": datetime.now(UTC), "revisionId": described["revisionId"]}
        if p.get("publish"):
            out["stateMachineVersionArn"] = self.service.publish_state_machine_version(
                arn, p.get("versionDescription") or "")
        return out

    def delete_state_machine(self, p: Params) -> dict[str, Any]:
        arn = _require(p, "stateMachineArn")
        self.service.delete_state_machine(arn)
        with self.service.store.write() as db:
            db.execute(self.service.store.q["delete_tags_of"], {"resource_arn": arn})
        return {}

    def describe_state_machine(self, p: Params) -> dict[str, Any]:
        arn = _require(p, "stateMachineArn")
        parts = arns.split(arn)
        if len(parts) == 8 and not parts[7].isdigit():
            raise api.InvalidArn(f"Invalid Arn: '{arn}'")
        out = self.service.describe_state_machine(arn)
        out["tracingConfiguration"] = {"enabled": False}
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
                    "tracingConfiguration": {"enabled": False}}
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
        request = teststate.TestStateRequest(
            definition=definition,
            input=_json_member(p, "input", {}),
            state_name=p.get("stateName"),
            inspection_level=level,
            role_arn=p.get("roleArn"),
            variables=_json_member(p, "variables", None),
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
        machine = self.service.describe_state_machine(arn)
        if p.get("revisionId") and p["revisionId"] != machine["revisionId"]:
            raise api.ConflictException(f"Failed to publish the State Machine version for revision "
                                        f"{p['revisionId']}. The current State Machine revision is "
                                        f"{machine['revisionId']}.")
        version_arn = self.service.publish_state_machine_version(arn, p.get("description") or "")
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
        input_text = p.get("input")
        if input_text is None:
            input_text = "{}"
        problem = input_problem(input_text)
        if problem is not None:
            raise api.InvalidExecutionInput(f"Invalid State Machine Execution Input: '{problem}'")
        if len(input_text.encode("utf-8")) > MAX_INPUT_BYTES:
            raise api.InvalidExecutionInput("The execution input exceeds the maximum size of 262144 bytes.")
        name = p.get("name") or str(uuid.uuid4())
        if not arns.valid_name(name):
            raise api.InvalidName(f"Invalid Name: '{name}'")
        machine = self._parsed(described["definition"])
        machine_arn = arns.machine_of_version(resolved)[0]
        if sync:
            return self.express.run_sync(machine, machine_arn, name, input_text)
        return self.express.start(machine, machine_arn, name, input_text)

    def start_execution(self, p: Params) -> dict[str, Any]:
        arn = _require(p, "stateMachineArn")
        if self._machine_type(arn) == "EXPRESS":
            record = self._express_start(p, sync=False)
            return {"executionArn": record.execution_arn, "startDate": _ms(record.start_ms)}
        input_text = p.get("input")
        if input_text == "":
            raise api.InvalidExecutionInput("Invalid State Machine Execution Input: 'Invalid execution input.'")
        execution = self.service.start_execution(arn, name=p.get("name"), input_text=input_text)
        return {"executionArn": execution,
                "startDate": self.service.describe_execution(execution)["startDate"]}

    def start_sync_execution(self, p: Params) -> dict[str, Any]:
        arn = _require(p, "stateMachineArn")
        if self._machine_type(arn) != "EXPRESS":
            raise api.StateMachineTypeNotSupported("This operation is not supported by this type of state machine")
        return self._express_start(p, sync=True).sync_response()

    def _express(self, arn: str) -> ExpressExecution | None:
        parts = arns.split(arn)
        if parts and parts[5] == "express":
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
        return {"redriveDate": self.service.redrive_execution(arn)}

    def describe_execution(self, p: Params) -> dict[str, Any]:
        arn = _require(p, "executionArn")
        record = self._express(arn)
        if record is not None:
            return record.describe()
        return self.service.describe_execution(arn)

    def list_executions(self, p: Params) -> dict[str, Any]:
        arn = p.get("stateMachineArn") or p.get("mapRunArn")
        if arn is None:
            raise api.ValidationException("Must provide a StateMachine ARN or MapRun ARN")
        status = p.get("statusFilter")
        if status is not None and status not in EXECUTION_STATUSES:
            raise _validation(f"Value '{status}' at 'statusFilter' failed to satisfy constraint: "
                              f"Member must satisfy enum value set: [{', '.join(EXECUTION_STATUSES)}]")
        limit, token = _max_results(p), _next_token(p, 3096)
        if p.get("mapRunArn"):
            return {"executions": []}  # a Map Run's child executions are not stored separately
        if self._machine_type(arn) == "EXPRESS":
            raise api.StateMachineTypeNotSupported("This operation is not supported by this type of state machine")
        items, next_token = self.service.list_executions(arn, status=status, max_results=limit, next_token=token)
        pinned = arns.machine_of_version(arn)[1] is not None or (
            len(arns.split(arn)) == 8)
        if pinned:
            items = [i for i in items
                     if (self.service.store.one("execution_pinning", {"arn": i["executionArn"]}) or {})
                     .get("alias_arn" if not arns.split(arn)[7].isdigit() else "version_arn") == arn]
        return _page(items, "executions", next_token)

    def get_execution_history(self, p: Params) -> dict[str, Any]:
        arn = _require(p, "executionArn")
        limit, token = _max_results(p), _next_token(p, 3096)
        reverse = bool(p.get("reverseOrder"))
        include = p.get("includeExecutionData", True) is not False
        record = self._express(arn)
        if record is not None:
            return _express_history(list(record.events), limit, token, reverse=reverse, include=include)
        position = str(paging.number_position(token)) if token else None
        events = self.service.get_execution_history(arn, reverse=reverse, max_results=limit + 1,
                                                    next_token=position, include_execution_data=include)
        out: dict[str, Any] = {"events": events[:limit]}
        if len(events) > limit:
            out["nextToken"] = paging.page_token(events[limit - 1]["id"])
        return out

    # ---- Map Runs (distributed Maps; recorded by the engine, stateway.engine.map_runs) ----------

    def describe_map_run(self, p: Params) -> dict[str, Any]:
        return map_runs.describe_map_run(self.service.store, _require(p, "mapRunArn"))

    def list_map_runs(self, p: Params) -> dict[str, Any]:
        items, token = map_runs.list_map_runs(self.service.store, _require(p, "executionArn"),
                                              max_results=_max_results(p), next_token=_next_token(p, 3096))
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
        arn, created = self.service.create_activity(_require(p, "name"))
        if p.get("tags"):
            self.service.tag_resource(arn, _tags(p))
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
        """One attempt of GetActivityTask's long poll: the activity's oldest task, or {} (no token) for none.

        The app repeats it for up to `activity_wait` seconds, waiting between attempts without a thread
        (stateway.api.app), so that idle pollers never hold the threads other actions need.
        """
        claimed = self.service.claim_activity_task(_require(p, "activityArn"), p.get("workerName"))
        if claimed is None:
            return {}  # AWS answers an empty poll with no token
        token, task_input = claimed
        return {"taskToken": token, "input": task_input}

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


def _express_history(events: list[dict[str, Any]], limit: int, token: str | None, *, reverse: bool,
                     include: bool) -> dict[str, Any]:
    """GetExecutionHistory of an Express execution from its in-memory log, paged as a Standard one's is."""
    ordered = events[::-1] if reverse else events
    if token:
        position = paging.number_position(token)
        ordered = [e for e in ordered if (e["id"] < position if reverse else e["id"] > position)]
    out: dict[str, Any] = {"events": [_express_event(e, include) for e in ordered[:limit]]}
    if len(ordered) > limit:
        out["nextToken"] = paging.page_token(ordered[limit - 1]["id"])
    return out


def _express_event(event: dict[str, Any], include: bool) -> dict[str, Any]:
    out = dict(event, timestamp=_ms(event["timestamp"]))
    key = history.details_key(event["type"])
    if not include and isinstance(out.get(key), dict):
        out[key] = {k: v for k, v in out[key].items() if k not in ("input", "output")}
    return out


def output_json(value: Any) -> str:
    return jsontext.dumps(value)
