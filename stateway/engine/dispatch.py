"""Hands each scheduled task to what can run it: Python functions, nested executions, or the world."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from stateway.asl.events import ScheduleTask, TaskFailed, TaskStarted, TaskSubmitted, TaskSucceeded
from stateway.workers import python as pyfunctions

if TYPE_CHECKING:
    from stateway.engine.runtime import Engine


class TaskDispatcher:
    """Routes a ScheduleTask command by its resource; results come back to the engine as core events."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def runs_in_process(self, command: ScheduleTask) -> bool:
        """A Python function without a task token: work that writes nothing before its answer."""
        return command.task_token is None and (command.kind == "lambda" or (
            command.resource_type == "lambda" and command.service_resource.startswith("invoke")))

    def dispatch(self, execution_arn: str, command: ScheduleTask) -> None:
        if command.kind == "activity":
            return  # activity workers poll for it (GetActivityTask)
        if command.kind == "lambda" or (command.resource_type == "lambda"
                                        and command.service_resource.startswith("invoke")):
            self.engine.run_in_pool(self._run_function, execution_arn, command)
        elif command.resource_type == "states" and command.service_resource.startswith("startExecution"):
            self.engine.run_in_pool(self._run_nested, execution_arn, command)
        elif command.task_token is not None:
            # Any other resource with `.waitForTaskToken`: nothing to call here; the answer arrives
            # through SendTaskSuccess/SendTaskFailure with the token the definition passed on.
            self.engine.post(execution_arn, TaskStarted(command.task_id))
            self.engine.mark_waiting(execution_arn, command.task_id)
        else:
            self.engine.post(execution_arn, TaskStarted(command.task_id))
            self.engine.post(execution_arn, TaskFailed(
                command.task_id, "States.Runtime",
                f"No task handler is configured for the resource '{command.resource}'."))

    def _run_function(self, execution_arn: str, command: ScheduleTask) -> None:
        try:
            self._invoke(execution_arn, command)
        except Exception as exc:  # a bug in dispatch must fail the task, never kill the worker
            self.engine.post(execution_arn, TaskFailed(command.task_id, "States.Runtime", f"{type(exc).__name__}: {exc}"))

    def _invoke(self, execution_arn: str, command: ScheduleTask) -> None:
        from stateway.workers.lambda_invoke import invoke_response, request_of

        engine = self.engine
        wrapped = command.kind != "lambda"
        target, payload = request_of(command) if wrapped else (command.resource, command.input)
        engine.post(execution_arn, TaskStarted(command.task_id))
        handler = pyfunctions.lookup(engine.functions, target)
        if handler is None:
            # Lambda's own words, with the ARN it resolved the name to (as the local runner says it).
            arn = target if target.startswith("arn:") else \
                f"arn:aws:lambda:{engine.service.region}:{engine.service.account}:function:{target}"
            engine.post(execution_arn, TaskFailed(
                command.task_id, "Lambda.ResourceNotFoundException",
                f"Function not found: {arn}:$LATEST (Service: AWSLambda; Status Code: 404; Error Code: "
                f"ResourceNotFoundException; Request ID: {uuid.uuid4()}; Proxy: null)"))
            return
        key = f"{execution_arn}/{command.frame_id}/{command.state_name}/{command.attempt}"
        result = pyfunctions.invoke(
            handler, payload, pyfunctions.function_name_of(target), timeout_seconds=command.timeout_seconds,
            idempotency_key=key, heartbeat=lambda: self._heartbeat(execution_arn, command))
        if result.timed_out:
            return  # the engine's deadline turns into TaskTimedOut; a late result is never read
        if not result.ok:
            engine.post(execution_arn, TaskFailed(command.task_id, result.error, result.cause))
            return
        output: Any = invoke_response(result.output, command.input) if wrapped else result.output
        if command.task_token is not None:
            engine.post(execution_arn, TaskSubmitted(command.task_id, output))
            engine.mark_waiting(execution_arn, command.task_id)
        else:
            engine.post(execution_arn, TaskSucceeded(command.task_id, output))

    def _heartbeat(self, execution_arn: str, command: ScheduleTask) -> None:
        if command.heartbeat_seconds:
            from stateway.engine.service import now_ms

            with self.engine.store.write() as db:
                db.execute(self.engine.store.q["heartbeat_task_by_id"],
                           (now_ms() + command.heartbeat_seconds * 1000, execution_arn, command.task_id))

    def _run_nested(self, execution_arn: str, command: ScheduleTask) -> None:
        from stateway.workers.nested import start_nested

        try:
            start_nested(self.engine, execution_arn, command)
        except Exception as exc:  # reported as the task's failure, as AWS does for a bad StartExecution
            error = getattr(exc, "type_name", type(exc).__name__)
            self.engine.post(execution_arn, TaskFailed(command.task_id, f"StepFunctions.{error}Exception"
                                                       if not error.endswith("Exception") else f"StepFunctions.{error}",
                                                       str(exc)))
