"""The one write path: every change to the store — from the API, CLI, workers or triggers — goes here."""

from __future__ import annotations

import base64
import json
import random
import re
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, overload

from stateway.asl import history as asl_history
from stateway.asl import interpreter, jsontext
from stateway.asl.errors import DefinitionError
from stateway.asl.events import (
    MapRunUpdated,
    RedriveRequested,
    StopRequested,
    TaskFailed,
    TaskStarted,
    TaskSucceeded,
)
from stateway.asl.frames import REDRIVABLE_PERIOD_MS, REDRIVABLE_STATUSES
from stateway.asl.loader import json_problem, load_json_definition
from stateway.asl.timestamps import clamp_ms
from stateway.asl.validate import validate_definition
from stateway.engine import arns, constraints, deletion, map_runs, paging, sweep
from stateway.engine import errors as api
from stateway.engine.codec import START, event_to_json
from stateway.engine.constraints import Member
from stateway.store.sqlite import SqliteStore

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"
MAX_INPUT_BYTES = 262_144
EXECUTION_STATUSES = ["SUCCEEDED", "TIMED_OUT", "PENDING_REDRIVE", "ABORTED", "FAILED", "RUNNING"]
REDRIVE_FILTERS = ["REDRIVEN", "NOT_REDRIVEN"]
TASK_TOKEN_MAX = 2048  # AWS's TaskToken shape: 1..2048 characters
MAX_ERROR_CHARS = 256
MAX_CAUSE_CHARS = 32_768
_ISSUED_TOKEN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")  # .waitForTaskToken
_ACTIVITY_TOKEN = re.compile(rb"[0-9a-f]{64}\|.+", re.DOTALL)
# PublishStateMachineVersion's `revisionId` for "the revision CreateStateMachine gave the machine", as AWS's
# API reference has it ("To specify an initial revision ID for a state machine with no revision ID assigned,
# specify the string INITIAL").
INITIAL_REVISION = "INITIAL"
_NO_END_MS = 2**62  # after every creation time: a listing newest first that starts at the top
_INITIAL_REVISIONS = uuid.UUID("7c1f3a52-4d0e-4b8f-9a3e-5f2b6c8d9e01")  # a namespace of our own for uuid5
_ALIAS_NAME = re.compile(r"(?=.*[a-zA-Z_\-.])[a-zA-Z0-9_\-.]+")


# AWS's limit on a Standard execution's duration: one year (365 days). Beyond it, the execution times
# out as its TimeoutSeconds would (`StateMachine.lasting_at_most`); a longer TimeoutSeconds is cut to it,
# and an execution open that long can no longer be redriven.
MAX_DURATION_SECONDS = 365 * 24 * 3600
# How long GetActivityTask waits for the round that records ActivityStarted before it answers anyway:
# far beyond a round's time, reached only when no round can be stored (a full disk) or the execution is
# quarantined. The claim itself is durable, so the event follows when the engine can record it.
ACTIVITY_STARTED_WAIT_SECONDS = 10.0

# RedriveExecution's clientToken, as the API reference gives it: 1-64 characters; the API answers a retry
# with one of the last 10 tokens that redrove the execution, for up to 15 minutes after its first use.
CLIENT_TOKEN_MAX = 64
CLIENT_TOKENS_KEPT = 10
CLIENT_TOKEN_WINDOW_MS = 15 * 60 * 1000


def now_ms() -> int:
    return int(time.time() * 1000)


@overload
def to_datetime(ms: int) -> datetime: ...


