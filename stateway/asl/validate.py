"""Static validation of a whole state machine definition, reporting every problem in AWS's words.

Wording and locations follow what AWS answers where it is recorded (the conformance corpus, and
diagnostics measured with `aws stepfunctions validate-state-machine-definition`); the few messages
AWS's wording is not known for are written in the same families (`These fields are required: [...]`,
`Field 'X' is not supported`, `Value should be one of the following: [...]`). Like AWS, the graph
checks (transition targets, terminal state, reachability, duplicate names) run only once the
definition is schema-valid, since they would otherwise walk a half-formed graph.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final

from stateway.asl.batches import MAX_BATCH_BYTES
from stateway.asl.errors import DefinitionError, Problem

# Diagnostic codes, as ValidateStateMachineDefinition names them.
SCHEMA_VALIDATION_FAILED: Final = "SCHEMA_VALIDATION_FAILED"
INVALID_JSON_DESCRIPTION: Final = "INVALID_JSON_DESCRIPTION"
MISSING_TRANSITION_TARGET: Final = "MISSING_TRANSITION_TARGET"
MISSING_END_STATE: Final = "MISSING_END_STATE"
DUPLICATE_STATE_NAME: Final = "DUPLICATE_STATE_NAME"
INVALID_STATE_NAME: Final = "INVALID_STATE_NAME"
INVALID_LABEL_NAME: Final = "INVALID_LABEL_NAME"
DUPLICATE_LABEL_NAME: Final = "DUPLICATE_LABEL_NAME"

# AWS renders a problem that points nowhere as "... at null"; its diagnostics then omit `location`.
NO_LOCATION: Final = "null"

JSONPATH: Final = "JSONPath"
JSONATA: Final = "JSONata"
QUERY_LANGUAGES: Final = (JSONPATH, JSONATA)
STATE_TYPES: Final = ("Task", "Wait", "Pass", "Succeed", "Fail", "Choice", "Parallel", "Map")
STANDARD: Final = "STANDARD"
EXPRESS: Final = "EXPRESS"

STATES_ALL: Final = "States.ALL"
MAX_STATE_NAME_LENGTH: Final = 80
MAX_LABEL_LENGTH: Final = 40

# ---------------------------------------------------------------------------------------------------
# Field tables (data, so the JSONata milestone can extend them).
# ---------------------------------------------------------------------------------------------------

TOP_LEVEL_FIELDS: Final = ("Comment", "StartAt", "States", "Version", "TimeoutSeconds", "QueryLanguage")
TOP_LEVEL_REQUIRED: Final = ("States", "StartAt")  # AWS lists them in this order
BRANCH_FIELDS: Final = ("Comment", "StartAt", "States")
ITEM_PROCESSOR_FIELDS: Final = ("Comment", "StartAt", "States", "ProcessorConfig")
CONTAINER_REQUIRED: Final = ("StartAt", "States")

_COMMON: Final = ("Type", "Comment", "QueryLanguage")
_TRANSITION: Final = ("Next", "End")
_IO: Final = ("InputPath", "OutputPath")
_RESULT: Final = ("Parameters", "Arguments", "ResultPath", "ResultSelector", "Output", "Assign")
_ERROR_HANDLING: Final = ("Catch", "Retry")

# Every field each state type accepts, whatever its query language.
STATE_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "Pass": (*_COMMON, *_TRANSITION, *_IO, "Parameters", "ResultPath", "Result", "Output", "Assign"),
    "Task": (
        *_COMMON,
        *_TRANSITION,
        *_IO,
        "Resource",
        *_RESULT,
        "TimeoutSeconds",
        "TimeoutSecondsPath",
        "HeartbeatSeconds",
        "HeartbeatSecondsPath",
        "Credentials",
        *_ERROR_HANDLING,
    ),
    "Choice": (*_COMMON, *_IO, "Choices", "Default", "Output", "Assign"),
    "Wait": (
        *_COMMON,
        *_TRANSITION,
        *_IO,
        "Seconds",
        "Timestamp",
        "SecondsPath",
        "TimestampPath",
        "Output",
        "Assign",
    ),
    "Succeed": (*_COMMON, *_IO, "Output"),
    "Fail": (*_COMMON, "Error", "ErrorPath", "Cause", "CausePath"),
    "Parallel": (*_COMMON, *_TRANSITION, *_IO, "Branches", *_RESULT, *_ERROR_HANDLING),
    "Map": (
        *_COMMON,
        *_TRANSITION,
        *_IO,
        "ItemProcessor",
        "Iterator",
        "ItemsPath",
        "Items",
        "ItemSelector",
        "ItemReader",
        "ItemBatcher",
        "ResultWriter",
        "MaxConcurrency",
        "MaxConcurrencyPath",
        "ToleratedFailurePercentage",
        "ToleratedFailurePercentagePath",
        "ToleratedFailureCount",
        "ToleratedFailureCountPath",
        "Label",
        "Parameters",
        "ResultPath",
        "ResultSelector",
        "Output",
        "Assign",
        *_ERROR_HANDLING,
    ),
}

# One order for all fields, so problems about several fields come out in a stable order.
_FIELD_ORDER: Final[Mapping[str, int]] = {
    field: index
    for index, field in enumerate(dict.fromkeys(f for fields in STATE_FIELDS.values() for f in fields))
}

# Fields a state may carry only under one query language (Assign is allowed under both).
JSONPATH_ONLY_FIELDS: Final = (
    "InputPath",
    "OutputPath",
    "ResultPath",
    "Parameters",
    "ResultSelector",
    "Result",
    "ItemsPath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "SecondsPath",
    "TimestampPath",
    "MaxConcurrencyPath",
    "ToleratedFailurePercentagePath",
    "ToleratedFailureCountPath",
    "ErrorPath",
    "CausePath",
)
JSONATA_ONLY_FIELDS: Final = ("Output", "Arguments", "Items")
ONLY_IN: Final[Mapping[str, tuple[str, ...]]] = {JSONPATH: JSONPATH_ONLY_FIELDS, JSONATA: JSONATA_ONLY_FIELDS}

RETRIER_FIELDS: Final = (
    "ErrorEquals",
    "IntervalSeconds",
    "MaxAttempts",
    "BackoffRate",
    "MaxDelaySeconds",
    "JitterStrategy",
    "Comment",
)
CATCHER_FIELDS: Final = ("ErrorEquals", "Next", "ResultPath", "Output", "Assign", "Comment")
JITTER_STRATEGIES: Final = ("FULL", "NONE")
PROCESSOR_CONFIG_FIELDS: Final = ("Mode", "ExecutionType")
PROCESSOR_MODES: Final = ("INLINE", "DISTRIBUTED")
EXECUTION_TYPES: Final = (STANDARD, EXPRESS)
ITEM_READER_FIELDS: Final = ("Resource", "ReaderConfig", "Parameters", "Arguments")
READER_CONFIG_FIELDS: Final = (
    "InputType",
    "CSVHeaderLocation",
    "CSVHeaders",
    "CSVDelimiter",
    "MaxItems",
    "MaxItemsPath",
    "ManifestType",
)
READER_INPUT_TYPES: Final = ("CSV", "JSON", "JSONL", "MANIFEST", "PARQUET")
ITEM_BATCHER_FIELDS: Final = (
    "MaxItemsPerBatch",
    "MaxItemsPerBatchPath",
    "MaxInputBytesPerBatch",
    "MaxInputBytesPerBatchPath",
    "BatchInput",
)
RESULT_WRITER_FIELDS: Final = ("Resource", "Parameters", "Arguments", "WriterConfig")
WRITER_TRANSFORMATIONS: Final = ("NONE", "COMPACT", "FLATTEN")
WRITER_OUTPUT_TYPES: Final = ("JSON", "JSONL")
CREDENTIALS_ROLE_FIELDS: Final = ("RoleArn", "RoleArn.$")

# Characters a Map Label may not hold: whitespace, brackets, wildcards, specials and control characters.
LABEL_INVALID_CHARACTERS: Final = frozenset(
    ' \t\n\r<>{}[]?*"#%\\^|~`$&,;:/'
    + "".join(chr(c) for c in range(0x00, 0x20))
    + "".join(chr(c) for c in range(0x7F, 0xA0))
)

_INTRINSIC_CALL: Final = re.compile(r"^States\.[A-Za-z0-9]+\(.*\)$", re.DOTALL)


# ---------------------------------------------------------------------------------------------------
# Messages.
# ---------------------------------------------------------------------------------------------------


def _required(fields: Iterable[str]) -> str:
    return f"These fields are required: [{', '.join(fields)}]"


def _unsupported(field: str) -> str:
    return f"Field '{field}' is not supported"


def _expected_type(kind: str) -> str:
    return f"Expected value of type [{kind}]"


def _one_of(values: Iterable[str]) -> str:
    return f"Value should be one of the following: [{', '.join(values)}]"


def _only_one(fields: Iterable[str]) -> str:
    return f"Only one of these fields can be defined: [{', '.join(fields)}]"


def _at_least_one(fields: Iterable[str]) -> str:
    return f"At least one of these fields must be defined: [{', '.join(fields)}]"


def _exactly_one(fields: Iterable[str]) -> str:
    return f"Exactly one of these fields must be defined: [{', '.join(fields)}]"


def _wrong_language(language: str, field: str) -> str:
    other = JSONATA if language == JSONPATH else JSONPATH
    return (
        f"The QueryLanguage is set to '{language}', but field '{field}' is only supported "
        f"for the '{other}' QueryLanguage"
    )


TYPE_VALUES_MESSAGE: Final = f"The field 'Type' should have one of these values: [{', '.join(STATE_TYPES)}]"
EMPTY_MESSAGE: Final = "Value cannot be empty"
NOT_AN_OBJECT_MESSAGE: Final = "Definition must be a valid JSON object"
DOWNGRADE_MESSAGE: Final = "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine"
ROLE_ARN_MISSING_MESSAGE: Final = "The field 'RoleArn' is required but was missing"
EXPRESS_ACTIVITY_MESSAGE: Final = "Express state machine does not support Activity ARN"
EXPRESS_SYNC_MESSAGE: Final = "Express state machine does not support '.sync' service integration"
# AWS's own text ends with a space here.
EXPRESS_CALLBACK_MESSAGE: Final = (
    "Express state machine does not support '.waitForTaskToken' service integration "
)
NO_TERMINAL_STATE_MESSAGE: Final = "Workflow has no terminal state"
STATES_ALL_ALONE_MESSAGE: Final = "Error name 'States.ALL' must appear alone in 'ErrorEquals'"
STATES_ALL_LAST_MESSAGE: Final = "The rule with 'States.ALL' in 'ErrorEquals' must be the last one"
HEARTBEAT_MESSAGE: Final = "The field 'HeartbeatSeconds' must be smaller than the field 'TimeoutSeconds'"
LABEL_EMPTY_MESSAGE: Final = "Label cannot be empty"
ITEM_BATCHER_MODE_MESSAGE: Final = "Field 'ItemBatcher' is only supported in a Map whose ProcessorConfig Mode is DISTRIBUTED"


def _missing_target(target: str) -> str:
    # AWS says 'Next' for every kind of transition: Next, Default, Choices[i].Next, Catch[i].Next, StartAt.
    return f"Missing 'Next' target: {target}"


def _unreachable(name: str) -> str:
    return f'State "{name}" is not reachable.'


# ---------------------------------------------------------------------------------------------------
# Public API.
# ---------------------------------------------------------------------------------------------------


def validate_definition(definition: Any, *, state_machine_type: str = STANDARD) -> list[Problem]:
    """Every problem in a whole definition (a parsed dict), in AWS's words; empty when it is valid."""
    not_json = _not_json_problem(definition)
    if not_json is not None:
        return [not_json]  # a definition from Python (a set, NaN, a cycle) that no JSON text could hold
    validator = _Validator(state_machine_type)
    validator.machine(definition)
    if validator.problems:
        return validator.problems
    return _graph_problems(definition) + _jsonata_problems(definition, JSONPATH, "")


