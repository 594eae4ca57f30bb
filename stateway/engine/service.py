"""The one write path: every change to the store — from the API, CLI, workers or triggers — goes here."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from stateway.asl import history as asl_history
from stateway.asl import jsontext
from stateway.asl.errors import DefinitionError
from stateway.asl.events import StopRequested, TaskFailed, TaskSucceeded
from stateway.asl.loader import load_definition
from stateway.asl.validate import validate_definition
from stateway.engine import arns
from stateway.engine import errors as api
from stateway.engine.codec import START, event_to_json
from stateway.store.sqlite import SqliteStore

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"
MAX_INPUT_BYTES = 262_144


def now_ms() -> int:
    return int(time.time() * 1000)


def to_datetime(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, tz=UTC) if ms is not None else None


class Service:
    """State machines, executions and task answers, written through one store."""

    def __init__(self, store: SqliteStore, *, region: str = DEFAULT_REGION, account: str = DEFAULT_ACCOUNT,
                 notify: Callable[[], None] | None = None) -> None:
        self.store = store
        self.region = region
        self.account = account
        self.notify = notify or (lambda: None)
        self.role_arn = f"arn:aws:iam::{account}:role/stateway"

    # ---- state machines ---------------------------------------------------------------------

    def _definition_text(self, definition: dict[str, Any] | str, machine_type: str) -> str:
        try:
            parsed = load_definition(definition) if isinstance(definition, str) else definition
        except DefinitionError as exc:
            raise api.InvalidDefinition(exc.message) from None
        problems = validate_definition(parsed, state_machine_type=machine_type)
        if problems:
            raise api.InvalidDefinition(DefinitionError(problems).message)
        return definition if isinstance(definition, str) else json.dumps(definition)

    def create_state_machine(self, name: str, definition: dict[str, Any] | str, *, type: str = "STANDARD",
                             role_arn: str | None = None, description: str = "",
                             publish: bool = False) -> str:
        if not arns.valid_name(name):
            raise api.InvalidName(f"Invalid Name: '{name}'")
        if type not in ("STANDARD", "EXPRESS"):
            raise api.ValidationException(f"Value '{type}' at 'type' failed to satisfy constraint: "
                                          "Member must satisfy enum value set: [STANDARD, EXPRESS]")
        text = self._definition_text(definition, type)
        arn = arns.state_machine_arn(self.region, self.account, name)
        existing = self.store.one("get_state_machine", {"arn": arn})
        if existing is not None:
            if existing["definition"] == text and existing["type"] == type:
                return arn  # AWS: creating the same machine again is idempotent
            raise api.StateMachineAlreadyExists(f"State Machine Already Exists: '{arn}'")
        stamp = now_ms()
        with self.store.write() as db:
            db.execute(self.store.q["insert_state_machine"], {
                "arn": arn, "name": name, "type": type, "definition": text,
                "role_arn": role_arn or self.role_arn, "description": description,
                "revision_id": str(uuid.uuid4()), "created_ms": stamp, "updated_ms": stamp,
            })
        if publish:
            self.publish_state_machine_version(arn)
        return arn

    def update_state_machine(self, arn: str, *, definition: dict[str, Any] | str | None = None,
                             role_arn: str | None = None) -> None:
        machine = self._machine(arn)
        if definition is None and role_arn is None:
            raise api.MissingRequiredParameter("Either the definition, the role ARN, the LoggingConfiguration, "
                                               "or the TracingConfiguration must be specified")
        text = self._definition_text(definition, machine["type"]) if definition is not None else machine["definition"]
        with self.store.write() as db:
            db.execute(self.store.q["update_state_machine"], {
                "arn": arn, "definition": text, "role_arn": role_arn or machine["role_arn"],
                "description": machine["description"], "revision_id": str(uuid.uuid4()), "updated_ms": now_ms(),
            })

    def delete_state_machine(self, arn: str) -> None:
        self._check_arn(arn, "stateMachine")
        with self.store.write() as db:
            db.execute(self.store.q["delete_state_machine"], {"arn": arn})

    def publish_state_machine_version(self, arn: str, description: str = "") -> str:
        machine = self._machine(arn)
        latest = self.store.one("latest_version", {"state_machine_arn": arn})
        if latest is not None and latest["revision_id"] == machine["revision_id"]:
            return str(latest["arn"])  # publishing an unchanged revision returns the same version
        number = (latest["version"] if latest else 0) + 1
        version_arn = f"{arn}:{number}"
        with self.store.write() as db:
            db.execute(self.store.q["insert_version"], {
                "arn": version_arn, "state_machine_arn": arn, "version": number,
                "definition": machine["definition"], "revision_id": machine["revision_id"],
                "description": description, "created_ms": now_ms(),
            })
        return version_arn

    def _check_arn(self, arn: str, kind: str) -> None:
        parts = arns.split(arn)
        if not parts or parts[5] != kind:
            raise api.InvalidArn(f"Invalid Arn: '{arn}'")

    def _machine(self, arn: str) -> dict[str, Any]:
        self._check_arn(arn, "stateMachine")
        machine = self.store.one("get_state_machine", {"arn": arn})
        if machine is None:
            raise api.StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'")
        return machine

    def describe_state_machine(self, arn: str) -> dict[str, Any]:
        machine = self._machine(arn)
        return {
            "stateMachineArn": machine["arn"], "name": machine["name"], "status": "ACTIVE",
            "definition": machine["definition"], "roleArn": machine["role_arn"], "type": machine["type"],
            "creationDate": to_datetime(machine["created_ms"]), "revisionId": machine["revision_id"],
            "description": machine["description"],
            "loggingConfiguration": {"level": "OFF", "includeExecutionData": False},
        }

    def list_state_machines(self) -> list[dict[str, Any]]:
        return [{"stateMachineArn": r["arn"], "name": r["name"], "type": r["type"],
                 "creationDate": to_datetime(r["created_ms"])}
                for r in self.store.all("list_state_machines", {"after": "", "limit": 1_000_000})]

    # ---- executions -------------------------------------------------------------------------

    def start_execution(self, state_machine_arn: str, input: Any = None, *, name: str | None = None,
                        input_text: str | None = None, parent_task: dict[str, Any] | None = None) -> str:
        machine_arn, version = arns.machine_of_version(state_machine_arn)
        machine = self._machine(machine_arn)
        definition = machine["definition"]
        version_arn = None
        if version is not None:
            row = self.store.one("get_version", {"arn": state_machine_arn})
            if row is None:
                raise api.StateMachineDoesNotExist(f"State Machine Does Not Exist: '{state_machine_arn}'")
            definition, version_arn = row["definition"], state_machine_arn
        if input_text is None:
            input_text = jsontext.dumps({} if input is None else input)
        try:
            json.loads(input_text)
        except ValueError:
            raise api.InvalidExecutionInput(f"Invalid State Machine Execution Input: '{input_text}'") from None
        if len(input_text.encode("utf-8")) > MAX_INPUT_BYTES:
            raise api.InvalidExecutionInput("The execution input exceeds the maximum size of 262144 bytes.")
        name = name or str(uuid.uuid4())
        if not arns.valid_name(name):
            raise api.InvalidName(f"Invalid Name: '{name}'")
        arn = arns.execution_arn(self.region, self.account, machine["name"], name,
                                 express=machine["type"] == "EXPRESS")
        existing = self.store.one("find_execution", {"state_machine_arn": machine_arn, "name": name})
        if existing is not None:
            # Idempotent start: the same name and input while it still runs returns the same execution.
            if existing["status"] == "RUNNING" and existing["input"] == input_text:
                return str(existing["arn"])
            raise api.ExecutionAlreadyExists(f"Execution Already Exists: '{existing['arn']}'")
        stamp = now_ms()
        with self.store.write() as db:
            db.execute(self.store.q["insert_execution"], {
                "arn": arn, "state_machine_arn": machine_arn, "version_arn": version_arn, "name": name,
                "definition": definition, "input": input_text, "start_ms": stamp,
                "parent_task": json.dumps(parent_task) if parent_task else None,
            })
            db.execute(self.store.q["insert_inbox"], {
                "execution_arn": arn, "event": json.dumps({"type": START}), "created_ms": stamp})
        self.notify()
        return arn

    def _execution(self, arn: str) -> dict[str, Any]:
        parts = arns.split(arn)
        if not parts or parts[5] not in ("execution", "express"):
            raise api.InvalidArn(f"Invalid Arn: '{arn}'")
        row = self.store.one("get_execution", {"arn": arn})
        if row is None:
            raise api.ExecutionDoesNotExist(f"Execution Does Not Exist: '{arn}'")
        return row

    def stop_execution(self, arn: str, *, error: str | None = None, cause: str | None = None) -> datetime:
        row = self._execution(arn)
        stamp = now_ms()
        if row["status"] == "RUNNING":
            self._post(arn, StopRequested(error, cause))
        return to_datetime(stamp) or datetime.now(UTC)

    def describe_execution(self, arn: str) -> dict[str, Any]:
        return execution_description(self._execution(arn))

    def list_executions(self, state_machine_arn: str, *, status: str | None = None,
                        max_results: int = 100, next_token: str | None = None
                        ) -> tuple[list[dict[str, Any]], str | None]:
        machine_arn, _ = arns.machine_of_version(state_machine_arn)
        self._machine(machine_arn)
        before_ms, before_arn = 2**62, "\uffff"
        if next_token:
            before_ms, before_arn = _decode_token(next_token)
        rows = self.store.all("list_executions", {
            "state_machine_arn": machine_arn, "status": status, "before_ms": before_ms,
            "before_arn": before_arn, "limit": max_results + 1})
        token = None
        if len(rows) > max_results:
            rows = rows[:max_results]
            token = _encode_token(rows[-1]["start_ms"], rows[-1]["arn"])
        items = []
        for r in rows:
            item = {"executionArn": r["arn"], "stateMachineArn": r["state_machine_arn"], "name": r["name"],
                    "status": r["status"], "startDate": to_datetime(r["start_ms"])}
            if r["stop_ms"] is not None:
                item["stopDate"] = to_datetime(r["stop_ms"])
            items.append(item)
        return items, token

    def get_execution_history(self, arn: str, *, reverse: bool = False, max_results: int | None = None,
                              next_token: str | None = None, include_execution_data: bool = True,
                              raw_timestamps: bool = False) -> list[dict[str, Any]]:
        self._execution(arn)
        limit = max_results or 1_000_000
        if reverse:
            before = int(next_token) if next_token else 2**62
            rows = self.store.all("history_reverse", {"arn": arn, "before": before, "limit": limit})
        else:
            after = int(next_token) if next_token else 0
            rows = self.store.all("history_forward", {"arn": arn, "after": after, "limit": limit})
        return [stored_event(r, include_execution_data, raw_timestamps) for r in rows]

    # ---- task answers -----------------------------------------------------------------------

    def _task_by_token(self, token: str) -> dict[str, Any]:
        if not token or len(token) > 2048:
            raise api.InvalidToken("Invalid Token: the task token is malformed")
        row = self.store.one("task_by_token", {"token": token})
        if row is None:
            raise api.TaskDoesNotExist("Task Does Not Exist")
        return row

    def send_task_success(self, token: str, output: str) -> None:
        task = self._task_by_token(token)
        try:
            value = jsontext.loads(output)
        except ValueError:
            raise api.InvalidOutput(f"Invalid Output: '{output}'") from None
        self._post(task["execution_arn"], TaskSucceeded(task["id"], value))

    def send_task_failure(self, token: str, error: str | None = None, cause: str | None = None) -> None:
        task = self._task_by_token(token)
        self._post(task["execution_arn"], TaskFailed(task["id"], error, cause))

    def send_task_heartbeat(self, token: str) -> None:
        task = self._task_by_token(token)
        command = json.loads(task["command"])
        heartbeat = command.get("heartbeat_seconds")
        if heartbeat:
            with self.store.write() as db:
                db.execute(self.store.q["heartbeat_task"], {"token": token, "deadline": now_ms() + heartbeat * 1000})

    def _post(self, execution_arn: str, event: Any) -> None:
        """Queue an event for the decider; the inbox row makes it survive a crash."""
        with self.store.write() as db:
            db.execute(self.store.q["insert_inbox"], {
                "execution_arn": execution_arn, "event": event_to_json(event), "created_ms": now_ms()})
        self.notify()


def execution_description(row: dict[str, Any]) -> dict[str, Any]:
    """DescribeExecution's response for an executions row."""
    out: dict[str, Any] = {
        "executionArn": row["arn"], "stateMachineArn": row["state_machine_arn"], "name": row["name"],
        "status": row["status"], "startDate": to_datetime(row["start_ms"]), "input": row["input"],
        "inputDetails": {"included": True}, "redriveCount": 0,
    }
    if row.get("version_arn"):
        out["stateMachineVersionArn"] = row["version_arn"]
    if row["stop_ms"] is not None:
        out["stopDate"] = to_datetime(row["stop_ms"])
    if row["output"] is not None:
        out["output"] = row["output"]
        out["outputDetails"] = {"included": True}
    if row["error"] is not None:
        out["error"] = row["error"]
    if row["cause"] is not None:
        out["cause"] = row["cause"]
    return out


def stored_event(row: dict[str, Any], include_data: bool = True, raw_timestamps: bool = False) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": row["id"], "previousEventId": row["previous_id"], "type": row["type"],
        "timestamp": row["timestamp_ms"] if raw_timestamps else to_datetime(row["timestamp_ms"]),
    }
    if row["details"] is not None:
        details = json.loads(row["details"])
        if not include_data:
            details = {k: v for k, v in details.items() if k not in ("input", "output")}
        event[asl_history.details_key(row["type"])] = details
    return event


def _encode_token(start_ms: int, arn: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([start_ms, arn]).encode()).decode()


def _decode_token(token: str) -> tuple[int, str]:
    try:
        start_ms, arn = json.loads(base64.urlsafe_b64decode(token.encode()))
        return int(start_ms), str(arn)
    except (ValueError, TypeError):
        raise api.ValidationException("Invalid pagination token") from None