@overload
def to_datetime(ms: None) -> None: ...


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
        self.group_commit: Callable[[NewExecution], str] | None = None
        # Set by an engine running in this process: applies a stop in its next round and returns once
        # that is durable (see `stop_execution`).
        self.stop_in_round: Callable[[str, StopRequested], int | None] | None = None
        # Set by an engine running in this process: a future done once the inbox row of that number has
        # been applied in a durable round (see `claim_activity_task`).
        self.inbox_applied: Callable[[int], Future[None]] | None = None
        self.role_arn = f"arn:aws:iam::{account}:role/stateway"

    @cached_property
    def page_tokens(self) -> paging.PageTokens:
        """Writes and checks the nextToken of every listing, with the store's key."""
        return paging.PageTokens.of(self.store)

    # ---- state machines ---------------------------------------------------------------------

    def _definition_text(self, definition: dict[str, Any] | str, machine_type: str) -> str:
        try:
            # Text is the API's definition member: JSON only, as AWS takes it (the CLI reads YAML files
            # itself and passes the dict).
            parsed = load_json_definition(definition) if isinstance(definition, str) else definition
        except DefinitionError as exc:
            raise api.InvalidDefinition(exc.message) from None
        problems = validate_definition(parsed, state_machine_type=machine_type)
        labels = [p for p in problems if p.code == "INVALID_LABEL_NAME"]
        if labels and isinstance(definition, str):
            # AWS reports a bad Map Label in its own words, quoting the definition as it was sent.
            raise api.InvalidDefinition(f"Error=ValueError Args={[labels[0].message]!r} in definition "
                                        f"'{definition}'.")
        if problems:
            raise api.InvalidDefinition(DefinitionError(problems).message)
        return definition if isinstance(definition, str) else json.dumps(definition)

    def create_state_machine(self, name: str, definition: dict[str, Any] | str, *, type: str = "STANDARD",
                             role_arn: str | None = None, description: str = "",
                             publish: bool = False) -> str:
        return str(self.create_state_machine_response(name, definition, type=type, role_arn=role_arn,
                                                      description=description, publish=publish)["stateMachineArn"])

    def create_state_machine_response(self, name: str, definition: dict[str, Any] | str, *, type: str = "STANDARD",
                                      role_arn: str | None = None, description: str = "", publish: bool = False,
                                      version_description: str = "", tags: list[dict[str, str]] | None = None,
                                      logging: dict[str, Any] | None = None,
                                      tracing: dict[str, Any] | None = None) -> dict[str, Any]:
        """CreateStateMachine: the machine, its tags and its first version are written in one transaction."""
        if not arns.valid_name(name):
            raise api.InvalidName(f"Invalid Name: '{name}'")
        if type not in ("STANDARD", "EXPRESS"):
            raise api.ValidationException(f"Value '{type}' at 'type' failed to satisfy constraint: "
                                          "Member must satisfy enum value set: [STANDARD, EXPRESS]")
        text = self._definition_text(definition, type)
        arn = arns.state_machine_arn(self.region, self.account, name)
        _check_tag_count(arn, tags or [])
        logging_text, tracing_text = _logging_text(logging), _tracing_text(tracing)
        with self.store.write() as db:  # the check and the write in one transaction: concurrent creates queue
            existing = self._row(db, "get_state_machine", {"arn": arn})
            if existing is not None and existing["status"] == deletion.DELETING:
                raise _deleting(arn)  # its name is free again only once it is gone
            if existing is not None:
                # AWS: creating the same machine again is idempotent (roleArn and tags aside)
                if (existing["definition"], existing["type"], _logging_text(_settings(existing, "logging")),
                        _tracing_text(_settings(existing, "tracing"))) != (text, type, logging_text, tracing_text):
                    raise api.StateMachineAlreadyExists(f"State Machine Already Exists: '{arn}'")
            else:
                stamp = now_ms()
                incarnation = uuid.uuid4().hex  # a machine created again under this name is another one
                db.execute(self.store.q["insert_state_machine"], {
                    "arn": arn, "name": name, "type": type, "definition": text,
                    "role_arn": role_arn or self.role_arn, "description": description,
                    "revision_id": _initial_revision(incarnation), "created_ms": stamp, "updated_ms": stamp,
                    "incarnation": incarnation,
                })
                db.execute(self.store.q["set_machine_settings"], {
                    "arn": arn, "logging_configuration": logging_text, "tracing_configuration": tracing_text})
                self._insert_tags(db, arn, tags or [])
            out: dict[str, Any] = {"stateMachineArn": arn, "creationDate": to_datetime(
                existing["created_ms"] if existing is not None else stamp)}
            if publish:
                out["stateMachineVersionArn"] = self._publish(db, arn, version_description)
        return out

    def update_state_machine(self, arn: str, *, definition: dict[str, Any] | str | None = None,
                             role_arn: str | None = None, logging: dict[str, Any] | None = None,
                             tracing: dict[str, Any] | None = None, publish: bool = False,
                             version_description: str = "") -> dict[str, Any]:
        """UpdateStateMachine: the new revision and the version it publishes are written in one transaction."""
        machine = self._active_machine(arn)
        if definition is None and role_arn is None and logging is None and tracing is None and not publish:
            raise api.MissingRequiredParameter("Either the definition, the role ARN, the LoggingConfiguration, "
                                               "or the TracingConfiguration must be specified")
        text = self._definition_text(definition, machine["type"]) if definition is not None else None
        stamp = now_ms()
        with self.store.write() as db:
            machine = self._active_machine(arn, db)  # as it is now, not as it was before the definition was checked
            revision_id = machine["revision_id"]
            if (text, role_arn, logging, tracing) != (None, None, None, None):  # `publish` alone changes nothing
                revision_id = str(uuid.uuid4())
                db.execute(self.store.q["update_state_machine"], {
                    "arn": arn, "definition": text or machine["definition"], "role_arn": role_arn or machine["role_arn"],
                    "description": machine["description"], "revision_id": revision_id, "updated_ms": stamp,
                })
                db.execute(self.store.q["set_machine_settings"], {
                    "arn": arn,
                    "logging_configuration": _logging_text(logging if logging is not None
                                                           else _settings(machine, "logging")),
                    "tracing_configuration": _tracing_text(tracing if tracing is not None
                                                           else _settings(machine, "tracing"))})
            out: dict[str, Any] = {"updateDate": to_datetime(stamp), "revisionId": revision_id}
            if publish:
                out["stateMachineVersionArn"] = self._publish(db, arn, version_description)
        return out

    def delete_state_machine(self, arn: str) -> None:
        self._check_arn(arn, "stateMachine")
        if len(arns.split(arn)) != 7:
            # AWS deletes a whole machine only: a version or alias has its own Delete action.
            raise api.ValidationException(f"Invalid Arn: '{arn}'. DeleteStateMachine takes an unqualified state "
                                          "machine ARN: delete a version with DeleteStateMachineVersion and an "
                                          "alias with DeleteStateMachineAlias")
        with self.store.write() as db:  # the check for running executions and the change in one transaction
            deleting = deletion.delete_state_machine(db, self.store.q, arn)
        if deleting:
            self.notify()  # the engine ends the machine's executions at their next state transitions

    def publish_state_machine_version(self, arn: str, description: str = "", revision_id: str | None = None) -> str:
        with self.store.write() as db:
            machine = self._active_machine(arn, db)
            current = machine["revision_id"]
            if revision_id == INITIAL_REVISION and current == _initial_revision(machine["incarnation"]):
                revision_id = current  # the machine is as CreateStateMachine made it
            if revision_id and revision_id != current:
                raise api.ConflictException(f"Failed to publish the State Machine version for revision "
                                            f"{revision_id}. The current State Machine revision is {current}.")
            return self._publish(db, arn, description)

    def _publish(self, db: Any, arn: str, description: str) -> str:
        """Publish the machine's current revision in the caller's write transaction; the version ARN."""
        machine = self._machine(arn, db)
        latest = self._row(db, "latest_version", {"state_machine_arn": arn})
        if latest is not None and latest["revision_id"] == machine["revision_id"]:
            return str(latest["arn"])  # publishing an unchanged revision returns the same version
        # The machine counts its versions: the number of a deleted version is never given again.
        number = max(machine["last_version"], latest["version"] if latest else 0) + 1
        version_arn = f"{arn}:{number}"
        db.execute(self.store.q["insert_version"], {
            "arn": version_arn, "state_machine_arn": arn, "version": number,
            "definition": machine["definition"], "revision_id": machine["revision_id"],
            "description": description, "created_ms": now_ms(), "role_arn": machine["role_arn"],
        })
        db.execute(self.store.q["set_last_version"], {"arn": arn, "version": number})
        return version_arn

    def _row(self, db: Any, query: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """A row read inside a write transaction, which sees that transaction's own writes."""
        row = db.execute(self.store.q[query], params).fetchone()
        return dict(row) if row is not None else None

    def _check_arn(self, arn: str, kind: str) -> None:
        parts = arns.split(arn)
        if not parts or parts[5] != kind:
            raise api.InvalidArn(f"Invalid Arn: '{arn}'")

    def _machine(self, arn: str, db: Any = None) -> dict[str, Any]:
        self._check_arn(arn, "stateMachine")
        machine = self.store.one("get_state_machine", {"arn": arn}) if db is None else \
            self._row(db, "get_state_machine", {"arn": arn})
        if machine is None:
            raise api.StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'")
        return machine

    def _active_machine(self, arn: str, db: Any = None) -> dict[str, Any]:
        """A state machine that may change or start executions: AWS refuses one being deleted."""
        machine = self._machine(arn, db)
        if machine["status"] == deletion.DELETING:
            raise _deleting(arn)
        return machine

    def describe_state_machine(self, arn: str) -> dict[str, Any]:
        machine_arn, version = arns.machine_of_version(arn)
        if version is not None:
            return self._describe_version(arn)
        machine = self._machine(arn)
        return {
            "stateMachineArn": machine["arn"], "name": machine["name"], "status": machine["status"],
            "definition": machine["definition"], "roleArn": machine["role_arn"], "type": machine["type"],
            "creationDate": to_datetime(machine["created_ms"]), "revisionId": machine["revision_id"],
            "description": machine["description"], **_settings_members(machine),
        }

    def list_state_machines(self) -> list[dict[str, Any]]:
        return [{"stateMachineArn": r["arn"], "name": r["name"], "type": r["type"],
                 "creationDate": to_datetime(r["created_ms"])}
                for r in self.store.all("list_state_machines", {"after": "", "limit": 1_000_000})]

    # ---- executions -------------------------------------------------------------------------

    def start_execution(self, state_machine_arn: str, input: Any = None, *, name: str | None = None,
                        input_text: str | None = None, parent_task: dict[str, Any] | None = None,
                        machine_type: str | None = None) -> str:
        """StartExecution, stored durably. `machine_type` is the type the caller found the machine to be
        when it chose to start it here (the API runs an EXPRESS machine in memory instead): a machine of
        another type is one created again under the name since that look, and the start is refused as for
        the machine that is gone."""
        # An alias is read before its machine: the machine is looked at first, so that an alias read from a
        # machine created again after this look (another incarnation) refuses the start at its insert.
        owner = _alias_owner(state_machine_arn)
        first_look = self.store.one("get_state_machine", {"arn": owner}) if owner is not None else None
        state_machine_arn, alias_arn = self._route_alias(state_machine_arn)
        machine_arn, version = arns.machine_of_version(state_machine_arn)
        machine = self._active_machine(machine_arn)
        if machine_type is not None and machine["type"] != machine_type:
            # The insert checks that the machine is still of the incarnation read here, whose type never
            # changes: the execution is stored for a machine of the type the caller chose by, or not at all.
            raise api.StateMachineDoesNotExist(f"State Machine Does Not Exist: '{machine_arn}'")
        incarnation = machine["incarnation"] if first_look is None else first_look["incarnation"]
        definition, role_arn = machine["definition"], machine["role_arn"]
        version_arn = None
        if version is not None:
            row = self.store.one("get_version", {"arn": state_machine_arn})
            if row is None:
                raise api.StateMachineDoesNotExist(f"State Machine Does Not Exist: '{state_machine_arn}'")
            # A version runs with the role it was published with (versions stored before kept none).
            definition, version_arn, role_arn = row["definition"], state_machine_arn, row["role_arn"] or role_arn
        if input_text is None:
            try:
                input_text = jsontext.dumps({} if input is None else input)
            except (TypeError, ValueError, RecursionError) as exc:  # a set, NaN, a cycle: not JSON
                raise api.InvalidExecutionInput(f"Invalid State Machine Execution Input: '{exc}'") from None
        elif not (len(input_text) >= interpreter.LARGE_INPUT_CHARS and jsontext.compact(input_text) is not None):
            # A large input is checked a member or element at a time (`jsontext.compact`): a Map's
            # thousands of items are not parsed all at once to be thrown away. The rest is parsed.
            problem = input_problem(input_text)
            if problem is not None:
                raise api.InvalidExecutionInput(f"Invalid State Machine Execution Input: '{problem}'")
        input_text = jsontext.storable(input_text)  # a lone surrogate in a string, as its escape
        # A character is 1-4 bytes in UTF-8: only a text that may be too large is encoded to count them.
        if len(input_text) * 4 > MAX_INPUT_BYTES and len(input_text.encode("utf-8")) > MAX_INPUT_BYTES:
            raise api.InvalidExecutionInput("The execution input exceeds the maximum size of 262144 bytes.")
        check_length(name, "name", 80, minimum=1)  # AWS generates a name only when none is given
        generated = name is None
        name = name or str(uuid.uuid4())
        if not arns.valid_name(name):
            raise api.InvalidName(f"Invalid Name: '{name}'")
        arn = arns.execution_arn(self.region, self.account, machine["name"], name,
                                 express=machine["type"] == "EXPRESS")
        # A name given by the caller may be taken already (an idempotent start, or a conflict); a
        # random UUID just generated is not, so it needs no look-up (the unique key still guards it).
        existing = None if generated else self.store.one(
            "find_execution", {"state_machine_arn": machine_arn, "name": name})
        if existing is not None:
            # Idempotent start: the same name and input while it still runs returns the same execution.
            if existing["status"] == "RUNNING" and existing["input"] == input_text:
                return str(existing["arn"])
            raise api.ExecutionAlreadyExists(f"Execution Already Exists: '{existing['arn']}'")
        new = NewExecution(
            arn=arn, state_machine_arn=machine_arn, version_arn=version_arn, name=name, definition=definition,
            input=input_text, start_ms=now_ms(), parent_task=json.dumps(parent_task) if parent_task else None,
            alias_arn=alias_arn, machine_name=machine["name"], role_arn=role_arn,
            machine_incarnation=incarnation)
        if self.group_commit is not None:
            # A running engine stores the start in its next group commit and begins the execution in it.
            return self.group_commit(new)
        with self.store.write() as db:
            new.insert(db, self.store.q)
            db.execute(self.store.q["insert_inbox"], {
                "execution_arn": arn, "event": json.dumps({"type": START}), "created_ms": new.start_ms})
        self.notify()
        return arn

    def _execution(self, arn: str, query: str = "get_execution", db: Any = None) -> dict[str, Any]:
        """The execution's row (read in the write transaction `db` if given); the API's errors else."""
        parts = arns.split(arn)
        if not parts or parts[5] not in ("execution", "express"):
            raise api.InvalidArn(f"Invalid Arn: '{arn}'")
        row = self._row(db, query, {"arn": arn}) if db is not None else self.store.one(query, {"arn": arn})
        if row is None:
            raise api.ExecutionDoesNotExist(f"Execution Does Not Exist: '{arn}'")
        return row

    def stop_execution(self, arn: str, *, error: str | None = None, cause: str | None = None) -> datetime:
        """StopExecution. With an engine in this process the stop is applied and durable when this
        returns, and the answer is the stored stopDate; without one (the CLI beside `stateway serve`) it
        is queued in the inbox for the engine that drives the file, and the answer is the time of the
        request. Stopping an execution that has ended changes nothing and answers its stopDate (AWS's
        StopExecution has no error for an execution that is not running)."""
        check_length(error, "error", MAX_ERROR_CHARS, sensitive=True)
        check_length(cause, "cause", MAX_CAUSE_CHARS, sensitive=True)
        row = self._execution(arn)
        if row["status"] == "RUNNING" and self.stop_in_round is not None:
            stopped = self.stop_in_round(arn, StopRequested(error, cause))
            if stopped is not None:
                return to_datetime(stopped)
            row = self._execution(arn)  # it had ended already, or the engine could not apply the stop
        if row["status"] != "RUNNING":
            return to_datetime(row["stop_ms"] if row["stop_ms"] is not None else now_ms())
        stamp = now_ms()
        self._post(arn, StopRequested(error, cause))
        return to_datetime(stamp)

    def redrive_execution(self, arn: str, *, client_token: str | None = None) -> datetime:
        """Continue a FAILED, ABORTED or TIMED_OUT Standard execution from where it stopped. The answer
        is the redriveDate stored with it, which ExecutionRedriven records too.

        `client_token` makes the request idempotent as AWS's is: a redrive repeated with one of the last
        10 tokens that redrove the execution, within 15 minutes of that token's first use, changes nothing
        and answers the redriveDate that redrive answered (whatever the execution does now)."""
        check_length(client_token, "clientToken", CLIENT_TOKEN_MAX, minimum=1)
        stamp = now_ms()
        tokens = {"arn": arn, "since": stamp - CLIENT_TOKEN_WINDOW_MS, "kept": CLIENT_TOKENS_KEPT}
        # The conditions, the reopen and the queued redrive in one transaction: a concurrent redrive or
        # DeleteStateMachine commits either before it, and is seen here (RUNNING; DELETING or gone), or
        # after it, and sees the execution RUNNING. (Express executions are not stored: the API answers
        # for them before this.) The client token is stored in it too: a retry after a lost answer or a
        # crash finds the token exactly when the redrive it answers for is durable.
        with self.store.write() as db:
            row = self._execution(arn, "describe_execution", db)
            if client_token is not None:
                earlier = db.execute(self.store.q["redrive_of_client_token"], {**tokens, "token": client_token}
                                     ).fetchone()
                if earlier is not None:
                    return to_datetime(earlier["redrive_ms"])
            reason = not_redrivable_reason(row, stamp, row["machine_status"])
            if reason is None:
                until = redrivable_until_ms(row["start_ms"], row["stop_ms"])
                if sweep.swept(db, self.store.q, sweep.sweepable_after_ms(until, row["stop_ms"]), arn):
                    # The engine's clock, ahead of this one, found the execution past its redrivable moment
                    # and swept its rows: refused as it would be a moment after it, in AWS's words.
                    reason = not_redrivable_reason(row, until + 1, row["machine_status"])
            if reason is not None:
                raise api.ExecutionNotRedrivable(reason)
            # RUNNING at once, as AWS reports it; the decider continues the execution from its snapshot.
            db.execute(self.store.q["reopen_execution"], {"arn": arn, "redrive_ms": stamp})
            db.execute(self.store.q["insert_inbox"], {
                "execution_arn": arn, "event": event_to_json(RedriveRequested(stamp)), "created_ms": stamp})
            if client_token is not None:
                db.execute(self.store.q["remember_client_token"], {**tokens, "token": client_token, "redrive_ms": stamp})
            db.execute(self.store.q["forget_client_tokens"], tokens)
        self.notify()
        return to_datetime(stamp)

    def update_map_run(self, arn: str, *, max_concurrency: int | None = None,
                       tolerated_failure_percentage: float | None = None,
                       tolerated_failure_count: int | None = None) -> None:
        """UpdateMapRun: a running Map Run's MaxConcurrency and tolerated failures. Its row shows them and
        the decider's inbox holds them (`MapRunUpdated`, for the execution that runs the Map Run) in one
        transaction: DescribeMapRun answers the new values at once, and an update accepted before a
        crash is applied after it. A setting left out (None) stays as it is."""
        constraints.refuse(
            constraints.problems("mapRunArn", arn, Member(required=True, min_length=1, max_length=2000))
            + constraints.problems("maxConcurrency", max_concurrency, Member(minimum=0, bits=32))
            + _percentage_problems(tolerated_failure_percentage)
            + constraints.problems("toleratedFailureCount", tolerated_failure_count, Member(minimum=0)))
        map_runs.check_map_run_arn(arn)
        percentage = None if tolerated_failure_percentage is None else float(tolerated_failure_percentage)
        settings = {"max_concurrency": max_concurrency, "tolerated_failure_percentage": percentage,
                    "tolerated_failure_count": tolerated_failure_count}
        with self.store.write() as db:
            row = self._row(db, "map_run_get", {"arn": arn})
            if row is None:
                raise api.ResourceNotFound(f"Resource not found: '{arn}'")
            if row["status"] != "RUNNING":
                raise api.ValidationException(
                    f"Map Run '{arn}' is {row['status']}: only a running Map Run can be updated",
                    reason="CANNOT_UPDATE_COMPLETED_MAP_RUN")
            if all(value is None for value in settings.values()):
                return  # nothing to change
            db.execute(self.store.q["map_run_update"], {"arn": arn, **settings})
            event = MapRunUpdated(arn, max_concurrency, percentage, tolerated_failure_count)
            db.execute(self.store.q["insert_inbox"], {
                "execution_arn": row["execution_arn"], "event": event_to_json(event), "created_ms": now_ms()})
        self.notify()

    def describe_execution(self, arn: str) -> dict[str, Any]:
        if map_runs.is_child_execution_arn(arn):  # a Map Run's child execution: a row of its own
            child = map_runs.describe_child_execution(self.store, arn, now_ms())
            if child is None:
                raise api.ExecutionDoesNotExist(f"Execution Does Not Exist: '{arn}'")
            return child
        return self.description_of(self._execution(arn, "describe_execution"))

    def description_of(self, row: dict[str, Any]) -> dict[str, Any]:
        """DescribeExecution's response for a row read with the `describe_execution` query."""
        out = execution_description(row)
        if row.get("alias_arn"):
            out["stateMachineAliasArn"] = row["alias_arn"]
        if row.get("redrive_count"):
            out["redriveCount"] = row["redrive_count"]
            out["redriveDate"] = to_datetime(row["redrive_ms"])
        return out

    def list_executions(self, state_machine_arn: str, *, status: str | None = None,
                        max_results: int = 100, next_token: str | None = None, redrive_filter: str | None = None
                        ) -> tuple[list[dict[str, Any]], str | None]:
        """ListExecutions of a state machine, or of one of its versions or aliases: the executions that
        ran that version (through an alias too) or were started through that alias."""
        check_enum(status, "statusFilter", EXECUTION_STATUSES)
        check_enum(redrive_filter, "redriveFilter", REDRIVE_FILTERS)
        max_results = page_size(max_results)
        machine_arn, version = arns.machine_of_version(state_machine_arn)
        alias_arn = None
        if version is None and len(arns.split(state_machine_arn)) == 8:
            alias_arn = self._alias(state_machine_arn)["arn"]
            machine_arn = ":".join(arns.split(state_machine_arn)[:7])
        self._machine(machine_arn)
        before_ms, before_arn = 2**62, "\uffff"
        if next_token:
            before_ms, before_arn = self.page_tokens.start_position(next_token)
        rows = self.store.all("list_executions", {
            "state_machine_arn": machine_arn, "status": status, "before_ms": before_ms, "before_arn": before_arn,
            "version_arn": state_machine_arn if version is not None else None, "alias_arn": alias_arn,
            "redriven": None if redrive_filter is None else redrive_filter == "REDRIVEN", "limit": max_results + 1})
        token = None
        if len(rows) > max_results:
            rows = rows[:max_results]
            token = self.page_tokens.token([rows[-1]["start_ms"], rows[-1]["arn"]])
        return [_execution_item(r) for r in rows], token

    def get_execution_history(self, arn: str, *, reverse: bool = False, max_results: int | None = None,
                              next_token: str | None = None, include_execution_data: bool = True,
                              raw_timestamps: bool = False) -> list[dict[str, Any]]:
        queries: tuple[str, str, str] = ("history_chunk_holding", "history_chunks_reverse", "history_chunks_forward")
        key: dict[str, Any] = {"arn": arn}
        if map_runs.is_child_execution_arn(arn):
            # A Map Run's STANDARD child execution has a history of its own, stored beside its row; AWS keeps
            # none of an Express execution, and none is kept of an EXPRESS child.
            child = map_runs.child_execution(self.store, arn)
            if child is None or child.express:
                raise api.ExecutionDoesNotExist(f"Execution Does Not Exist: '{arn}'")
            queries = ("map_run_child_history_holding", "map_run_child_history_reverse",
                       "map_run_child_history_forward")
            key = {"map_run_arn": child.map_run_arn, "idx": child.index}
        else:
            self._execution(arn)
        holding, backwards, forwards = queries
        limit = max_results or 1_000_000
        if reverse:
            before = int(next_token) if next_token else 2**62
            # The chunk holding event `before - 1` may reach past it; the chunks below it do not.
            holder = self.store.one(holding, {**key, "id": before - 1})
            texts = [holder["events"]] if holder else []
            texts += [r["events"] for r in self.store.all(backwards, {
                **key, "before": holder["first_id"] if holder else before, "limit": limit})]
            events = [e for text in texts for e in reversed(json.loads(text)) if e[0] < before]
        else:
            after = int(next_token) if next_token else 0
            texts = [r["events"] for r in self.store.all(forwards, {**key, "after": after, "limit": limit})]
            events = [e for text in texts for e in json.loads(text) if e[0] > after]
        return [stored_event(e, include_execution_data, raw_timestamps) for e in events[:limit]]

    # ---- task answers -----------------------------------------------------------------------

    def _task_by_token(self, token: str) -> dict[str, Any]:
        check_length(token, "taskToken", TASK_TOKEN_MAX, minimum=1, sensitive=True)
        if not _issued(token):
            raise api.InvalidToken("Invalid token")
        row = self.store.one("task_by_token", {"token": token})
        if row is None:
            if self.store.one("buried_token", {"token": token}) is not None:
                raise _task_closed()
            raise api.TaskDoesNotExist("Task Does Not Exist")
        return row

    def _answer(self, task: dict[str, Any], token: str, event: Any) -> None:
        """Close the task and queue its answer in one transaction: of several answers to one token only
        the first counts, and the others (or one racing the task's timeout) learn the task is closed."""
        stamp = now_ms()
        with self.store.write() as db:
            # The engine buries a task's token when it deletes the task, in the same transaction.
            if db.execute(self.store.q["bury_token"], (token, stamp)).rowcount == 0:
                raise _task_closed()
            db.execute(self.store.q["insert_inbox"], {
                "execution_arn": task["execution_arn"], "event": event_to_json(event), "created_ms": stamp})
        self.notify()

    def send_task_success(self, token: str, output: str) -> None:
        # The API reference's length constraint on `output`, which counts the bytes of its UTF-8 (a
        # character is 1-4 of them: only a text that may be too large is encoded), checked before the token
        # as member constraints are; without it a larger result would be taken and fail the execution.
        if len(output) * 4 > MAX_INPUT_BYTES and len(output.encode("utf-8", "surrogatepass")) > MAX_INPUT_BYTES:
            constraints.refuse([f"Value at 'output' failed to satisfy constraint: Member must have length less "
                                f"than or equal to {MAX_INPUT_BYTES}"])
        task = self._task_by_token(token)
        try:
            value = jsontext.loads(output)
        except ValueError:
            # In Jackson's words, as StartExecution's InvalidExecutionInput says what is wrong with an input.
            raise api.InvalidOutput(f"Invalid Output: '{json_problem(output)}'") from None
        self._answer(task, token, TaskSucceeded(task["id"], value))

    def send_task_failure(self, token: str, error: str | None = None, cause: str | None = None) -> None:
        check_length(error, "error", MAX_ERROR_CHARS, sensitive=True)
        check_length(cause, "cause", MAX_CAUSE_CHARS, sensitive=True)
        task = self._task_by_token(token)
        self._answer(task, token, TaskFailed(task["id"], error, cause))

    def send_task_heartbeat(self, token: str) -> None:
        task = self._task_by_token(token)
        command = json.loads(task["command"])
        heartbeat = command.get("heartbeat_seconds")
        if not heartbeat:  # nothing to extend: only whether the task is still open matters
            if self.store.one("buried_token", {"token": token}) is not None:
                raise _task_closed()
            return
        with self.store.write() as db:
            if db.execute(self.store.q["buried_token"], {"token": token}).fetchone() is not None:
                raise _task_closed()  # answered since it was read: its heartbeats are over
            db.execute(self.store.q["heartbeat_task"], {"token": token, "deadline": clamp_ms(now_ms() + heartbeat * 1000)})

    def _post(self, execution_arn: str, event: Any) -> None:
        """Queue an event for the decider; the inbox row makes it survive a crash."""
        with self.store.write() as db:
            db.execute(self.store.q["insert_inbox"], {
                "execution_arn": execution_arn, "event": event_to_json(event), "created_ms": now_ms()})
        self.notify()


    # ---- listing, versions and aliases ------------------------------------------------------

    def list_state_machines_page(self, *, max_results: int = 100, next_token: str | None = None
                                 ) -> tuple[list[dict[str, Any]], str | None]:
        after = self.page_tokens.name_position(next_token) if next_token else ""
        rows = self.store.all("list_state_machines_page", {"after": after, "limit": max_results + 1})
        items = [{"stateMachineArn": r["arn"], "name": r["name"], "type": r["type"],
                  "creationDate": to_datetime(r["created_ms"])} for r in rows[:max_results]]
        return items, self.page_tokens.token(rows[max_results - 1]["name"]) if len(rows) > max_results else None

    def _describe_version(self, version_arn: str) -> dict[str, Any]:
        machine_arn, _ = arns.machine_of_version(version_arn)
        machine = self._machine(machine_arn)
        row = self.store.one("get_version", {"arn": version_arn})
        if row is None:
            raise api.StateMachineDoesNotExist(f"State Machine Does Not Exist: '{version_arn}'")
        return {
            "stateMachineArn": version_arn, "name": machine["name"], "status": machine["status"],
            "definition": row["definition"], "roleArn": row["role_arn"] or machine["role_arn"],
            "type": machine["type"], "creationDate": to_datetime(row["created_ms"]), "revisionId": row["revision_id"],
            "description": row["description"], **_settings_members(machine),
        }

    def describe_state_machine_for_execution(self, execution_arn: str) -> dict[str, Any]:
        if map_runs.is_child_execution_arn(execution_arn):
            return self._child_state_machine(execution_arn)
        row = self._execution(execution_arn)
        text = self.store.one("execution_definition", {"arn": execution_arn}) or {}
        pinning = self.store.one("execution_pinning", {"arn": execution_arn}) or {}
        machine = self.store.one("get_state_machine", {"arn": row["state_machine_arn"]}) or {}
        out: dict[str, Any] = {
            "stateMachineArn": row["state_machine_arn"],
            "name": arns.split(row["state_machine_arn"])[6],
            "definition": text.get("definition", machine.get("definition", "")),
            "roleArn": machine.get("role_arn", self.role_arn),
            "updateDate": to_datetime(machine.get("updated_ms", row["start_ms"])),
            **_settings_members(machine),
        }
        if machine.get("revision_id"):
            out["revisionId"] = machine["revision_id"]
        if pinning.get("version_arn"):
            out["stateMachineVersionArn"] = pinning["version_arn"]
        if pinning.get("alias_arn"):
            out["stateMachineAliasArn"] = pinning["alias_arn"]
        return out

    def _child_state_machine(self, execution_arn: str) -> dict[str, Any]:
        """DescribeStateMachineForExecution of a Map Run's child execution: as AWS answers it, the state
        machine of the Map Run (the Map's ItemProcessor), with its `mapRunArn` and `label`; its role, settings
        and dates are those of the state machine the parent execution ran."""
        child = map_runs.child_execution(self.store, execution_arn)
        if child is None:
            raise api.ExecutionDoesNotExist(f"Execution Does Not Exist: '{execution_arn}'")
        machine = map_runs.child_state_machine(self.store, child.map_run_arn)
        parent = self.describe_state_machine_for_execution(machine.pop("executionArn"))
        for member in ("stateMachineVersionArn", "stateMachineAliasArn"):  # the parent's, not the Map Run's
            parent.pop(member, None)
        return {**parent, **machine}

    def list_state_machine_versions(self, arn: str, *, max_results: int = 100, next_token: str | None = None
                                    ) -> tuple[list[dict[str, Any]], str | None]:
        self._machine(arn)
        before = self.page_tokens.number_position(next_token) if next_token else 2**62
        rows = self.store.all("list_versions_page", {"state_machine_arn": arn, "before": before,
                                                     "limit": max_results + 1})
        items = [{"stateMachineVersionArn": r["arn"], "creationDate": to_datetime(r["created_ms"])}
                 for r in rows[:max_results]]
        return items, self.page_tokens.token(rows[max_results - 1]["version"]) if len(rows) > max_results else None

    def delete_state_machine_version(self, version_arn: str) -> None:
        machine_arn, version = arns.machine_of_version(version_arn)
        if version is None:
            raise api.InvalidArn(f"Invalid Arn: '{version_arn}'")
        referencing = [r["arn"] for r in self.store.all("aliases_routing_to", {"pattern": f'%"{version_arn}"%'})]
        if referencing:
            raise api.ConflictException(
                "Version to be deleted must not be referenced by an alias. Current list of aliases referencing "
                f"this version: [{', '.join(referencing)}]")
        with self.store.write() as db:
            db.execute(self.store.q["delete_version"], {"arn": version_arn})

    def _routing(self, machine_arn: str, routing: list[dict[str, Any]]) -> str:
        _check_routing_length(routing)
        seen: set[str] = set()
        total = 0
        for entry in routing:
            version_arn = str(entry.get("stateMachineVersionArn", ""))
            weight = entry.get("weight")
            owner, version = arns.machine_of_version(version_arn)
            if version is None:
                raise api.ValidationException(f"Routing configuration must contain state machine version ARNs. "
                                              f"Received: [{version_arn}]")
            if owner != machine_arn:
                raise api.ValidationException("Routing configuration must contain versions of the same state "
                                              f"machine. Received: [{version_arn}]")
            if version_arn in seen:
                raise api.ValidationException("Routing configuration must contain distinct state machine "
                                              "version ARNs. Received: " + json.dumps([version_arn]))
            if not isinstance(weight, int) or isinstance(weight, bool) or not 0 <= weight <= 100:
                raise api.ValidationException("1 validation error detected: Value at 'weight' failed to satisfy "
                                              "constraint: Member must have value between 0 and 100")
            if self.store.one("get_version", {"arn": version_arn}) is None:
                raise api.ResourceNotFound(f"Resource not found: '{version_arn}'")
            seen.add(version_arn)
            total += weight
        if total != 100:
            raise api.ValidationException("Sum of routing configuration weights must be equal to 100. "
                                          f"Received: {total}")
        return json.dumps([{"stateMachineVersionArn": e["stateMachineVersionArn"], "weight": e["weight"]}
                           for e in routing])

    def create_state_machine_alias(self, name: str, routing: list[dict[str, Any]], *,
                                   description: str = "") -> tuple[str, datetime]:
        if not _ALIAS_NAME.fullmatch(name) or len(name) > 80:
            raise api.ValidationException(f"Invalid alias name: '{name}'")
        _check_routing_length(routing)  # before the machine is looked for in the first entry
        machine_arn = arns.machine_of_version(str(routing[0].get("stateMachineVersionArn", "")))[0]
        machine = self._active_machine(machine_arn)
        routing_text = self._routing(machine_arn, routing)
        alias_arn = f"{machine_arn}:{name}"
        stamp = now_ms()
        with self.store.write() as db:  # the check and the write in one transaction: concurrent creates queue
            self._still_routable(db, machine, routing)
            existing = self._row(db, "get_alias", {"arn": alias_arn})
            if existing is not None:
                if existing["routing"] == routing_text and existing["description"] == description:
                    return alias_arn, to_datetime(existing["created_ms"])
                raise api.ConflictException(f"Failed to create alias because an alias with the same name and a "
                                            f"different routing configuration already exists: '{alias_arn}'")
            db.execute(self.store.q["insert_alias"], {
                "arn": alias_arn, "state_machine_arn": machine_arn, "name": name, "description": description,
                "routing": routing_text, "created_ms": stamp, "updated_ms": stamp})
        return alias_arn, to_datetime(stamp)

    def _still_routable(self, db: Any, machine: dict[str, Any], routing: list[dict[str, Any]]) -> None:
        """In the write transaction of an alias: the machine looked at before is still there, the same one
        (not deleted and created again under its name) and not DELETING, and the versions routed to exist.
        A DeleteStateMachine between the look and the write would otherwise leave an alias to versions
        that are gone, or of another machine."""
        _check_same_machine(db, self.store.q, machine["arn"], machine["incarnation"])
        for entry in routing:
            version_arn = str(entry.get("stateMachineVersionArn", ""))
            if self._row(db, "get_version", {"arn": version_arn}) is None:
                raise api.ResourceNotFound(f"Resource not found: '{version_arn}'")

    def _alias(self, alias_arn: str) -> dict[str, Any]:
        parts = arns.split(alias_arn)
        if len(parts) != 8 or parts[5] != "stateMachine" or parts[7].isdigit():
            raise api.InvalidArn(f"Invalid Arn: '{alias_arn}'")
        row = self.store.one("get_alias", {"arn": alias_arn})
        if row is None:
            raise api.ResourceNotFound(f"Resource not found: '{alias_arn}'")
        return row

    def describe_state_machine_alias(self, alias_arn: str) -> dict[str, Any]:
        row = self._alias(alias_arn)
        return {"stateMachineAliasArn": row["arn"], "name": row["name"], "description": row["description"],
                "routingConfiguration": json.loads(row["routing"]),
                "creationDate": to_datetime(row["created_ms"]), "updateDate": to_datetime(row["updated_ms"])}

    def update_state_machine_alias(self, alias_arn: str, *, description: str | None = None,
                                   routing: list[dict[str, Any]] | None = None) -> datetime:
        row = self._alias(alias_arn)
        machine = self._active_machine(row["state_machine_arn"])
        if description is None and routing is None:
            raise api.ValidationException("Either the description or the RoutingConfiguration must be specified")
        routing_text = self._routing(row["state_machine_arn"], routing) if routing is not None else row["routing"]
        stamp = now_ms()
        with self.store.write() as db:
            if self._row(db, "get_alias", {"arn": alias_arn}) is None:  # deleted since (with its machine, say)
                raise api.ResourceNotFound(f"Resource not found: '{alias_arn}'")
            self._still_routable(db, machine, routing or [])
            db.execute(self.store.q["update_alias"], {
                "arn": alias_arn, "description": row["description"] if description is None else description,
                "routing": routing_text, "updated_ms": stamp})
        return to_datetime(stamp)

    def delete_state_machine_alias(self, alias_arn: str) -> None:
        parts = arns.split(alias_arn)
        if len(parts) != 8 or parts[5] != "stateMachine" or parts[7].isdigit():
            raise api.InvalidArn(f"Invalid Arn: '{alias_arn}'")
        with self.store.write() as db:
            db.execute(self.store.q["delete_alias"], {"arn": alias_arn})
            db.execute(self.store.q["delete_tags_of"], {"resource_arn": alias_arn})

    def list_state_machine_aliases(self, arn: str, *, max_results: int = 100, next_token: str | None = None
                                   ) -> tuple[list[dict[str, Any]], str | None]:
        machine_arn, version = arns.machine_of_version(arn)
        self._active_machine(machine_arn)  # AWS lists StateMachineDeleting among ListStateMachineAliases' errors
        # A version ARN lists the aliases that route to that version, as the API reference says.
        if version is not None and self.store.one("get_version", {"arn": arn}) is None:
            raise api.ResourceNotFound(f"Resource not found: '{arn}'")
        # Newest first, as AWS sorts them ("the most recently created aliases listed first"); a page ends at
        # its last alias's (creation ms, ARN).
        before_ms, before_arn = self.page_tokens.start_position(next_token) if next_token else (_NO_END_MS, "")
        rows = self.store.all("list_aliases_page", {
            "state_machine_arn": machine_arn, "before_ms": before_ms, "before_arn": before_arn,
            "limit": max_results + 1,
            "routing": "%" if version is None else f'%"{arn}"%'})  # the ARN in quotes: :1 is not :10
        items = [{"stateMachineAliasArn": r["arn"], "creationDate": to_datetime(r["created_ms"])}
                 for r in rows[:max_results]]
        last = rows[max_results - 1] if len(rows) > max_results else None
        return items, self.page_tokens.token([last["created_ms"], last["arn"]]) if last is not None else None

    def _route_alias(self, arn: str) -> tuple[str, str | None]:
        """An alias ARN → one of its versions, chosen by weight; any other ARN is returned as it is."""
        if _alias_owner(arn) is None:
            return arn, None
        row = self.store.one("get_alias", {"arn": arn})
        if row is None:
            raise api.StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'")
        routing = json.loads(row["routing"])
        pick = random.uniform(0, 100)
        for entry in routing:
            pick -= entry["weight"]
            if pick < 0:
                return str(entry["stateMachineVersionArn"]), arn
        return str(routing[-1]["stateMachineVersionArn"]), arn

    # ---- activities -------------------------------------------------------------------------

    def create_activity(self, name: str, tags: list[dict[str, str]] | None = None) -> tuple[str, datetime]:
        if not arns.valid_name(name):
            raise api.InvalidName(f"Invalid Name: '{name}'")
        arn = arns.activity_arn(self.region, self.account, name)
        _check_tag_count(arn, tags or [])
        stamp = now_ms()
        with self.store.write() as db:  # the check and the write in one transaction: concurrent creates queue
            existing = self._row(db, "get_activity", {"arn": arn})
            if existing is not None:
                return arn, to_datetime(existing["created_ms"])  # AWS: idempotent, the tags ignored
            db.execute(self.store.q["insert_activity"], {"arn": arn, "name": name, "created_ms": stamp})
            self._insert_tags(db, arn, tags or [])
        return arn, to_datetime(stamp)

    def _activity(self, arn: str) -> dict[str, Any]:
        parts = arns.split(arn)
        if len(parts) != 7 or parts[5] != "activity":
            raise api.InvalidArn(f"Invalid Arn: '{arn}'")
        row = self.store.one("get_activity", {"arn": arn})
        if row is None:
            raise api.ActivityDoesNotExist(f"Activity Does Not Exist: '{arn}'")
        return row

    def describe_activity(self, arn: str) -> dict[str, Any]:
        row = self._activity(arn)
        return {"activityArn": row["arn"], "name": row["name"], "creationDate": to_datetime(row["created_ms"])}

    def delete_activity(self, arn: str) -> None:
        parts = arns.split(arn)
        if len(parts) != 7 or parts[5] != "activity":
            raise api.InvalidArn(f"Invalid Arn: '{arn}'")
        with self.store.write() as db:
            db.execute(self.store.q["delete_activity"], {"arn": arn})
            db.execute(self.store.q["delete_tags_of"], {"resource_arn": arn})

    def list_activities(self, *, max_results: int = 100, next_token: str | None = None
                        ) -> tuple[list[dict[str, Any]], str | None]:
        after = self.page_tokens.name_position(next_token) if next_token else ""
        rows = self.store.all("list_activities_page", {"after": after, "limit": max_results + 1})
        items = [{"activityArn": r["arn"], "name": r["name"], "creationDate": to_datetime(r["created_ms"])}
                 for r in rows[:max_results]]
        return items, self.page_tokens.token(rows[max_results - 1]["name"]) if len(rows) > max_results else None

    def claim_activity_task(self, activity_arn: str, worker_name: str | None = None) -> ClaimedTask | None:
        """Hand the oldest scheduled task of the activity to one poller, or None.

        The claim and the task's start (an inbox row) are written in one transaction, so two pollers
        never get the same task and a crash never loses a claimed task's start. The engine records
        ActivityStarted from that row in a later round: `ClaimedTask.started` says when it is durable.
        """
        check_length(worker_name, "workerName", 80, minimum=1)
        self._activity(activity_arn)
        if self.store.one("next_activity_task", {"activity_arn": activity_arn}) is None:
            return None  # the common idle case costs a read, not a write
        with self.store.write() as db:
            row = db.execute(self.store.q["next_activity_task"], {"activity_arn": activity_arn}).fetchone()
            if row is None:
                return None
            command = json.loads(row["command"])
            token = _task_token(row["execution_arn"], row["id"])
            heartbeat = command.get("heartbeat_seconds")
            stamp = now_ms()
            db.execute(self.store.q["claim_activity_task"], {
                "execution_arn": row["execution_arn"], "id": row["id"], "token": token,
                "heartbeat_deadline_ms": clamp_ms(stamp + heartbeat * 1000) if heartbeat else None})
            seq = db.execute(self.store.q["insert_inbox"], {
                "execution_arn": row["execution_arn"], "created_ms": stamp,
                "event": event_to_json(TaskStarted(row["id"], worker_name))}).lastrowid
        started = self.inbox_applied(seq) if self.inbox_applied is not None and seq is not None else None
        self.notify()
        return ClaimedTask(token, jsontext.dumps(command.get("input")), started)

    # ---- tags -------------------------------------------------------------------------------

    def _taggable(self, arn: str) -> None:
        parts = arns.split(arn)
        kind = parts[5] if parts else ""
        found: Any = None
        if kind == "stateMachine" and len(parts) == 7:
            found = self.store.one("get_state_machine", {"arn": arn})
        elif kind == "stateMachine" and len(parts) == 8 and not parts[7].isdigit():
            found = self.store.one("get_alias", {"arn": arn})
        elif kind == "activity" and len(parts) == 7:
            found = self.store.one("get_activity", {"arn": arn})
        elif not parts:
            raise api.InvalidArn(f"Invalid Arn: '{arn}'")
        if found is None:
            raise api.ResourceNotFound(f"Resource not found: '{arn}'")

    def tag_resource(self, arn: str, tags: list[dict[str, str]]) -> None:
        self._taggable(arn)
        with self.store.write() as db:  # counted and written in one transaction: concurrent tags cannot pass 50
            existing = [dict(r) for r in db.execute(self.store.q["list_tags"], {"resource_arn": arn})]
            _check_tag_count(arn, existing + tags)
            self._insert_tags(db, arn, tags)

    def _insert_tags(self, db: Any, arn: str, tags: list[dict[str, str]]) -> None:
        for tag in tags:
            db.execute(self.store.q["insert_tag"], {"resource_arn": arn, "key": tag["key"],
                                                    "value": tag.get("value", "")})

    def untag_resource(self, arn: str, keys: list[str]) -> None:
        self._taggable(arn)
        with self.store.write() as db:
            for key in keys:
                db.execute(self.store.q["delete_tag"], {"resource_arn": arn, "key": key})

    def list_tags_for_resource(self, arn: str) -> list[dict[str, str]]:
        self._taggable(arn)
        return [{"key": r["key"], "value": r["value"]} for r in self.store.all("list_tags", {"resource_arn": arn})]

    # ---- TestState ---------------------------------------------------------------------------

    def test_state(self, request: Any, perform: Callable[[Any], Any] | None = None,
                   payload_limit_bytes: int = MAX_INPUT_BYTES) -> Any:
        """Run one state in isolation (TestState); writes nothing. `request` is a TestStateRequest,
        `perform` runs an unmocked task's ScheduleTask command and answers with core events."""
        from stateway.asl import teststate
        from stateway.asl.events import ExecutionInfo
        from stateway.engine.env import ShellEnv
        from stateway.engine.mockschema import MockSchemaError, check_mock_result

        try:
            _machine, _program, state = teststate.select_state(request)
            result = teststate.mocked_result(request, state)
            if state.type.value == "Task" and request.mock is not None and request.mock.result is not None:
                check_mock_result(state.resource, result, request.mock.field_validation_mode)
            machine_name = f"TestStateMachine-{uuid.uuid4().hex[:12]}"
            name = str(uuid.uuid4())
            now = now_ms()
            execution = ExecutionInfo(
                execution_arn=f"arn:aws:states:{self.region}:{self.account}:express:{machine_name}:{name}",
                name=name, state_machine_arn=f"arn:aws:states:{self.region}:{self.account}:stateMachine:"
                                             f"{machine_name}",
                state_machine_name=machine_name, role_arn=request.role_arn or "",
                input_text=jsontext.dumps(request.input), start_time_ms=now)
            return teststate.run_test_state(request, execution, ShellEnv(now, payload_limit_bytes), perform)
        except teststate.TestStateError as exc:
            error_type = api.InvalidDefinition if exc.code == "InvalidDefinition" else api.ValidationException
            raise error_type(exc.message) from None
        except MockSchemaError as exc:
            raise api.ValidationException(exc.message) from None


@dataclass(frozen=True)
class ClaimedTask:
    """An activity task handed to a poller: its token and input, and `started`, done once the task's
    ActivityStarted is durable in the history (None without an engine in this process, which cannot
    tell: the engine that drives the store records it at its next look at the inbox)."""

    token: str
    input: str
    started: Future[None] | None = None


@dataclass(frozen=True)
class NewExecution:
    """An accepted StartExecution, ready to be stored."""

    arn: str
    state_machine_arn: str
    version_arn: str | None
    name: str
    definition: str
    input: str
    start_ms: int
    parent_task: str | None
    alias_arn: str | None
    machine_name: str
    role_arn: str
    machine_incarnation: str  # of the machine whose definition (or version) the start read

    def insert(self, db: Any, q: dict[str, str]) -> None:
        """Store the execution in the caller's write transaction, if its state machine (and version) still
        exist and the machine is not being deleted; AWS's error else, with nothing written. StartExecution
        looked at the machine before, outside the transaction: a DeleteStateMachine may have come between,
        and it must either see this execution running or have refused it. A machine deleted and created
        again meanwhile has the same ARN but is another machine: the one the start read is gone, so the
        start is refused as for a removed machine rather than stored with the old machine's definition.
        That covers a version too: its number is never given again within one incarnation of the machine,
        so a version that exists in the same incarnation is the version the start read."""
        _check_same_machine(db, q, self.state_machine_arn, self.machine_incarnation)
        if self.version_arn is not None and db.execute(q["get_version"], {"arn": self.version_arn}).fetchone() is None:
            raise api.StateMachineDoesNotExist(f"State Machine Does Not Exist: '{self.version_arn}'")
        db.execute(q["insert_execution"], {
            "arn": self.arn, "state_machine_arn": self.state_machine_arn, "version_arn": self.version_arn,
            "name": self.name, "definition": self.definition, "input": self.input, "start_ms": self.start_ms,
            "parent_task": self.parent_task, "role_arn": self.role_arn,
            "machine_incarnation": self.machine_incarnation,
        })
        if self.alias_arn is not None:
            db.execute(q["set_execution_alias"], {"arn": self.arn, "alias_arn": self.alias_arn})


MAX_TAGS = 50


def _check_routing_length(routing: list[dict[str, Any]]) -> None:
    """An alias routes to one or two versions (`routingConfiguration` has 1-2 items)."""
    if not routing or len(routing) > 2:
        raise api.ValidationException(
            "1 validation error detected: Value at 'routingConfiguration' failed to satisfy constraint: "
            "Member must have length less than or equal to 2 and greater than or equal to 1")


def _check_same_machine(db: Any, q: dict[str, str], arn: str, incarnation: str) -> None:
    """In a write transaction: the machine looked at before it (of `incarnation`) is still there, the same
    one — not deleted and created again under its name — and not DELETING; AWS's error else."""
    machine = db.execute(q["machine_status"], {"arn": arn}).fetchone()
    if machine is None or machine["incarnation"] != incarnation:
        raise api.StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'")
    if machine["status"] == deletion.DELETING:
        raise _deleting(arn)


def _alias_owner(arn: str) -> str | None:
    """The state machine ARN of an alias ARN (`…:stateMachine:NAME:ALIAS`); None for any other ARN."""
    parts = arns.split(arn)
    if len(parts) == 8 and parts[5] == "stateMachine" and not parts[7].isdigit():
        return ":".join(parts[:7])
    return None


def _percentage_problems(value: Any) -> list[str]:
    """UpdateMapRun's toleratedFailurePercentage: a number from 0 to 100, in AWS's words."""
    if value is None:
        return []
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise api.SerializationException("Unexpected value for 'toleratedFailurePercentage': expected number")
    checks = [(not value >= 0, "Member must have value greater than or equal to 0"),  # NaN too
              (value > 100, "Member must have value less than or equal to 100")]
    return [f"Value '{value}' at 'toleratedFailurePercentage' failed to satisfy constraint: {text}"
            for broken, text in checks if broken]


def _check_tag_count(arn: str, tags: list[dict[str, str]]) -> None:
    """AWS's limit of 50 tags a resource (a key given again replaces its value)."""
    if len({t["key"] for t in tags}) > MAX_TAGS:
        raise api.TooManyTags(f"Too many tags on resource: '{arn}'")


def _logging_config(config: dict[str, Any] | None) -> dict[str, Any]:
    """A LoggingConfiguration as stored and described: its defaults filled in (level OFF, no data)."""
    config = config or {}
    out: dict[str, Any] = {"level": config.get("level") or "OFF",
                           "includeExecutionData": bool(config.get("includeExecutionData", False))}
    if config.get("destinations"):
        out["destinations"] = config["destinations"]
    return out


def _tracing_config(config: dict[str, Any] | None) -> dict[str, Any]:
    return {"enabled": bool((config or {}).get("enabled", False))}


def _logging_text(config: dict[str, Any] | None) -> str:
    return json.dumps(_logging_config(config))


def _tracing_text(config: dict[str, Any] | None) -> str:
    return json.dumps(_tracing_config(config))


def _settings(machine: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """A machine row's stored `logging` or `tracing` configuration; None where it was never set."""
    text = machine.get(f"{kind}_configuration")
    return json.loads(text) if text else None


def _settings_members(machine: dict[str, Any]) -> dict[str, Any]:
    """DescribeStateMachine's `loggingConfiguration` and `tracingConfiguration` of a machine row."""
    return {"loggingConfiguration": _logging_config(_settings(machine, "logging")),
            "tracingConfiguration": _tracing_config(_settings(machine, "tracing"))}


def execution_description(row: dict[str, Any]) -> dict[str, Any]:
    """DescribeExecution's response for an executions row (or any dict with its keys; Express
    executions, which cannot be redriven, have no redrive count)."""
    out: dict[str, Any] = {
        "executionArn": row["arn"], "stateMachineArn": row["state_machine_arn"], "name": row["name"],
        "status": row["status"], "startDate": to_datetime(row["start_ms"]), "input": row["input"],
        "inputDetails": {"included": True},
    }
    if ":express:" not in row["arn"]:
        out["redriveCount"] = 0
        out.update(redrive_status(row, now_ms(), "redriveStatus", "redriveStatusReason", row.get("machine_status", "")))
    if row.get("version_arn"):
        out["stateMachineVersionArn"] = row["version_arn"]
    if row.get("stop_ms") is not None:
        out["stopDate"] = to_datetime(row["stop_ms"])
    if row["output"] is not None:
        out["output"] = row["output"]
        out["outputDetails"] = {"included": True}
    if row["error"] is not None:
        out["error"] = row["error"]
    if row["cause"] is not None:
        out["cause"] = row["cause"]
    return out


def _execution_item(row: dict[str, Any]) -> dict[str, Any]:
    """A ListExecutions item for an executions row."""
    item = {"executionArn": row["arn"], "stateMachineArn": row["state_machine_arn"], "name": row["name"],
            "status": row["status"], "startDate": to_datetime(row["start_ms"])}
    if row["stop_ms"] is not None:
        item["stopDate"] = to_datetime(row["stop_ms"])
    if row["version_arn"]:
        item["stateMachineVersionArn"] = row["version_arn"]
    if row["alias_arn"]:
        item["stateMachineAliasArn"] = row["alias_arn"]
    if row["redrive_count"]:
        item["redriveCount"] = row["redrive_count"]
        item["redriveDate"] = to_datetime(row["redrive_ms"])
    return item


def check_enum(value: str | None, member: str, allowed: list[str]) -> None:
    """AWS's ValidationException for a value outside a member's enum."""
    constraints.check(member, value, Member(enum=tuple(allowed)))


def page_size(max_results: int | None) -> int:
    """A `maxResults` as AWS takes it: 0 (or none) is the default page of 100, at most 1000."""
    if max_results is None or max_results == 0:
        return 100
    constraints.check("maxResults", max_results, Member(minimum=0, maximum=1000))
    return max_results


def redrive_status(execution: Mapping[str, Any], now: int, status_key: str, reason_key: str,
                   machine_status: str | None = "") -> dict[str, str]:
    """Whether an execution can be redriven at `now` (see `not_redrivable_reason`), under the keys of the
    response that says it (DescribeExecution's `redriveStatus`, a `.sync` task's `RedriveStatus`)."""
    reason = not_redrivable_reason(execution, now, machine_status)
    return {status_key: "REDRIVABLE"} if reason is None else {status_key: "NOT_REDRIVABLE", reason_key: reason}


def redrivable_until_ms(start_ms: int, stop_ms: int) -> int:
    """The last moment at which an ended execution may still be redriven, as far as time goes: its
    redrivable period (14 days from its stop) or a year from its start, whichever ends first. Later than
    this, `not_redrivable_reason` has a reason (the period or the max execution time), and the redrive
    sweep (`engine/sweep.py`, whose index computes the same) deletes the rows kept for a redrive."""
    return min(stop_ms + REDRIVABLE_PERIOD_MS, start_ms + MAX_DURATION_SECONDS * 1000 - 1)


def not_redrivable_reason(execution: Mapping[str, Any], now: int, machine_status: str | None = "") -> str | None:
    """Why a Standard execution (its `status`, `start_ms`, `stop_ms` and `last_event_id`, if known) cannot
    be redriven at `now`, in AWS's words (RedriveExecution's conditions); None when it can.
    `machine_status` is its state machine's (None: removed; "": not known to the caller)."""
    status = execution["status"]
    if status not in REDRIVABLE_STATUSES:
        return f"Execution is {status} and cannot be redriven"
    if machine_status is None or machine_status == deletion.DELETING:
        return "State machine is in DELETING status"
    if (execution.get("last_event_id") or 0) >= interpreter.MAX_HISTORY_EVENTS - 1:
        # ExecutionRedriven would be event 25,000 or later, which may only end an execution: whatever
        # ended it (the quota itself, or its own failure, stop or timeout at the last events).
        return "Execution history event limit exceeded"
    if now - execution["start_ms"] >= MAX_DURATION_SECONDS * 1000:
        return "Execution has exceeded the max execution time"
    if execution["stop_ms"] is not None and now - execution["stop_ms"] > REDRIVABLE_PERIOD_MS:
        return "Execution redrivable period exceeded"
    return None


def stored_event(stored: list[Any], include_data: bool = True, raw_timestamps: bool = False) -> dict[str, Any]:
    """A history event as the API shows it, from its stored `[id, previous id, type, timestamp, details]`."""
    event_id, previous_id, kind, timestamp_ms, details = stored
    event: dict[str, Any] = {
        "id": event_id, "previousEventId": previous_id, "type": kind,
        "timestamp": timestamp_ms if raw_timestamps else to_datetime(timestamp_ms),
    }
    if details is not None:
        if not include_data:
            details = {k: v for k, v in details.items() if k not in ("input", "output")}
        event[asl_history.details_key(kind)] = details
    return event


def _initial_revision(incarnation: str) -> str:
    """The revision id CreateStateMachine gives a machine, made from its incarnation, so that a machine's
    revision is known to be its first (PublishStateMachineVersion's `INITIAL`) with nothing stored beside it;
    an update gives a random one. (A machine created before this rule has a random first revision: INITIAL
    does not match it.)"""
    return str(uuid.uuid5(_INITIAL_REVISIONS, incarnation))


def check_length(value: str | None, member: str, maximum: int, *, minimum: int = 0, sensitive: bool = False) -> None:
    """AWS's ValidationException for a request member outside its length limits (a sensitive member's
    value is left out of the message, as AWS leaves it out)."""
    constraints.check(member, value, Member(min_length=minimum, max_length=maximum, sensitive=sensitive))


def _issued(token: str) -> bool:
    """Whether a token has the form of one this engine hands out: a `.waitForTaskToken` task's UUID, or
    an activity task's (`_task_token`)."""
    if _ISSUED_TOKEN.fullmatch(token):
        return True
    try:
        return _ACTIVITY_TOKEN.fullmatch(base64.b64decode(token, validate=True)) is not None
    except ValueError:
        return False


def _deleting(arn: str) -> api.ApiError:
    return api.StateMachineDeleting(f"State Machine is being deleted: '{arn}'")


def _task_closed() -> api.ApiError:
    return api.TaskTimedOut("Task Timed Out: 'Provided task does not exist anymore'")


def _task_token(execution_arn: str, task_id: str) -> str:
    """An opaque, unguessable token (AWS's are long base64 strings too)."""
    return base64.b64encode(f"{uuid.uuid4().hex}{uuid.uuid4().hex}|{task_id}".encode()).decode()


def input_problem(text: str) -> str | None:
    """Jackson's words for an execution input that is not JSON, as AWS reports them; None for JSON."""
    if not text.strip():
        return "Invalid execution input."
    return json_problem(text)