# As deep as a JSON definition may nest (Jackson's limit, which AWS parses with).
_MAX_DEPTH: Final = 1000
_JSON_SCALARS: Final = (str, bool, int, type(None))


def _not_json_problem(definition: Any) -> Problem | None:
    """The first value in a definition given as Python objects that is not a JSON value, or None."""
    open_containers: set[int] = set()
    stack: list[tuple[Any, str, int]] = [(definition, "", 0)]
    while stack:
        value, location, depth = stack.pop()
        if depth < 0:  # leaving the container at `location`
            open_containers.discard(id(value))
            continue
        if isinstance(value, _JSON_SCALARS) or (isinstance(value, float) and math.isfinite(value)):
            continue
        if isinstance(value, float):
            return Problem(INVALID_JSON_DESCRIPTION, f"{value} is not a JSON number", location or "/")
        if not isinstance(value, dict | list | tuple):
            return Problem(INVALID_JSON_DESCRIPTION, f"A value of type {type(value).__name__} is not JSON",
                           location or "/")
        if id(value) in open_containers:
            return Problem(INVALID_JSON_DESCRIPTION, "A value contains itself", location or "/")
        if depth >= _MAX_DEPTH:
            return Problem(INVALID_JSON_DESCRIPTION,
                           f"Document nesting depth exceeds the maximum allowed ({_MAX_DEPTH})", location or "/")
        open_containers.add(id(value))
        stack.append((value, location, -1))
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    return Problem(INVALID_JSON_DESCRIPTION, f"The key {key!r} is not a string", location or "/")
                stack.append((item, f"{location}/{key}", depth + 1))
        else:
            stack.extend((item, f"{location}[{index}]", depth + 1) for index, item in enumerate(value))
    return None


