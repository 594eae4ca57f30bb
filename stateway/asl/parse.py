"""Turns a validated definition (a dict, or JSON/YAML text) into the typed StateMachine model."""

from __future__ import annotations

import re
from typing import Any

from stateway.asl.choice import parse_choice_rule
from stateway.asl.model import (
    UNSET,
    Catcher,
    Program,
    QueryLanguage,
    Retrier,
    State,
    StateMachine,
    StateType,
)

# Definition field → State attribute, for the fields that are copied as they are.
_SIMPLE_FIELDS = {
    "Next": "next",
    "Comment": "comment",
    "InputPath": "input_path",
    "OutputPath": "output_path",
    "ResultPath": "result_path",
    "Parameters": "parameters",
    "ResultSelector": "result_selector",
    "Result": "result",
    "Assign": "assign",
    "Arguments": "arguments",
    "Output": "output",
    "Resource": "resource",
    "TimeoutSeconds": "timeout_seconds",
    "TimeoutSecondsPath": "timeout_seconds_path",
    "HeartbeatSeconds": "heartbeat_seconds",
    "HeartbeatSecondsPath": "heartbeat_seconds_path",
    "Credentials": "credentials",
    "Default": "default",
    "Seconds": "seconds",
    "SecondsPath": "seconds_path",
    "Timestamp": "timestamp",
    "TimestampPath": "timestamp_path",
    "Error": "error",
    "ErrorPath": "error_path",
    "Cause": "cause",
    "CausePath": "cause_path",
    "ItemsPath": "items_path",
    "Items": "items",
    "ItemSelector": "item_selector",
    "MaxConcurrency": "max_concurrency",
    "MaxConcurrencyPath": "max_concurrency_path",
    "ToleratedFailurePercentage": "tolerated_failure_percentage",
    "ToleratedFailurePercentagePath": "tolerated_failure_percentage_path",
    "ToleratedFailureCount": "tolerated_failure_count",
    "ToleratedFailureCountPath": "tolerated_failure_count_path",
    "ItemReader": "item_reader",
    "ItemBatcher": "item_batcher",
    "ResultWriter": "result_writer",
    "Label": "label",
}


def parse_machine(definition: dict[str, Any] | str, *, validate: bool = True,
                  state_machine_type: str = "STANDARD") -> StateMachine:
    """Validate (every problem at once, as DefinitionError) and parse a whole definition."""
    if isinstance(definition, str):
        from stateway.asl.loader import load_definition

        definition = load_definition(definition)
    if validate:
        from stateway.asl.validate import check_definition

        check_definition(definition, state_machine_type=state_machine_type)
    language = QueryLanguage(definition.get("QueryLanguage", "JSONPath"))
    programs: dict[str, Program] = {}
    program = _parse_program(definition, "", language, programs)
    timeout = definition.get("TimeoutSeconds")
    return StateMachine(
        program=program,
        raw=definition,
        timeout_seconds=timeout if isinstance(timeout, int) else None,
        version=definition.get("Version"),
        programs=programs,
        reads_execution_input=reads_execution_input(definition),
    )


# References to the context object that cannot reach `$$.Execution.Input`: the Map, State, Task and
# StateMachine parts, the other Execution fields, and JSONata's `$states.input/result/errorOutput`.
_SAFE_CONTEXT_REFERENCE = re.compile(
    r"(?:\$\$|\$states\.context)\.(?:Map|State|Task|StateMachine|Execution\.(?:Id|Name|StartTime|RoleArn|RedriveCount))"
    r"(?!\w)|\$states\.(?:input|result|errorOutput)(?!\w)")


def reads_execution_input(value: Any) -> bool:
    """Whether a definition may read `$$.Execution.Input`: some string in it refers to the context
    object (`$$…` in JSONPath, `$states…` in JSONata) other than through a part that cannot reach the
    execution input. Conservative: a `$$` in a plain string value counts too."""
    if isinstance(value, str):
        rest = _SAFE_CONTEXT_REFERENCE.sub("", value)
        return "$$" in rest or "$states" in rest
    if isinstance(value, dict):
        return any(reads_execution_input(k) or reads_execution_input(v) for k, v in value.items())
    if isinstance(value, list):
        return any(reads_execution_input(v) for v in value)
    return False


def _parse_program(raw: dict[str, Any], path: str, language: QueryLanguage,
                   programs: dict[str, Program]) -> Program:
    states = {
        name: _parse_state(name, body, f"{path}/States/{name}", language, programs)
        for name, body in raw.get("States", {}).items()
    }
    program = Program(
        start_at=raw["StartAt"], states=states, query_language=language, path=path,
        comment=raw.get("Comment"),
    )
    programs[path] = program
    return program


def _parse_state(name: str, raw: dict[str, Any], path: str, inherited: QueryLanguage,
                 programs: dict[str, Program]) -> State:
    language = QueryLanguage(raw.get("QueryLanguage", inherited))
    kwargs: dict[str, Any] = {
        attr: raw[key] for key, attr in _SIMPLE_FIELDS.items() if key in raw
    }
    state_type = StateType(raw["Type"])
    kwargs["end"] = bool(raw.get("End", False))
    kwargs["retry"] = tuple(_parse_retrier(r) for r in raw.get("Retry", ()))
    kwargs["catch"] = tuple(_parse_catcher(c) for c in raw.get("Catch", ()))
    if state_type is StateType.CHOICE:
        kwargs["choices"] = tuple(
            parse_choice_rule(rule, f"{path}/Choices/{i}") for i, rule in enumerate(raw.get("Choices", ()))
        )
    elif state_type is StateType.PARALLEL:
        kwargs["branches"] = tuple(
            _parse_program(branch, f"{path}/Branches/{i}", language, programs)
            for i, branch in enumerate(raw.get("Branches", ()))
        )
    elif state_type is StateType.MAP:
        processor_raw = raw.get("ItemProcessor") or raw.get("Iterator") or {}
        kwargs["processor"] = _parse_program(processor_raw, f"{path}/ItemProcessor", language, programs)
        config = processor_raw.get("ProcessorConfig") or {}
        kwargs["processor_mode"] = config.get("Mode", "INLINE")
        kwargs["processor_execution_type"] = config.get("ExecutionType", "STANDARD")
        # The legacy Map uses `Parameters` where the current one uses `ItemSelector`.
        if "ItemSelector" not in raw and "Parameters" in raw:
            kwargs["item_selector"] = raw["Parameters"]
            kwargs.pop("parameters", None)
    return State(name=name, type=state_type, raw=raw, query_language=language, **kwargs)


def _parse_retrier(raw: dict[str, Any]) -> Retrier:
    return Retrier(
        error_equals=tuple(raw.get("ErrorEquals", ())),
        interval_seconds=raw.get("IntervalSeconds", 1),
        max_attempts=raw.get("MaxAttempts", 3),
        backoff_rate=raw.get("BackoffRate", 2.0),
        max_delay_seconds=raw.get("MaxDelaySeconds"),
        jitter_strategy=raw.get("JitterStrategy", "NONE"),
        comment=raw.get("Comment"),
    )


def _parse_catcher(raw: dict[str, Any]) -> Catcher:
    return Catcher(
        error_equals=tuple(raw.get("ErrorEquals", ())),
        next=raw["Next"],
        result_path=raw.get("ResultPath", UNSET),
        assign=raw.get("Assign", UNSET),
        output=raw.get("Output", UNSET),
    )