# Fields holding nested programs, which are walked as programs of their own.
_NESTED_PROGRAM_FIELDS = ("Branches", "ItemProcessor", "Iterator")


def _jsonata_problems(program: Mapping[str, Any], inherited: str, path: str) -> list[Problem]:
    """A `{% … %}` expression that does not compile is a definition error, found before any run."""
    from stateway.asl import jsonata

    problems: list[Problem] = []
    language = program.get("QueryLanguage", inherited)
    for name, state in (program.get("States") or {}).items():
        if not isinstance(state, Mapping):
            continue
        location = f"{path}/States/{name}"
        state_language = state.get("QueryLanguage", language)
        for key, value in state.items():
            if key in _NESTED_PROGRAM_FIELDS:
                nested = value if isinstance(value, list) else [value]
                for index, sub in enumerate(nested):
                    if isinstance(sub, Mapping):
                        where = f"{location}/{key}[{index}]" if isinstance(value, list) else f"{location}/{key}"
                        problems += _jsonata_problems(sub, language, where)
            elif state_language == JSONATA:
                problems += _expression_problems(value, f"{location}/{key}", jsonata)
    return problems


def _expression_problems(value: Any, location: str, jsonata: Any) -> list[Problem]:
    if isinstance(value, str):
        if not jsonata.is_expression(value):
            return []
        try:
            jsonata.compile_expression(value)
        except jsonata.JsonataSyntaxError as error:
            return [error.problem(location)]
        return []
    if isinstance(value, Mapping):
        return [p for k, v in value.items() for p in _expression_problems(v, f"{location}/{k}", jsonata)]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _expression_problems(v, f"{location}[{i}]", jsonata)]
    return []


def check_definition(definition: Any, *, state_machine_type: str = STANDARD) -> None:
    """Raise DefinitionError listing every problem when the definition is not valid."""
    problems = validate_definition(definition, state_machine_type=state_machine_type)
    if problems:
        raise DefinitionError(problems)


def validate_state(
    state: Any,
    *,
    state_name: str = "StateName",
    query_language: str = JSONPATH,
    state_machine_type: str = STANDARD,
) -> list[Problem]:
    """Schema problems of one state on its own, as the TestState API checks it (no graph checks).

    Locations read `/States/<state_name>/...`, as AWS reports them for TestState.
    """
    validator = _Validator(state_machine_type)
    validator.top_language = query_language
    validator.state(state_name, state, f"/States/{state_name}")
    return validator.problems


def diagnostics(problems: Iterable[Problem]) -> list[dict[str, str]]:
    """The problems as ValidateStateMachineDefinition's `diagnostics` (severity, code, message, location)."""
    result: list[dict[str, str]] = []
    for problem in problems:
        message = problem.message
        if problem.code == INVALID_JSON_DESCRIPTION and problem.location.startswith("[Source:"):
            # Jackson's own message carries its location on a second line; AWS passes it through.
            message = f"{message}\n at {problem.location}"
        entry = {"severity": "ERROR", "code": problem.code, "message": message}
        if problem.location not in ("", NO_LOCATION):
            entry["location"] = problem.location
        result.append(entry)
    return result


# ---------------------------------------------------------------------------------------------------
# Paths: the paths module owns the syntax; until it is importable, accept anything that starts with "$".
# ---------------------------------------------------------------------------------------------------


def _fallback_is_path(text: str) -> bool:
    return text.startswith("$")


def _path_checkers() -> tuple[Callable[[str], bool], Callable[[str], bool]]:
    try:
        from stateway.asl import paths
    except ImportError:
        return _fallback_is_path, _fallback_is_path
    is_valid_path = getattr(paths, "is_valid_path", _fallback_is_path)
    is_reference_path = getattr(paths, "is_reference_path", is_valid_path)
    return is_valid_path, is_reference_path


def _result_path(text: str) -> bool:
    from stateway.asl import paths

    return paths.is_reference_path(text, allow_context=False, allow_variables=False)


def _accepts(check: Callable[[str], bool], text: str) -> bool:
    try:
        return bool(check(text))
    except Exception:  # noqa: BLE001 - a checker bug must not reject a definition AWS would accept
        return True


def _is_intrinsic_call(text: str) -> bool:
    """A well-formed intrinsic function call: balanced, a known function, the right number of arguments."""
    if not _is_call_shaped(text):
        return False
    from stateway.asl import intrinsics  # the evaluator's own parser decides, as AWS's does at creation

    try:
        intrinsics.compile_intrinsic(text)
    except intrinsics.IntrinsicSyntaxError:
        return False
    except Exception:  # noqa: BLE001 - an unknown escape fails when the state runs, not at creation
        return True
    return True


def _is_call_shaped(text: str) -> bool:
    if not _INTRINSIC_CALL.match(text):
        return False
    depth = 0
    quoted = False
    escaped = False
    for c in text:
        if quoted:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == "'":
                quoted = False
        elif c == "'":
            quoted = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0 and not quoted


def _is_jsonata(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("{%") and value.endswith("%}")


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _at(location: str, field: str) -> str:
    return f"/{field}" if location in ("", "/") else f"{location}/{field}"


# ---------------------------------------------------------------------------------------------------
# Schema stage.
# ---------------------------------------------------------------------------------------------------


class _Validator:
    """Walks a definition once, collecting schema problems in document order."""

    def __init__(self, state_machine_type: str) -> None:
        self.state_machine_type = state_machine_type
        self.problems: list[Problem] = []
        self.top_language = JSONPATH
        self.is_valid_path, self.is_reference_path = _path_checkers()

    def fail(self, message: str, location: str, code: str = SCHEMA_VALIDATION_FAILED) -> None:
        self.problems.append(Problem(code, message, location or "/"))

    # -- value kinds -----------------------------------------------------------------------------

    def string(self, value: Any, location: str) -> bool:
        if isinstance(value, str):
            return True
        self.fail(_expected_type("STRING"), location)
        return False

    def boolean(self, value: Any, location: str) -> bool:
        if isinstance(value, bool):
            return True
        self.fail(_expected_type("BOOLEAN"), location)
        return False

    def object(self, value: Any, location: str) -> bool:
        if isinstance(value, dict):
            return True
        self.fail(_expected_type("OBJECT"), location)
        return False

    def array(self, value: Any, location: str, *, non_empty: bool = False) -> bool:
        if not isinstance(value, list):
            self.fail(_expected_type("ARRAY"), location)
            return False
        if non_empty and not value:
            self.fail(EMPTY_MESSAGE, location)
            return False
        return True

    def integer(
        self, value: Any, location: str, *, minimum: int | None = None, maximum: int | None = None
    ) -> bool:
        if not _is_integer(value):
            self.fail(_expected_type("INTEGER"), location)
            return False
        return self.in_range(value, location, minimum, maximum)

    def number(
        self, value: Any, location: str, *, minimum: float | None = None, maximum: float | None = None
    ) -> bool:
        if not _is_number(value):
            self.fail(_expected_type("NUMBER"), location)
            return False
        return self.in_range(value, location, minimum, maximum)

    def in_range(self, value: float, location: str, minimum: float | None, maximum: float | None) -> bool:
        if minimum is not None and value < minimum:
            self.fail(f"Minimum value is {minimum}", location)
            return False
        if maximum is not None and value > maximum:
            self.fail(f"Maximum value is {maximum}", location)
            return False
        return True

    def enum(self, value: Any, location: str, values: tuple[str, ...]) -> bool:
        if not self.string(value, location):
            return False
        if value not in values:
            self.fail(_one_of(values), location)
            return False
        return True

    def path(self, value: Any, location: str, field: str, *, reference: bool = False) -> None:
        """A Path (or, with `reference`, a Reference Path) field; null is left to the caller. ResultPath
        places the result in the state's data: it may not start at the context object or a variable."""
        if not self.string(value, location):
            return
        check = self.is_reference_path if reference else self.is_valid_path
        if field == "ResultPath":
            check = _result_path
        if not _accepts(check, value):
            kind = "ReferencePath" if reference else "JSONPath"
            self.fail(f"The value for the field '{field}' must be a valid {kind}", location)

    def unsupported_fields(self, raw: Mapping[str, Any], allowed: Iterable[str], location: str) -> None:
        allowed_set = set(allowed)
        unsupported = [field for field in raw if field not in allowed_set]
        # AWS reports them in its schema's field order, not the order they were written in.
        for field in sorted(unsupported, key=lambda f: _FIELD_ORDER.get(f, len(_FIELD_ORDER))):
            self.fail(_unsupported(str(field)), location)

    def required_fields(self, raw: Mapping[str, Any], required: Iterable[str], location: str) -> None:
        missing = [field for field in required if field not in raw]
        if missing:
            self.fail(_required(missing), location)

    def at_most_one(self, raw: Mapping[str, Any], fields: tuple[str, ...], location: str) -> bool:
        present = [field for field in fields if field in raw]
        if len(present) > 1:
            self.fail(_only_one(fields), _at(location, present[0]))
            return False
        return True

    def template(self, value: Any, location: str, language: str) -> None:
        """A payload template (Parameters, ResultSelector, ItemSelector, Assign…): check its `.$` fields."""
        if language != JSONPATH:
            return
        if isinstance(value, dict):
            for key, item in value.items():
                key_location = _at(location, str(key))
                if isinstance(key, str) and key.endswith(".$"):
                    if not isinstance(item, str) or not (
                        _accepts(self.is_valid_path, item) or _is_intrinsic_call(item)
                    ):
                        self.fail(
                            f"The value for the field '{key}' must be a valid JSONPath or a valid "
                            "intrinsic function call",
                            key_location,
                        )
                else:
                    self.template(item, key_location, language)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.template(item, f"{location}[{index}]", language)

    # -- the machine and its containers ------------------------------------------------------------

    def machine(self, definition: Any) -> None:
        if not isinstance(definition, dict):
            self.fail(NOT_AN_OBJECT_MESSAGE, NO_LOCATION)
            return
        self.required_fields(definition, TOP_LEVEL_REQUIRED, "/")
        self.unsupported_fields(definition, TOP_LEVEL_FIELDS, "/")
        if "QueryLanguage" in definition:
            raw = definition["QueryLanguage"]
            self.top_language = JSONPATH if raw == JSONPATH else JSONATA
            self.query_language_value(raw, "/QueryLanguage")
        if "Comment" in definition:
            self.string(definition["Comment"], "/Comment")
        if "Version" in definition:
            self.string(definition["Version"], "/Version")
        if "TimeoutSeconds" in definition:
            self.integer(definition["TimeoutSeconds"], "/TimeoutSeconds", minimum=0)
        if "StartAt" in definition:
            self.string(definition["StartAt"], "/StartAt")
        if "States" in definition:
            self.states(definition["States"], "")

    def query_language_value(self, raw: Any, location: str) -> None:
        if not isinstance(raw, str):
            self.fail(_expected_type("STRING"), location)
        elif raw not in QUERY_LANGUAGES:
            self.fail(_one_of(QUERY_LANGUAGES), location)

    def container(self, raw: Any, location: str, allowed: tuple[str, ...]) -> None:
        """A Parallel branch or a Map's ItemProcessor/Iterator: a StartAt and States of its own."""
        if not self.object(raw, location):
            return
        self.required_fields(raw, CONTAINER_REQUIRED, location)
        # Only the whole machine chooses a query language; a branch or processor is not a state.
        self.unsupported_fields(raw, allowed, location)
        if "Comment" in raw:
            self.string(raw["Comment"], _at(location, "Comment"))
        if "StartAt" in raw:
            self.string(raw["StartAt"], _at(location, "StartAt"))
        if "ProcessorConfig" in raw and "ProcessorConfig" in allowed:
            self.processor_config(raw["ProcessorConfig"], _at(location, "ProcessorConfig"))
        if "States" in raw:
            self.states(raw["States"], location)

    def states(self, raw: Any, container: str) -> None:
        location = _at(container, "States")
        if not self.object(raw, location):
            return
        for name, state in raw.items():
            state_location = _at(location, str(name))
            if len(str(name)) > MAX_STATE_NAME_LENGTH:
                self.fail(
                    f"State name cannot be longer than {MAX_STATE_NAME_LENGTH} characters",
                    state_location,
                    INVALID_STATE_NAME,
                )
            self.state(str(name), state, state_location)

    # -- one state -----------------------------------------------------------------------------------

    def state(self, name: str, raw: Any, location: str) -> None:
        if not self.object(raw, location):
            return
        if "Type" not in raw:
            self.fail(_required(["Type"]), location)
            return
        state_type = raw["Type"]
        if not isinstance(state_type, str) or state_type not in STATE_FIELDS:
            self.fail(TYPE_VALUES_MESSAGE, _at(location, "Type"))
            return
        allowed = STATE_FIELDS[state_type]
        self.unsupported_fields(raw, allowed, location)
        language = self.state_language(raw, location, allowed)
        self.required_fields(raw, _REQUIRED_BY_TYPE.get(state_type, ()), location)
        if "Comment" in raw:
            self.string(raw["Comment"], _at(location, "Comment"))
        self.transition(raw, state_type, location)
        checks = _FIELD_CHECKS
        for field in raw:
            if field in allowed and field not in ONLY_IN[_other(language)]:
                check = checks.get(field)
                if check is not None:
                    check(self, raw, location, language)
        type_check = _TYPE_CHECKS.get(state_type)
        if type_check is not None:
            type_check(self, raw, location, language)

    def state_language(self, raw: Mapping[str, Any], location: str, allowed: tuple[str, ...]) -> str:
        """The state's effective query language; reports mixing and the wrong language's fields."""
        # A state without QueryLanguage takes the machine's, not its parent state's; only the exact
        # string "JSONPath" means JSONPath, anything else that is present means JSONata.
        if "QueryLanguage" not in raw:
            language = self.top_language
        else:
            language = JSONPATH if raw["QueryLanguage"] == JSONPATH else JSONATA
        if self.top_language == JSONATA and raw.get("QueryLanguage") == JSONPATH:
            # The downgrade is the whole answer for this state: its fields are not checked against it.
            self.fail(DOWNGRADE_MESSAGE, location)
        else:
            for field in ONLY_IN[_other(language)]:
                if field in raw and field in allowed:
                    self.fail(_wrong_language(language, field), location)
        if "QueryLanguage" in raw:
            self.query_language_value(raw["QueryLanguage"], _at(location, "QueryLanguage"))
        return language

    def transition(self, raw: Mapping[str, Any], state_type: str, location: str) -> None:
        if "End" in raw and "End" in STATE_FIELDS[state_type]:
            self.boolean(raw["End"], _at(location, "End"))
        if "Next" in raw and "Next" in STATE_FIELDS[state_type]:
            self.string(raw["Next"], _at(location, "Next"))
        if state_type not in _NEEDS_TRANSITION:
            return
        ends = raw.get("End") is True
        if ends == ("Next" in raw):
            self.fail(_exactly_one(_TRANSITION), location)

    # -- error handling ------------------------------------------------------------------------------

    def error_equals(self, raw: Mapping[str, Any], location: str) -> bool:
        """Check ErrorEquals; return whether it names States.ALL."""
        if "ErrorEquals" not in raw:
            return False
        value = raw["ErrorEquals"]
        field_location = _at(location, "ErrorEquals")
        if not self.array(value, field_location, non_empty=True):
            return False
        for index, name in enumerate(value):
            item_location = f"{field_location}[{index}]"
            if self.string(name, item_location) and not name:
                self.fail(EMPTY_MESSAGE, item_location)
        if STATES_ALL in value and len(value) > 1:
            self.fail(STATES_ALL_ALONE_MESSAGE, field_location)
        return STATES_ALL in value

    def rules(
        self,
        raw: Any,
        location: str,
        language: str,
        allowed: tuple[str, ...],
        required: tuple[str, ...],
        check: Callable[[Mapping[str, Any], str, str], None],
    ) -> None:
        if not self.array(raw, location):
            return
        for index, rule in enumerate(raw):
            rule_location = f"{location}[{index}]"
            if not self.object(rule, rule_location):
                continue
            self.unsupported_fields(rule, allowed, rule_location)
            for field in ONLY_IN[_other(language)]:
                if field in rule and field in allowed:
                    self.fail(_wrong_language(language, field), rule_location)
            self.required_fields(rule, required, rule_location)
            if self.error_equals(rule, rule_location) and index != len(raw) - 1:
                self.fail(STATES_ALL_LAST_MESSAGE, rule_location)
            if "Comment" in rule:
                self.string(rule["Comment"], _at(rule_location, "Comment"))
            check(rule, rule_location, language)

    def retrier(self, rule: Mapping[str, Any], location: str, language: str) -> None:
        if "IntervalSeconds" in rule:
            self.integer(
                rule["IntervalSeconds"], _at(location, "IntervalSeconds"), minimum=1, maximum=99999999
            )
        if "MaxAttempts" in rule:
            self.integer(rule["MaxAttempts"], _at(location, "MaxAttempts"), minimum=0, maximum=99999999)
        if "BackoffRate" in rule:
            self.number(rule["BackoffRate"], _at(location, "BackoffRate"), minimum=1.0)
        if "MaxDelaySeconds" in rule:
            self.integer(
                rule["MaxDelaySeconds"], _at(location, "MaxDelaySeconds"), minimum=1, maximum=31622400
            )
        if "JitterStrategy" in rule:
            self.enum(rule["JitterStrategy"], _at(location, "JitterStrategy"), JITTER_STRATEGIES)

    def catcher(self, rule: Mapping[str, Any], location: str, language: str) -> None:
        if "Next" in rule:
            self.string(rule["Next"], _at(location, "Next"))
        if "ResultPath" in rule and language == JSONPATH and rule["ResultPath"] is not None:
            self.path(rule["ResultPath"], _at(location, "ResultPath"), "ResultPath", reference=True)
        if "Assign" in rule:
            self.assign(rule["Assign"], _at(location, "Assign"), language)

    def assign(self, value: Any, location: str, language: str) -> None:
        if self.object(value, location):
            self.template(value, location, language)

    # -- Map's parts ---------------------------------------------------------------------------------

    def processor_config(self, raw: Any, location: str) -> None:
        if not self.object(raw, location):
            return
        self.unsupported_fields(raw, PROCESSOR_CONFIG_FIELDS, location)
        if "Mode" in raw:
            self.enum(raw["Mode"], _at(location, "Mode"), PROCESSOR_MODES)
        if "ExecutionType" in raw:
            self.enum(raw["ExecutionType"], _at(location, "ExecutionType"), EXECUTION_TYPES)

    def item_reader(self, raw: Any, location: str, language: str) -> None:
        if not self.object(raw, location):
            return
        self.unsupported_fields(raw, ITEM_READER_FIELDS, location)
        self.language_fields(raw, location, language)
        self.required_fields(raw, ("Resource",), location)
        if "Resource" in raw:
            self.string(raw["Resource"], _at(location, "Resource"))
        if (
            "Parameters" in raw
            and language == JSONPATH
            and self.object(raw["Parameters"], _at(location, "Parameters"))
        ):
            self.template(raw["Parameters"], _at(location, "Parameters"), language)
        config = raw.get("ReaderConfig")
        config_location = _at(location, "ReaderConfig")
        if "ReaderConfig" not in raw or not self.object(config, config_location):
            return
        self.unsupported_fields(config, READER_CONFIG_FIELDS, config_location)
        if "InputType" in config:
            self.enum(config["InputType"], _at(config_location, "InputType"), READER_INPUT_TYPES)
        self.at_most_one(config, ("MaxItems", "MaxItemsPath"), config_location)
        if "MaxItems" in config and not (language == JSONATA and _is_jsonata(config["MaxItems"])):
            self.integer(config["MaxItems"], _at(config_location, "MaxItems"), minimum=0)
        if "MaxItemsPath" in config:
            self.path(
                config["MaxItemsPath"], _at(config_location, "MaxItemsPath"), "MaxItemsPath", reference=True
            )
        if "CSVHeaders" in config:
            self.array(config["CSVHeaders"], _at(config_location, "CSVHeaders"))

    def item_batcher(self, raw: Any, location: str, language: str, mode: Any) -> None:
        if not self.object(raw, location):
            return
        if mode != "DISTRIBUTED":  # an inline Map has no child executions to give batches to
            self.fail(ITEM_BATCHER_MODE_MESSAGE, location)
        self.unsupported_fields(raw, ITEM_BATCHER_FIELDS, location)
        limits = ITEM_BATCHER_FIELDS[:4]
        if not any(field in raw for field in limits):
            self.fail(_at_least_one(limits), location)
        for field, maximum in (("MaxItemsPerBatch", None), ("MaxInputBytesPerBatch", MAX_BATCH_BYTES)):
            path_field = f"{field}Path"
            self.at_most_one(raw, (field, path_field), location)
            if field in raw and not (language == JSONATA and _is_jsonata(raw[field])):
                self.integer(raw[field], _at(location, field), minimum=1, maximum=maximum)
            if path_field in raw:
                if language == JSONATA:
                    self.fail(_wrong_language(language, path_field), location)
                else:
                    self.path(raw[path_field], _at(location, path_field), path_field, reference=True)
        batch_input = raw.get("BatchInput")
        if "BatchInput" in raw and not (language == JSONATA and _is_jsonata(batch_input)) and self.object(
                batch_input, _at(location, "BatchInput")):
            self.template(batch_input, _at(location, "BatchInput"), language)

    def result_writer(self, raw: Any, location: str, language: str) -> None:
        if not self.object(raw, location):
            return
        self.unsupported_fields(raw, RESULT_WRITER_FIELDS, location)
        if not raw:
            self.fail(EMPTY_MESSAGE, location)
            return
        for field in ONLY_IN[_other(language)]:
            if field in raw:
                self.fail(_wrong_language(language, field), _at(location, field))
        arguments = "Parameters" if language == JSONPATH else "Arguments"
        if "Resource" in raw:
            self.string(raw["Resource"], _at(location, "Resource"))
            self.required_fields(raw, (arguments,), location)
        if (
            arguments in raw
            and language == JSONPATH
            and self.object(raw[arguments], _at(location, arguments))
        ):
            self.template(raw[arguments], _at(location, arguments), language)
        config = raw.get("WriterConfig")
        config_location = _at(location, "WriterConfig")
        if "WriterConfig" not in raw or not self.object(config, config_location):
            return
        self.unsupported_fields(config, ("Transformation", "OutputType"), config_location)
        self.required_fields(config, ("Transformation", "OutputType"), config_location)
        if "Transformation" in config:
            self.enum(
                config["Transformation"], _at(config_location, "Transformation"), WRITER_TRANSFORMATIONS
            )
        if "OutputType" in config:
            self.enum(config["OutputType"], _at(config_location, "OutputType"), WRITER_OUTPUT_TYPES)

    def language_fields(self, raw: Mapping[str, Any], location: str, language: str) -> None:
        """Fields of a sub-object (ItemReader, ResultWriter) that belong to the other language."""
        for field in ("Parameters",) if language == JSONATA else ("Arguments",):
            if field in raw:
                self.fail(_wrong_language(language, field), _at(location, field))

    def label(self, value: Any, location: str) -> None:
        if not self.string(value, location):
            return
        if not value:
            self.fail(LABEL_EMPTY_MESSAGE, location, INVALID_LABEL_NAME)
            return
        if len(value) > MAX_LABEL_LENGTH:
            self.fail(
                f"Label cannot be longer than {MAX_LABEL_LENGTH} characters", location, INVALID_LABEL_NAME
            )
        for character in value:
            if character in LABEL_INVALID_CHARACTERS:
                # repr() gives the character as AWS quotes it: ',' or '\x00'.
                self.fail(f"Label contains invalid character: {character!r}", location, INVALID_LABEL_NAME)
                return


def _other(language: str) -> str:
    return JSONATA if language == JSONPATH else JSONPATH


_NEEDS_TRANSITION: Final = frozenset({"Task", "Pass", "Wait", "Parallel", "Map"})
_REQUIRED_BY_TYPE: Final[Mapping[str, tuple[str, ...]]] = {
    "Task": ("Resource",),
    "Choice": ("Choices",),
    "Parallel": ("Branches",),
}

# ---------------------------------------------------------------------------------------------------
# Per-field checks shared by several state types: (validator, state, state location, language).
# ---------------------------------------------------------------------------------------------------

_Check = Callable[[_Validator, Mapping[str, Any], str, str], None]


def _check_io_path(field: str) -> _Check:
    def check(v: _Validator, raw: Mapping[str, Any], location: str, language: str) -> None:
        if raw[field] is not None:
            v.path(raw[field], _at(location, field), field)

    return check


def _check_result_path(v: _Validator, raw: Mapping[str, Any], location: str, language: str) -> None:
    if raw["ResultPath"] is not None:
        v.path(raw["ResultPath"], _at(location, "ResultPath"), "ResultPath", reference=True)


def _check_template(field: str) -> _Check:
    def check(v: _Validator, raw: Mapping[str, Any], location: str, language: str) -> None:
        if v.object(raw[field], _at(location, field)):
            v.template(raw[field], _at(location, field), language)

    return check


def _check_assign(v: _Validator, raw: Mapping[str, Any], location: str, language: str) -> None:
    v.assign(raw["Assign"], _at(location, "Assign"), language)


def _check_arguments(v: _Validator, raw: Mapping[str, Any], location: str, language: str) -> None:
    value = raw["Arguments"]
    if not (isinstance(value, dict) or _is_jsonata(value)):
        v.fail(_expected_type("OBJECT"), _at(location, "Arguments"))


def _check_reference_path(field: str) -> _Check:
    def check(v: _Validator, raw: Mapping[str, Any], location: str, language: str) -> None:
        v.path(raw[field], _at(location, field), field, reference=True)

    return check


def _check_path_or_intrinsic(field: str) -> _Check:
    """ErrorPath and CausePath take a reference path or an intrinsic call such as States.Format."""

    def check(v: _Validator, raw: Mapping[str, Any], location: str, language: str) -> None:
        if not _is_intrinsic_call(raw[field]):
            v.path(raw[field], _at(location, field), field, reference=True)

    return check


def _check_retry(v: _Validator, raw: Mapping[str, Any], location: str, language: str) -> None:
    v.rules(raw["Retry"], _at(location, "Retry"), language, RETRIER_FIELDS, ("ErrorEquals",), v.retrier)


def _check_catch(v: _Validator, raw: Mapping[str, Any], location: str, language: str) -> None:
    v.rules(
        raw["Catch"], _at(location, "Catch"), language, CATCHER_FIELDS, ("ErrorEquals", "Next"), v.catcher
    )


_FIELD_CHECKS: Final[Mapping[str, _Check]] = {
    "InputPath": _check_io_path("InputPath"),
    "OutputPath": _check_io_path("OutputPath"),
    "ResultPath": _check_result_path,
    "Parameters": _check_template("Parameters"),
    "ResultSelector": _check_template("ResultSelector"),
    "ItemSelector": _check_template("ItemSelector"),
    "Arguments": _check_arguments,
    "Assign": _check_assign,
    "Retry": _check_retry,
    "Catch": _check_catch,
    "ItemsPath": _check_reference_path("ItemsPath"),
    "SecondsPath": _check_reference_path("SecondsPath"),
    "TimestampPath": _check_reference_path("TimestampPath"),
    "TimeoutSecondsPath": _check_reference_path("TimeoutSecondsPath"),
    "HeartbeatSecondsPath": _check_reference_path("HeartbeatSecondsPath"),
    "MaxConcurrencyPath": _check_reference_path("MaxConcurrencyPath"),
    "ToleratedFailurePercentagePath": _check_reference_path("ToleratedFailurePercentagePath"),
    "ToleratedFailureCountPath": _check_reference_path("ToleratedFailureCountPath"),
    "ErrorPath": _check_path_or_intrinsic("ErrorPath"),
    "CausePath": _check_path_or_intrinsic("CausePath"),
}

# ---------------------------------------------------------------------------------------------------
# Per-type checks.
# ---------------------------------------------------------------------------------------------------


def _check_task(v: _Validator, raw: Mapping[str, Any], location: str, language: str) -> None:
    resource = raw.get("Resource")
    if "Resource" in raw and v.string(resource, _at(location, "Resource")) and isinstance(resource, str):
        _check_express_resource(v, resource, _at(location, "Resource"))
    timeout = _seconds(v, raw, location, language, "TimeoutSeconds")
    heartbeat = _seconds(v, raw, location, language, "HeartbeatSeconds")
    if timeout is not None and heartbeat is not None and heartbeat >= timeout:
        v.fail(HEARTBEAT_MESSAGE, _at(location, "HeartbeatSeconds"))
    if "Credentials" in raw:
        credentials_location = _at(location, "Credentials")
        credentials = raw["Credentials"]
        if v.object(credentials, credentials_location) and not any(
            field in credentials for field in CREDENTIALS_ROLE_FIELDS
        ):
            v.fail(ROLE_ARN_MISSING_MESSAGE, credentials_location)


def _seconds(v: _Validator, raw: Mapping[str, Any], location: str, language: str, field: str) -> int | None:
    """TimeoutSeconds or HeartbeatSeconds: a positive integer, exclusive with its Path form."""
    v.at_most_one(raw, (field, f"{field}Path"), location)
    if field not in raw:
        return None
    value = raw[field]
    if language == JSONATA and _is_jsonata(value):
        return None
    if v.integer(value, _at(location, field), minimum=1, maximum=99999999):
        return int(value)
    return None


def _check_express_resource(v: _Validator, resource: str, location: str) -> None:
    if v.state_machine_type != EXPRESS:
        return
    if resource.startswith("arn:") and ":activity:" in resource:
        v.fail(EXPRESS_ACTIVITY_MESSAGE, location)
    elif re.search(r"\.sync(:\d+)?$", resource):
        v.fail(EXPRESS_SYNC_MESSAGE, location)
    elif resource.endswith(".waitForTaskToken"):
        v.fail(EXPRESS_CALLBACK_MESSAGE, location)


def _check_wait(v: _Validator, raw: Mapping[str, Any], location: str, language: str) -> None:
    from stateway.asl.choice import parse_timestamp  # one timestamp grammar for Wait and Choice

    fields = ("Seconds", "Timestamp", "SecondsPath", "TimestampPath")
    present = [field for field in fields if field in raw]
    if len(present) != 1:
        v.fail(_exactly_one(fields), location)
    if "Seconds" in raw and not (language == JSONATA and _is_jsonata(raw["Seconds"])):
        v.integer(raw["Seconds"], _at(location, "Seconds"), minimum=0, maximum=99999999)
    if "Timestamp" in raw:
        value = raw["Timestamp"]
        timestamp_location = _at(location, "Timestamp")
        if (
            not (language == JSONATA and _is_jsonata(value))
            and v.string(value, timestamp_location)
            and parse_timestamp(value) is None
        ):
            v.fail("The value for the field 'Timestamp' must be a valid timestamp", timestamp_location)


def _check_fail(v: _Validator, raw: Mapping[str, Any], location: str, language: str) -> None:
    for field in ("Error", "Cause"):
        v.at_most_one(raw, (field, f"{field}Path"), location)
        if field in raw:
            v.string(raw[field], _at(location, field))


def _check_choice(v: _Validator, raw: Mapping[str, Any], location: str, language: str) -> None:
    if "Default" in raw:
        v.string(raw["Default"], _at(location, "Default"))
    choices_location = _at(location, "Choices")
    if "Choices" not in raw or not v.array(raw["Choices"], choices_location, non_empty=True):
        return
    from stateway.asl.choice import parse_choice_rule  # the Choice rule grammar lives with its evaluator

    for index, rule in enumerate(raw["Choices"]):
        try:
            parse_choice_rule(rule, f"{choices_location}[{index}]", query_language=language)
        except DefinitionError as error:
            v.problems.extend(error.problems)


def _check_parallel(v: _Validator, raw: Mapping[str, Any], location: str, language: str) -> None:
    branches_location = _at(location, "Branches")
    if "Branches" not in raw or not v.array(raw["Branches"], branches_location, non_empty=True):
        return
    for index, branch in enumerate(raw["Branches"]):
        v.container(branch, f"{branches_location}[{index}]", BRANCH_FIELDS)


def _check_map(v: _Validator, raw: Mapping[str, Any], location: str, language: str) -> None:
    processors = [field for field in ("ItemProcessor", "Iterator") if field in raw]
    if len(processors) != 1:
        v.fail(_exactly_one(("ItemProcessor", "Iterator")), location)
    for field in processors:
        v.container(raw[field], _at(location, field), ITEM_PROCESSOR_FIELDS)
    if "Items" in raw and language == JSONATA:
        value = raw["Items"]
        if not (isinstance(value, list) or _is_jsonata(value)):
            v.fail(_expected_type("ARRAY"), _at(location, "Items"))
    for field, minimum, maximum, integral in (
        ("MaxConcurrency", 0, None, True),
        ("ToleratedFailurePercentage", 0, 100, False),
        ("ToleratedFailureCount", 0, None, True),
    ):
        v.at_most_one(raw, (field, f"{field}Path"), location)
        if field not in raw or (language == JSONATA and _is_jsonata(raw[field])):
            continue
        if integral:
            v.integer(raw[field], _at(location, field), minimum=minimum)
        else:
            v.number(raw[field], _at(location, field), minimum=minimum, maximum=maximum)
    if "ItemReader" in raw:
        v.item_reader(raw["ItemReader"], _at(location, "ItemReader"), language)
    if "ItemBatcher" in raw:
        processor = next((raw[field] for field in processors), None)
        config = processor.get("ProcessorConfig") if isinstance(processor, dict) else None
        mode = config.get("Mode", "INLINE") if isinstance(config, dict) else "INLINE"
        v.item_batcher(raw["ItemBatcher"], _at(location, "ItemBatcher"), language, mode)
    if "ResultWriter" in raw:
        v.result_writer(raw["ResultWriter"], _at(location, "ResultWriter"), language)
    if "Label" in raw:
        v.label(raw["Label"], _at(location, "Label"))


_TYPE_CHECKS: Final[Mapping[str, _Check]] = {
    "Task": _check_task,
    "Wait": _check_wait,
    "Fail": _check_fail,
    "Choice": _check_choice,
    "Parallel": _check_parallel,
    "Map": _check_map,
}

# ---------------------------------------------------------------------------------------------------
# Graph stage: runs on a schema-valid definition.
# ---------------------------------------------------------------------------------------------------


def _transitions(state: Mapping[str, Any], location: str) -> Iterator[tuple[str, str]]:
    """Every (target, location) a state can move to, in document order."""
    if isinstance(state.get("Next"), str):
        yield state["Next"], _at(location, "Next")
    for index, rule in enumerate(state.get("Choices") or ()):
        if isinstance(rule, dict) and isinstance(rule.get("Next"), str):
            yield rule["Next"], f"{location}/Choices[{index}]/Next"
    if isinstance(state.get("Default"), str):
        yield state["Default"], _at(location, "Default")
    for index, rule in enumerate(state.get("Catch") or ()):
        if isinstance(rule, dict) and isinstance(rule.get("Next"), str):
            yield rule["Next"], f"{location}/Catch[{index}]/Next"


def _nested_containers(state: Mapping[str, Any], location: str) -> Iterator[tuple[Mapping[str, Any], str]]:
    for index, branch in enumerate(state.get("Branches") or ()):
        yield branch, f"{location}/Branches[{index}]"
    for field in ("ItemProcessor", "Iterator"):
        if isinstance(state.get(field), dict):
            yield state[field], _at(location, field)


def _is_terminal(state: Mapping[str, Any]) -> bool:
    return state.get("End") is True or state.get("Type") in ("Succeed", "Fail")


def _graph_problems(definition: Mapping[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    seen_names: set[str] = set()
    seen_labels: set[str] = set()
    _container_graph(definition, "", problems, seen_names, seen_labels, top_level=True)
    return problems


def _container_graph(
    container: Mapping[str, Any],
    location: str,
    problems: list[Problem],
    seen_names: set[str],
    seen_labels: set[str],
    *,
    top_level: bool,
) -> None:
    states: Mapping[str, Any] = container["States"]
    start_at = container["StartAt"]
    if start_at not in states:
        problems.append(
            Problem(MISSING_TRANSITION_TARGET, _missing_target(start_at), _at(location, "StartAt"))
        )
    for name, state in states.items():
        state_location = _at(_at(location, "States"), name)
        if name in seen_names:
            # State names are one namespace across the machine, branches and processors included.
            problems.append(Problem(DUPLICATE_STATE_NAME, f"Duplicate State name: {name}", state_location))
        seen_names.add(name)
        label = state.get("Label")
        if isinstance(label, str):
            if label in seen_labels:
                problems.append(
                    Problem(
                        DUPLICATE_LABEL_NAME, f"Duplicate Label name: {label}", _at(state_location, "Label")
                    )
                )
            seen_labels.add(label)
        for target, target_location in _transitions(state, state_location):
            if target not in states:
                problems.append(Problem(MISSING_TRANSITION_TARGET, _missing_target(target), target_location))
    # With no terminal state at all AWS reports only that, not which states cannot be reached.
    if top_level and not any(_is_terminal(state) for state in states.values()):
        problems.append(Problem(MISSING_END_STATE, NO_TERMINAL_STATE_MESSAGE, NO_LOCATION))
    else:
        reachable = _reachable(states, start_at)
        for name in states:
            if name not in reachable:
                problems.append(
                    Problem(MISSING_TRANSITION_TARGET, _unreachable(name), _at(_at(location, "States"), name))
                )
    for name, state in states.items():
        state_location = _at(_at(location, "States"), name)
        for nested, nested_location in _nested_containers(state, state_location):
            _container_graph(nested, nested_location, problems, seen_names, seen_labels, top_level=False)


def _reachable(states: Mapping[str, Any], start_at: str) -> set[str]:
    reachable: set[str] = set()
    pending = [start_at] if start_at in states else []
    while pending:
        name = pending.pop()
        if name in reachable:
            continue
        reachable.add(name)
        for target, _ in _transitions(states[name], ""):
            if target in states and target not in reachable:
                pending.append(target)
    return reachable
