"""Static validation: each rule, many problems at once, the corpus's valid machines and AWS's recorded words."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from stateway.asl.errors import DefinitionError
from stateway.asl.validate import check_definition, diagnostics, validate_definition, validate_state

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "sfn" / "cases"

PASS_END: dict[str, Any] = {"Type": "Pass", "End": True}


def machine(states: dict[str, Any], start_at: str | None = None, **top: Any) -> dict[str, Any]:
    return {"StartAt": start_at or next(iter(states)), "States": states, **top}


def messages(definition: Any, **kwargs: Any) -> list[str]:
    return [str(problem) for problem in validate_definition(definition, **kwargs)]


def one(definition: Any, **kwargs: Any) -> str:
    (message,) = messages(definition, **kwargs)
    return message


def map_state(**fields: Any) -> dict[str, Any]:
    return {
        "Type": "Map",
        "ItemProcessor": {"StartAt": "P", "States": {"P": dict(PASS_END)}},
        "End": True,
        **fields,
    }


# ---------------------------------------------------------------------------------------------------
# Corpus: every machine AWS ran is valid; every recorded refusal is reproduced word for word.
# ---------------------------------------------------------------------------------------------------


def _cases(kind: str) -> list[dict[str, Any]]:
    if not CORPUS.is_dir():
        return []
    cases = (json.loads(path.read_text()) for path in sorted(CORPUS.glob("*.json")))
    return [case for case in cases if case["kind"] == kind]


def _bind(value: Any) -> Any:
    """Stand-in ARNs for the corpus's resource placeholders, so ARN-shaped checks see real shapes."""
    text = json.dumps(value)
    text = re.sub(r"\{\{(lambda_\d+)\.arn\}\}", r"arn:aws:lambda:us-east-1:111111111111:function:\1", text)
    text = re.sub(r"\{\{(activity_\d+)\.arn\}\}", r"arn:aws:states:us-east-1:111111111111:activity:\1", text)
    text = re.sub(r"\{\{(\w+)\.(name|arn|url)\}\}", r"\1", text)
    return json.loads(text)


needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"conformance corpus not found at {CORPUS}")
EXECUTIONS = _cases("execution")
API_ERRORS = [
    case
    for case in _cases("api_error")
    if "Invalid State Machine Definition" in case["expected"].get("error_message", "")
]
LABEL_ERRORS = [case for case in _cases("api_error") if "Label " in case["expected"].get("error_message", "")]


@needs_corpus
def test_the_corpus_is_all_there() -> None:
    assert len(EXECUTIONS) == 854
    assert len(API_ERRORS) >= 8
    assert len(LABEL_ERRORS) >= 80


@needs_corpus
@pytest.mark.parametrize("case", EXECUTIONS, ids=[case["id"] for case in EXECUTIONS])
def test_every_definition_aws_ran_is_valid(case: dict[str, Any]) -> None:
    machine_type = (case.get("state_machine") or {}).get("type", "STANDARD")
    assert messages(_bind(case["definition"]), state_machine_type=machine_type) == []


@needs_corpus
@pytest.mark.parametrize("case", _cases("test_state"), ids=lambda case: case["id"])
def test_every_state_teststate_ran_is_valid(case: dict[str, Any]) -> None:
    definition = _bind(case["definition"])
    if "States" in definition:
        assert messages(definition) == []
    else:
        language = definition.get("QueryLanguage", "JSONPath")
        assert validate_state(definition, query_language=language) == []


@needs_corpus
@pytest.mark.parametrize("case", API_ERRORS, ids=[case["id"] for case in API_ERRORS])
def test_recorded_invalid_definition_messages(case: dict[str, Any]) -> None:
    params = case["request"]["params"]
    definition = _bind(params["definition"])
    if "States" not in definition and "Type" in definition:
        # TestState of a single state: AWS names it "StateName" in locations.
        problems = validate_state(definition)
    else:
        problems = validate_definition(definition, state_machine_type=params.get("type", "STANDARD"))
    assert DefinitionError(problems).message == case["expected"]["error_message"]


@needs_corpus
@pytest.mark.parametrize("case", LABEL_ERRORS, ids=[case["id"] for case in LABEL_ERRORS])
def test_recorded_label_refusals(case: dict[str, Any]) -> None:
    (problem,) = validate_definition(case["request"]["params"]["definition"])
    assert problem.location == "/States/MapState/Label"
    # The recording wraps the message as a Python exception's args; the message itself is ours exactly.
    assert f"Args=[{problem.message!r}]" in case["expected"]["error_message"]


# The validate_definition cases of the corpus carry no response; these are AWS's recorded diagnostics
# for the same definitions (ValidateStateMachineDefinition, type EXPRESS and STANDARD alike).
RECORDED_DIAGNOSTICS = {
    "EMPTY_DICT": [("SCHEMA_VALIDATION_FAILED", "These fields are required: [States, StartAt]", "/")],
    "INVALID_BASE_NO_STARTAT": [("SCHEMA_VALIDATION_FAILED", "These fields are required: [StartAt]", "/")],
    "ILLEGAL_WFTT": [
        (
            "SCHEMA_VALIDATION_FAILED",
            "Express state machine does not support '.waitForTaskToken' service integration ",
            "/States/SendMessageWithWait/Resource",
        )
    ],
    "INVALID_DOWNGRADE_QUERY_LANGUAGE": [
        (
            "SCHEMA_VALIDATION_FAILED",
            "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine",
            "/States/Pass",
        )
    ],
    "VALID_BASE_PASS": [],
    "VALID_QUERY_LANGUAGE_PASS": [],
}
VALIDATE_CASES = [case for case in _cases("validate_definition") if "definition" in case]


@needs_corpus
@pytest.mark.parametrize("case", VALIDATE_CASES, ids=[case["id"] for case in VALIDATE_CASES])
def test_recorded_validate_definition_diagnostics(case: dict[str, Any]) -> None:
    key = case["id"].rsplit("[", 1)[1].rstrip("]")
    expected = [
        {"severity": "ERROR", "code": code, "message": message, "location": location}
        for code, message, location in RECORDED_DIAGNOSTICS[key]
    ]
    assert diagnostics(validate_definition(case["definition"], state_machine_type="EXPRESS")) == expected


# ---------------------------------------------------------------------------------------------------
# Top level.
# ---------------------------------------------------------------------------------------------------


def test_a_valid_machine_has_no_problems() -> None:
    assert messages(machine({"A": PASS_END})) == []
    check_definition(machine({"A": PASS_END}))


def test_not_an_object() -> None:
    assert messages([]) == ["SCHEMA_VALIDATION_FAILED: Definition must be a valid JSON object at null"]


def test_unknown_top_level_field() -> None:
    assert one(machine({"A": PASS_END}, Coment="typo")) == (
        "SCHEMA_VALIDATION_FAILED: Field 'Coment' is not supported at /"
    )


def test_top_level_value_types() -> None:
    assert messages({"StartAt": 1, "States": [], "Comment": 2, "TimeoutSeconds": -1}) == [
        "SCHEMA_VALIDATION_FAILED: Expected value of type [STRING] at /Comment",
        "SCHEMA_VALIDATION_FAILED: Minimum value is 0 at /TimeoutSeconds",
        "SCHEMA_VALIDATION_FAILED: Expected value of type [STRING] at /StartAt",
        "SCHEMA_VALIDATION_FAILED: Expected value of type [OBJECT] at /States",
    ]


def test_check_definition_raises_with_every_problem() -> None:
    with pytest.raises(DefinitionError) as caught:
        check_definition({"Comment": "x"})
    assert caught.value.message == (
        "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: These fields are required: "
        "[States, StartAt] at /'"
    )


# ---------------------------------------------------------------------------------------------------
# States: types, fields, transitions.
# ---------------------------------------------------------------------------------------------------


def test_state_type_is_required_and_must_be_known() -> None:
    assert messages(machine({"A": {"End": True}, "B": {"Type": "Lambda"}})) == [
        "SCHEMA_VALIDATION_FAILED: These fields are required: [Type] at /States/A",
        "SCHEMA_VALIDATION_FAILED: The field 'Type' should have one of these values: "
        "[Task, Wait, Pass, Succeed, Fail, Choice, Parallel, Map] at /States/B/Type",
    ]


def test_fields_not_allowed_for_the_state_type_come_out_in_schema_order() -> None:
    state = {
        "Type": "Pass",
        "End": True,
        "Retry": [{"ErrorEquals": ["States.ALL"]}],
        "TimeoutSeconds": 5,
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "X"}],
    }
    assert messages(machine({"X": state})) == [
        "SCHEMA_VALIDATION_FAILED: Field 'TimeoutSeconds' is not supported at /States/X",
        "SCHEMA_VALIDATION_FAILED: Field 'Catch' is not supported at /States/X",
        "SCHEMA_VALIDATION_FAILED: Field 'Retry' is not supported at /States/X",
    ]


@pytest.mark.parametrize("state_type", ["Map", "Parallel"])
def test_timeout_seconds_only_on_task(state_type: str) -> None:
    state = (
        map_state()
        if state_type == "Map"
        else {
            "Type": "Parallel",
            "Branches": [{"StartAt": "B", "States": {"B": PASS_END}}],
            "End": True,
        }
    )
    state["TimeoutSeconds"] = 5
    with pytest.raises(DefinitionError) as caught:
        check_definition(machine({"S": state}))
    assert caught.value.message == (
        "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Field 'TimeoutSeconds' is not supported "
        "at /States/S'"
    )


@pytest.mark.parametrize(
    "state",
    [
        {"Type": "Pass"},
        {"Type": "Pass", "End": True, "Next": "A"},
        {"Type": "Pass", "End": False},
    ],
)
def test_exactly_one_of_next_and_end(state: dict[str, Any]) -> None:
    assert one(machine({"A": state})) == (
        "SCHEMA_VALIDATION_FAILED: Exactly one of these fields must be defined: [Next, End] at /States/A"
    )


@pytest.mark.parametrize("state_type", ["Succeed", "Fail", "Choice"])
def test_terminal_and_choice_states_take_no_next(state_type: str) -> None:
    state: dict[str, Any] = {"Type": state_type, "Next": "A"}
    if state_type == "Choice":
        state["Choices"] = [{"Variable": "$.x", "IsPresent": True, "Next": "A"}]
    assert "SCHEMA_VALIDATION_FAILED: Field 'Next' is not supported at /States/A" in messages(
        machine({"A": state})
    )


def test_required_fields_per_type() -> None:
    assert messages(
        machine(
            {
                "T": {"Type": "Task", "Next": "C"},
                "C": {"Type": "Choice", "Default": "P"},
                "P": {"Type": "Parallel", "End": True},
                "M": {"Type": "Map", "End": True},
            }
        )
    ) == [
        "SCHEMA_VALIDATION_FAILED: These fields are required: [Resource] at /States/T",
        "SCHEMA_VALIDATION_FAILED: These fields are required: [Choices] at /States/C",
        "SCHEMA_VALIDATION_FAILED: These fields are required: [Branches] at /States/P",
        "SCHEMA_VALIDATION_FAILED: Exactly one of these fields must be defined: [ItemProcessor, Iterator] "
        "at /States/M",
    ]


def test_empty_arrays() -> None:
    assert messages(
        machine(
            {"P": {"Type": "Parallel", "Branches": [], "Next": "C"}, "C": {"Type": "Choice", "Choices": []}}
        )
    ) == [
        "SCHEMA_VALIDATION_FAILED: Value cannot be empty at /States/P/Branches",
        "SCHEMA_VALIDATION_FAILED: Value cannot be empty at /States/C/Choices",
    ]


def test_teststate_checks_a_lone_state_under_the_name_statename() -> None:
    assert [str(p) for p in validate_state({"Type": "Parallel", "Branches": [], "End": True})] == [
        "SCHEMA_VALIDATION_FAILED: Value cannot be empty at /States/StateName/Branches"
    ]
    # A lone state's Next may name a state TestState never sees.
    assert validate_state({"Type": "Pass", "Next": "Elsewhere"}) == []


def test_state_names_longer_than_80_characters() -> None:
    name = "N" * 81
    assert one(machine({name: PASS_END})) == (
        f"INVALID_STATE_NAME: State name cannot be longer than 80 characters at /States/{name}"
    )


# ---------------------------------------------------------------------------------------------------
# Task, Wait, Fail.
# ---------------------------------------------------------------------------------------------------

LAMBDA = "arn:aws:states:::lambda:invoke"


def task(**fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": LAMBDA, "End": True, **fields}


def test_timeouts_are_positive_integers() -> None:
    assert messages(machine({"T": task(TimeoutSeconds=0, HeartbeatSeconds=1.5)})) == [
        "SCHEMA_VALIDATION_FAILED: Minimum value is 1 at /States/T/TimeoutSeconds",
        "SCHEMA_VALIDATION_FAILED: Expected value of type [INTEGER] at /States/T/HeartbeatSeconds",
    ]
    assert one(machine({"T": task(TimeoutSeconds=True)})) == (
        "SCHEMA_VALIDATION_FAILED: Expected value of type [INTEGER] at /States/T/TimeoutSeconds"
    )


def test_timeout_seconds_and_its_path_are_exclusive() -> None:
    assert one(machine({"T": task(TimeoutSeconds=5, TimeoutSecondsPath="$.t")})) == (
        "SCHEMA_VALIDATION_FAILED: Only one of these fields can be defined: [TimeoutSeconds, TimeoutSecondsPath] "
        "at /States/T/TimeoutSeconds"
    )


@pytest.mark.parametrize("heartbeat", [10, 11])
def test_heartbeat_must_be_smaller_than_timeout(heartbeat: int) -> None:
    assert one(machine({"T": task(TimeoutSeconds=10, HeartbeatSeconds=heartbeat)})) == (
        "SCHEMA_VALIDATION_FAILED: The field 'HeartbeatSeconds' must be smaller than the field 'TimeoutSeconds' "
        "at /States/T/HeartbeatSeconds"
    )
    assert messages(machine({"T": task(TimeoutSeconds=10, HeartbeatSeconds=9)})) == []


@pytest.mark.parametrize("credentials", [{}, {"InvalidField": "invalid"}])
def test_credentials_need_a_role_arn(credentials: dict[str, Any]) -> None:
    assert one(machine({"T": task(Credentials=credentials)})) == (
        "SCHEMA_VALIDATION_FAILED: The field 'RoleArn' is required but was missing at /States/T/Credentials"
    )
    assert messages(machine({"T": task(Credentials={"RoleArn.$": "$.role"})})) == []


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {},
            "Exactly one of these fields must be defined: [Seconds, Timestamp, SecondsPath, TimestampPath] at /States/W",
        ),
        (
            {"Seconds": 1, "SecondsPath": "$.s"},
            "Exactly one of these fields must be defined: [Seconds, Timestamp, SecondsPath, TimestampPath] at /States/W",
        ),
        ({"Seconds": -1}, "Minimum value is 0 at /States/W/Seconds"),
        (
            {"Timestamp": "yesterday"},
            "The value for the field 'Timestamp' must be a valid timestamp at /States/W/Timestamp",
        ),
    ],
)
def test_wait_fields(fields: dict[str, Any], expected: str) -> None:
    assert (
        one(machine({"W": {"Type": "Wait", "End": True, **fields}}))
        == f"SCHEMA_VALIDATION_FAILED: {expected}"
    )


def test_wait_accepts_each_form() -> None:
    for fields in (
        {"Seconds": 0},
        {"Timestamp": "2016-03-14T01:59:00Z"},
        {"SecondsPath": "$.s"},
        {"TimestampPath": "$.t"},
    ):
        assert messages(machine({"W": {"Type": "Wait", "End": True, **fields}})) == []


def test_fail_error_and_error_path_are_exclusive() -> None:
    assert one(machine({"F": {"Type": "Fail", "Error": "E", "ErrorPath": "$.e"}})) == (
        "SCHEMA_VALIDATION_FAILED: Only one of these fields can be defined: [Error, ErrorPath] at /States/F/Error"
    )


# ---------------------------------------------------------------------------------------------------
# Retry and Catch.
# ---------------------------------------------------------------------------------------------------


def test_retrier_shape() -> None:
    retry = [
        {
            "ErrorEquals": ["States.ALL", "Custom"],
            "IntervalSeconds": 0,
            "BackoffRate": 0.5,
            "JitterStrategy": "SOME",
        },
        {"ErrorEquals": [], "MaxAttempts": -1, "Foo": 1},
        {"MaxDelaySeconds": 0},
    ]
    assert messages(machine({"T": task(Retry=retry)})) == [
        "SCHEMA_VALIDATION_FAILED: Error name 'States.ALL' must appear alone in 'ErrorEquals' "
        "at /States/T/Retry[0]/ErrorEquals",
        "SCHEMA_VALIDATION_FAILED: The rule with 'States.ALL' in 'ErrorEquals' must be the last one "
        "at /States/T/Retry[0]",
        "SCHEMA_VALIDATION_FAILED: Minimum value is 1 at /States/T/Retry[0]/IntervalSeconds",
        "SCHEMA_VALIDATION_FAILED: Minimum value is 1.0 at /States/T/Retry[0]/BackoffRate",
        "SCHEMA_VALIDATION_FAILED: Value should be one of the following: [FULL, NONE] "
        "at /States/T/Retry[0]/JitterStrategy",
        "SCHEMA_VALIDATION_FAILED: Field 'Foo' is not supported at /States/T/Retry[1]",
        "SCHEMA_VALIDATION_FAILED: Value cannot be empty at /States/T/Retry[1]/ErrorEquals",
        "SCHEMA_VALIDATION_FAILED: Minimum value is 0 at /States/T/Retry[1]/MaxAttempts",
        "SCHEMA_VALIDATION_FAILED: These fields are required: [ErrorEquals] at /States/T/Retry[2]",
        "SCHEMA_VALIDATION_FAILED: Minimum value is 1 at /States/T/Retry[2]/MaxDelaySeconds",
    ]


def test_catcher_shape() -> None:
    catch = [{"ErrorEquals": ["States.ALL"], "Next": "T"}, {"ErrorEquals": ["X"]}]
    assert messages(machine({"T": task(Catch=catch)})) == [
        "SCHEMA_VALIDATION_FAILED: The rule with 'States.ALL' in 'ErrorEquals' must be the last one "
        "at /States/T/Catch[0]",
        "SCHEMA_VALIDATION_FAILED: These fields are required: [Next] at /States/T/Catch[1]",
    ]


def test_states_all_last_and_alone_is_fine() -> None:
    catch = [{"ErrorEquals": ["A", "B"], "Next": "T"}, {"ErrorEquals": ["States.ALL"], "Next": "T"}]
    assert messages(machine({"T": task(Catch=catch, Retry=[{"ErrorEquals": ["States.ALL"]}])})) == []


# ---------------------------------------------------------------------------------------------------
# Map and its parts.
# ---------------------------------------------------------------------------------------------------


def test_map_concurrency_and_tolerance_ranges() -> None:
    state = map_state(MaxConcurrency=-1, ToleratedFailurePercentage=101, ToleratedFailureCount=-2)
    assert messages(machine({"M": state})) == [
        "SCHEMA_VALIDATION_FAILED: Minimum value is 0 at /States/M/MaxConcurrency",
        "SCHEMA_VALIDATION_FAILED: Maximum value is 100 at /States/M/ToleratedFailurePercentage",
        "SCHEMA_VALIDATION_FAILED: Minimum value is 0 at /States/M/ToleratedFailureCount",
    ]


def test_map_concurrency_and_its_path_are_exclusive() -> None:
    assert one(machine({"M": map_state(MaxConcurrency=2, MaxConcurrencyPath="$.limit")})) == (
        "SCHEMA_VALIDATION_FAILED: Only one of these fields can be defined: [MaxConcurrency, MaxConcurrencyPath] "
        "at /States/M/MaxConcurrency"
    )


def test_processor_config() -> None:
    state = map_state()
    state["ItemProcessor"]["ProcessorConfig"] = {"Mode": "FAST", "ExecutionType": "SLOW", "Other": 1}
    assert messages(machine({"M": state})) == [
        "SCHEMA_VALIDATION_FAILED: Field 'Other' is not supported at /States/M/ItemProcessor/ProcessorConfig",
        "SCHEMA_VALIDATION_FAILED: Value should be one of the following: [INLINE, DISTRIBUTED] "
        "at /States/M/ItemProcessor/ProcessorConfig/Mode",
        "SCHEMA_VALIDATION_FAILED: Value should be one of the following: [STANDARD, EXPRESS] "
        "at /States/M/ItemProcessor/ProcessorConfig/ExecutionType",
    ]


def test_legacy_iterator_is_accepted_but_not_both() -> None:
    processor = {"StartAt": "P", "States": {"P": PASS_END}}
    assert messages(machine({"M": {"Type": "Map", "Iterator": processor, "End": True}})) == []
    assert one(machine({"M": map_state(Iterator=processor)})) == (
        "SCHEMA_VALIDATION_FAILED: Exactly one of these fields must be defined: [ItemProcessor, Iterator] "
        "at /States/M"
    )


def test_item_reader_batcher_and_writer_shapes() -> None:
    state = map_state(
        ItemReader={"ReaderConfig": {"InputType": "XML", "MaxItems": -1}},
        ItemBatcher={"MaxItemsPerBatch": 0, "MaxItemsPerBatchPath": "$.n"},
        ResultWriter={
            "Resource": "arn:aws:states:::s3:putObject",
            "WriterConfig": {"Transformation": "NONE"},
        },
    )
    state["ItemProcessor"]["ProcessorConfig"] = {"Mode": "DISTRIBUTED"}
    assert messages(machine({"M": state})) == [
        "SCHEMA_VALIDATION_FAILED: These fields are required: [Resource] at /States/M/ItemReader",
        "SCHEMA_VALIDATION_FAILED: Value should be one of the following: [CSV, JSON, JSONL, MANIFEST, PARQUET] "
        "at /States/M/ItemReader/ReaderConfig/InputType",
        "SCHEMA_VALIDATION_FAILED: Minimum value is 0 at /States/M/ItemReader/ReaderConfig/MaxItems",
        "SCHEMA_VALIDATION_FAILED: Only one of these fields can be defined: [MaxItemsPerBatch, MaxItemsPerBatchPath] "
        "at /States/M/ItemBatcher/MaxItemsPerBatch",
        "SCHEMA_VALIDATION_FAILED: Minimum value is 1 at /States/M/ItemBatcher/MaxItemsPerBatch",
        "SCHEMA_VALIDATION_FAILED: These fields are required: [Parameters] at /States/M/ResultWriter",
        "SCHEMA_VALIDATION_FAILED: These fields are required: [OutputType] at /States/M/ResultWriter/WriterConfig",
    ]


def distributed_map(**fields: Any) -> dict[str, Any]:
    state = map_state(**fields)
    state["ItemProcessor"]["ProcessorConfig"] = {"Mode": "DISTRIBUTED"}
    return state


def test_item_batcher_only_in_a_distributed_map() -> None:
    assert one(machine({"M": map_state(ItemBatcher={"MaxItemsPerBatch": 2})})) == (
        "SCHEMA_VALIDATION_FAILED: Field 'ItemBatcher' is only supported in a Map whose ProcessorConfig Mode "
        "is DISTRIBUTED at /States/M/ItemBatcher"
    )
    legacy = {"Type": "Map", "Iterator": {"StartAt": "P", "States": {"P": dict(PASS_END)}},
              "ItemBatcher": {"MaxItemsPerBatch": 2}, "End": True}
    assert len(messages(machine({"M": legacy}))) == 1
    assert messages(machine({"M": distributed_map(ItemBatcher={"MaxItemsPerBatch": 2})})) == []


def test_item_batcher_needs_a_limit_and_bytes_up_to_256_kib() -> None:
    assert one(machine({"M": distributed_map(ItemBatcher={"BatchInput": {"a": 1}})})) == (
        "SCHEMA_VALIDATION_FAILED: At least one of these fields must be defined: [MaxItemsPerBatch, "
        "MaxItemsPerBatchPath, MaxInputBytesPerBatch, MaxInputBytesPerBatchPath] at /States/M/ItemBatcher"
    )
    assert one(machine({"M": distributed_map(ItemBatcher={"MaxInputBytesPerBatch": 262145})})) == (
        "SCHEMA_VALIDATION_FAILED: Maximum value is 262144 at /States/M/ItemBatcher/MaxInputBytesPerBatch"
    )
    ok = {"MaxInputBytesPerBatch": 262144, "MaxItemsPerBatchPath": "$.n", "BatchInput": {"k.$": "$.k"}}
    assert messages(machine({"M": distributed_map(ItemBatcher=ok)})) == []


def test_item_batcher_batch_input_as_a_jsonata_expression() -> None:
    state = distributed_map(ItemBatcher={"MaxItemsPerBatch": 2, "BatchInput": "{% $states.input.shared %}"})
    assert messages(machine({"M": state}, QueryLanguage="JSONata")) == []
    assert one(machine({"M": distributed_map(ItemBatcher={"MaxItemsPerBatch": 2, "BatchInput": "x"})})) == (
        "SCHEMA_VALIDATION_FAILED: Expected value of type [OBJECT] at /States/M/ItemBatcher/BatchInput"
    )


def test_empty_result_writer() -> None:
    assert one(machine({"M": map_state(ResultWriter={})})) == (
        "SCHEMA_VALIDATION_FAILED: Value cannot be empty at /States/M/ResultWriter"
    )


@pytest.mark.parametrize(
    ("label", "shown"), [(",", "','"), ("\x00", "'\\x00'"), ("\u0085", "'\\x85'"), ('"', "'\"'")]
)
def test_label_invalid_characters(label: str, shown: str) -> None:
    assert one(machine({"M": map_state(Label=f"label_{label}")})) == (
        f"INVALID_LABEL_NAME: Label contains invalid character: {shown} at /States/M/Label"
    )


def test_label_empty_and_too_long() -> None:
    assert (
        one(machine({"M": map_state(Label="")}))
        == "INVALID_LABEL_NAME: Label cannot be empty at /States/M/Label"
    )
    assert one(machine({"M": map_state(Label="L" * 41)})) == (
        "INVALID_LABEL_NAME: Label cannot be longer than 40 characters at /States/M/Label"
    )
    assert messages(machine({"M": map_state(Label="Good-label_1")})) == []


# ---------------------------------------------------------------------------------------------------
# Paths and payload templates.
# ---------------------------------------------------------------------------------------------------


def test_paths_must_start_at_the_root() -> None:
    state = {"Type": "Pass", "InputPath": "input", "ResultPath": "result", "OutputPath": None, "End": True}
    assert messages(machine({"A": state})) == [
        "SCHEMA_VALIDATION_FAILED: The value for the field 'InputPath' must be a valid JSONPath at /States/A/InputPath",
        "SCHEMA_VALIDATION_FAILED: The value for the field 'ResultPath' must be a valid ReferencePath "
        "at /States/A/ResultPath",
    ]


def test_dollar_fields_in_templates() -> None:
    parameters = {
        "ok.$": "$.a",
        "context.$": "$$.Execution.Id",
        "call.$": "States.Format('{}', $.a)",
        "bad.$": "a.b",
        "nested": {"unbalanced.$": "States.Format('{}'", "number.$": 3},
    }
    assert messages(machine({"A": {"Type": "Pass", "Parameters": parameters, "End": True}})) == [
        "SCHEMA_VALIDATION_FAILED: The value for the field 'bad.$' must be a valid JSONPath or a valid intrinsic "
        "function call at /States/A/Parameters/bad.$",
        "SCHEMA_VALIDATION_FAILED: The value for the field 'unbalanced.$' must be a valid JSONPath or a valid "
        "intrinsic function call at /States/A/Parameters/nested/unbalanced.$",
        "SCHEMA_VALIDATION_FAILED: The value for the field 'number.$' must be a valid JSONPath or a valid "
        "intrinsic function call at /States/A/Parameters/nested/number.$",
    ]


def test_choice_rules_are_checked_with_aws_array_locations() -> None:
    choice = {
        "Type": "Choice",
        "Choices": [{"Variable": "$.x", "StringEquals": 1, "Next": "D"}],
        "Default": "D",
    }
    assert messages(machine({"C": choice, "D": PASS_END})) == [
        "SCHEMA_VALIDATION_FAILED: The value for the field 'StringEquals' must be a STRING "
        "at /States/C/Choices[0]/StringEquals"
    ]


# ---------------------------------------------------------------------------------------------------
# Query languages.
# ---------------------------------------------------------------------------------------------------

JSONATA_ONLY = (
    "The QueryLanguage is set to 'JSONPath', but field '{}' is only supported for the 'JSONata' QueryLanguage"
)
JSONPATH_ONLY = (
    "The QueryLanguage is set to 'JSONata', but field '{}' is only supported for the 'JSONPath' QueryLanguage"
)
DOWNGRADE = "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine"
ENUM = "Value should be one of the following: [JSONPath, JSONata]"


def test_jsonata_fields_on_a_jsonpath_state() -> None:
    state = task(Output={"v": 1}, Arguments={"payload": 1})
    assert messages(machine({"T": state})) == [
        f"SCHEMA_VALIDATION_FAILED: {JSONATA_ONLY.format('Output')} at /States/T",
        f"SCHEMA_VALIDATION_FAILED: {JSONATA_ONLY.format('Arguments')} at /States/T",
    ]


def test_jsonpath_fields_on_a_jsonata_state() -> None:
    state = {"Type": "Pass", "InputPath": "$.a", "OutputPath": "$.b", "ResultPath": "$.c", "End": True}
    assert messages(machine({"X": state}, QueryLanguage="JSONata")) == [
        f"SCHEMA_VALIDATION_FAILED: {JSONPATH_ONLY.format(field)} at /States/X"
        for field in ("InputPath", "OutputPath", "ResultPath")
    ]


def test_assign_is_allowed_in_both_languages() -> None:
    state = {"Type": "Pass", "Assign": {"counter": 1}, "End": True}
    assert messages(machine({"X": state})) == []
    assert messages(machine({"X": state}, QueryLanguage="JSONata")) == []


def test_a_state_cannot_downgrade_a_jsonata_machine_and_nothing_else_is_said_of_its_fields() -> None:
    state = {"Type": "Pass", "QueryLanguage": "JSONPath", "Output": {"v": "{% 1 %}"}, "End": True}
    assert messages(machine({"X": state}, QueryLanguage="JSONata")) == [
        f"SCHEMA_VALIDATION_FAILED: {DOWNGRADE} at /States/X"
    ]


def test_the_downgrade_does_not_hide_other_problems() -> None:
    state = map_state(QueryLanguage="JSONPath", MaxConcurrency=-1)
    assert messages(machine({"M": state}, QueryLanguage="JSONata")) == [
        f"SCHEMA_VALIDATION_FAILED: {DOWNGRADE} at /States/M",
        "SCHEMA_VALIDATION_FAILED: Minimum value is 0 at /States/M/MaxConcurrency",
    ]


def test_nested_states_inherit_the_machines_language_not_their_parents() -> None:
    inner = {"Type": "Pass", "Output": {"v": "{% 1 %}"}, "End": True}
    state = map_state(QueryLanguage="JSONata", Items="{% [1, 2] %}")
    state["ItemProcessor"]["States"] = {"P": inner}
    assert messages(machine({"M": state}, QueryLanguage="JSONPath")) == [
        f"SCHEMA_VALIDATION_FAILED: {JSONATA_ONLY.format('Output')} at /States/M/ItemProcessor/States/P"
    ]
    parallel = {
        "Type": "Parallel",
        "QueryLanguage": "JSONata",
        "Branches": [{"StartAt": "P", "States": {"P": inner}}],
        "End": True,
    }
    assert messages(machine({"PAR": parallel})) == [
        f"SCHEMA_VALIDATION_FAILED: {JSONATA_ONLY.format('Output')} at /States/PAR/Branches[0]/States/P"
    ]
    # Under a JSONata machine the same bare inner state is fine.
    state = map_state()
    state["ItemProcessor"]["States"] = {"P": inner}
    assert messages(machine({"M": state}, QueryLanguage="JSONata")) == []


@pytest.mark.parametrize("container", ["ItemProcessor", "Iterator"])
def test_processors_and_branches_carry_no_query_language(container: str) -> None:
    state = {
        "Type": "Map",
        container: {"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": PASS_END}},
        "End": True,
    }
    assert (
        one(machine({"M": state}))
        == f"SCHEMA_VALIDATION_FAILED: Field 'QueryLanguage' is not supported at /States/M/{container}"
    )
    parallel = {
        "Type": "Parallel",
        "Branches": [{"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": PASS_END}}],
        "End": True,
    }
    assert one(machine({"PAR": parallel})) == (
        "SCHEMA_VALIDATION_FAILED: Field 'QueryLanguage' is not supported at /States/PAR/Branches[0]"
    )


def test_query_language_values() -> None:
    # Anything but the exact "JSONPath" means JSONata; the spelling is still reported, at the field.
    state = {"Type": "Pass", "QueryLanguage": "jsonata", "InputPath": "$.a", "End": True}
    assert messages(machine({"X": state})) == [
        f"SCHEMA_VALIDATION_FAILED: {JSONPATH_ONLY.format('InputPath')} at /States/X",
        f"SCHEMA_VALIDATION_FAILED: {ENUM} at /States/X/QueryLanguage",
    ]
    assert messages(
        machine({"X": {"Type": "Pass", "InputPath": "$.a", "End": True}}, QueryLanguage="jsonpath")
    ) == [
        f"SCHEMA_VALIDATION_FAILED: {ENUM} at /QueryLanguage",
        f"SCHEMA_VALIDATION_FAILED: {JSONPATH_ONLY.format('InputPath')} at /States/X",
    ]
    assert one(machine({"X": PASS_END}, QueryLanguage=5)) == (
        "SCHEMA_VALIDATION_FAILED: Expected value of type [STRING] at /QueryLanguage"
    )


def test_jsonata_expressions_stand_in_for_numbers() -> None:
    state = map_state(MaxConcurrency="{% $states.input.n %}", ToleratedFailureCount="{% 1 %}")
    waits = {"Type": "Wait", "Seconds": "{% $states.input.s %}", "Next": "M"}
    assert messages(machine({"W": waits, "M": state}, QueryLanguage="JSONata")) == []


# ---------------------------------------------------------------------------------------------------
# Express machines.
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        (
            "arn:aws:states:us-east-1:111111111111:activity:work",
            "Express state machine does not support Activity ARN",
        ),
        (
            "arn:aws:states:::states:startExecution.sync",
            "Express state machine does not support '.sync' service integration",
        ),
        (
            "arn:aws:states:::states:startExecution.sync:2",
            "Express state machine does not support '.sync' service integration",
        ),
        (
            "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Express state machine does not support '.waitForTaskToken' service integration ",
        ),
    ],
)
def test_express_refuses_activities_sync_and_callbacks(resource: str, message: str) -> None:
    definition = machine({"T": {"Type": "Task", "Resource": resource, "End": True}})
    assert messages(definition) == []
    assert messages(definition, state_machine_type="EXPRESS") == [
        f"SCHEMA_VALIDATION_FAILED: {message} at /States/T/Resource"
    ]


# ---------------------------------------------------------------------------------------------------
# Graph.
# ---------------------------------------------------------------------------------------------------


def test_missing_transition_targets_say_next_whatever_the_field() -> None:
    states = {
        "A": {
            "Type": "Task",
            "Resource": LAMBDA,
            "Next": "C",
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Ghost2"}],
        },
        "C": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.x", "IsPresent": True, "Next": "Ghost3"}],
            "Default": "Ghost4",
        },
        "Z": PASS_END,
    }
    assert messages(machine(states)) == [
        "MISSING_TRANSITION_TARGET: Missing 'Next' target: Ghost2 at /States/A/Catch[0]/Next",
        "MISSING_TRANSITION_TARGET: Missing 'Next' target: Ghost3 at /States/C/Choices[0]/Next",
        "MISSING_TRANSITION_TARGET: Missing 'Next' target: Ghost4 at /States/C/Default",
        'MISSING_TRANSITION_TARGET: State "Z" is not reachable. at /States/Z',
    ]


def test_start_at_pointing_nowhere() -> None:
    assert messages(machine({"A": PASS_END}, start_at="Nope")) == [
        "MISSING_TRANSITION_TARGET: Missing 'Next' target: Nope at /StartAt",
        'MISSING_TRANSITION_TARGET: State "A" is not reachable. at /States/A',
    ]


def test_no_terminal_state() -> None:
    loop = {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}
    assert messages(machine(loop)) == ["MISSING_END_STATE: Workflow has no terminal state at null"]
    # The missing end state hides which states are unreachable...
    assert messages(machine({**loop, "Unused": {"Type": "Pass", "Next": "A"}})) == [
        "MISSING_END_STATE: Workflow has no terminal state at null"
    ]
    # ...and a terminal state nobody reaches makes it a reachability problem instead.
    assert messages(machine({**loop, "C": PASS_END})) == [
        'MISSING_TRANSITION_TARGET: State "C" is not reachable. at /States/C'
    ]
    assert messages(machine({"A": {"Type": "Pass", "Next": "NOPE"}})) == [
        "MISSING_TRANSITION_TARGET: Missing 'Next' target: NOPE at /States/A/Next",
        "MISSING_END_STATE: Workflow has no terminal state at null",
    ]


def test_terminal_state_rule_is_top_level_only() -> None:
    state = map_state()
    state["ItemProcessor"]["States"] = {
        "A": {"Type": "Pass", "Next": "B"},
        "B": {"Type": "Pass", "Next": "A"},
    }
    state["ItemProcessor"]["StartAt"] = "A"
    assert messages(machine({"M": state})) == []


def test_unreachable_states_in_nested_containers() -> None:
    state = map_state()
    state["ItemProcessor"]["States"]["Ghost"] = dict(PASS_END)
    parallel = {
        "Type": "Parallel",
        "Branches": [{"StartAt": "W", "States": {"W": PASS_END, "Lost": PASS_END}}],
        "Next": "M",
    }
    assert messages(machine({"Par": parallel, "M": state})) == [
        'MISSING_TRANSITION_TARGET: State "Lost" is not reachable. at /States/Par/Branches[0]/States/Lost',
        'MISSING_TRANSITION_TARGET: State "Ghost" is not reachable. at /States/M/ItemProcessor/States/Ghost',
    ]


def test_state_names_are_unique_across_the_whole_machine() -> None:
    parallel = {"Type": "Parallel", "Branches": [{"StartAt": "A", "States": {"A": PASS_END}}], "End": True}
    assert (
        one(machine({"A": parallel}))
        == "DUPLICATE_STATE_NAME: Duplicate State name: A at /States/A/Branches[0]/States/A"
    )


def test_labels_are_unique() -> None:
    first = {
        "Type": "Map",
        "Label": "same",
        "ItemProcessor": {"StartAt": "P", "States": {"P": PASS_END}},
        "Next": "M2",
    }
    second = {
        "Type": "Map",
        "Label": "same",
        "ItemProcessor": {"StartAt": "Q", "States": {"Q": PASS_END}},
        "End": True,
    }
    assert one(machine({"M1": first, "M2": second})) == (
        "DUPLICATE_LABEL_NAME: Duplicate Label name: same at /States/M2/Label"
    )


def test_graph_checks_wait_for_a_schema_valid_definition() -> None:
    # Without States there is no graph to walk; AWS reports only the missing field.
    assert messages({"StartAt": "Nope"}) == [
        "SCHEMA_VALIDATION_FAILED: These fields are required: [States] at /"
    ]


# ---------------------------------------------------------------------------------------------------
# Many problems at once, and the diagnostics shape.
# ---------------------------------------------------------------------------------------------------


def test_every_problem_is_reported_at_once() -> None:
    definition = {
        "StartAt": "T",
        "Extra": True,
        "States": {
            "T": {"Type": "Task", "TimeoutSeconds": 0, "Next": "W"},
            "W": {"Type": "Wait", "Seconds": 1, "Timestamp": "2016-03-14T01:59:00Z", "Next": "P"},
            "P": {"Type": "Parallel", "Branches": [{"StartAt": "X"}], "End": True, "Result": 1},
        },
    }
    assert messages(definition) == [
        "SCHEMA_VALIDATION_FAILED: Field 'Extra' is not supported at /",
        "SCHEMA_VALIDATION_FAILED: These fields are required: [Resource] at /States/T",
        "SCHEMA_VALIDATION_FAILED: Minimum value is 1 at /States/T/TimeoutSeconds",
        "SCHEMA_VALIDATION_FAILED: Exactly one of these fields must be defined: "
        "[Seconds, Timestamp, SecondsPath, TimestampPath] at /States/W",
        "SCHEMA_VALIDATION_FAILED: Field 'Result' is not supported at /States/P",
        "SCHEMA_VALIDATION_FAILED: These fields are required: [States] at /States/P/Branches[0]",
    ]
    with pytest.raises(DefinitionError) as caught:
        check_definition(definition)
    assert len(caught.value.problems) == 6
    assert caught.value.message.count("SCHEMA_VALIDATION_FAILED") == 6


def test_diagnostics_shape() -> None:
    problems = validate_definition(machine({"A": {"Type": "Pass", "Next": "A"}}))
    assert diagnostics(problems) == [
        {"severity": "ERROR", "code": "MISSING_END_STATE", "message": "Workflow has no terminal state"}
    ]
    assert diagnostics(validate_definition({"States": {}})) == [
        {
            "severity": "ERROR",
            "code": "SCHEMA_VALIDATION_FAILED",
            "message": "These fields are required: [StartAt]",
            "location": "/",
        }
    ]


@pytest.mark.parametrize("call", ["States.ArrayGetItem()", "States.ArrayLength($.a, $.b)", "States.Format(",
                                  "States.NoSuchFunction($.a)"])
@pytest.mark.parametrize("where", ["Parameters", "ResultSelector", "ErrorPath"])
def test_an_intrinsic_call_that_cannot_run_is_refused_when_the_machine_is_created(call: str, where: str) -> None:
    state: dict[str, Any] = {"Type": "Pass", "End": True}
    if where == "ErrorPath":
        state = {"Type": "Fail", "ErrorPath": call}
    elif where == "ResultSelector":
        state = {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "End": True,
                 "ResultSelector": {"v.$": call}}
    else:
        state["Parameters"] = {"v.$": call}
    problems = validate_definition({"StartAt": "S", "States": {"S": state}})
    assert problems and all(p.code == "SCHEMA_VALIDATION_FAILED" for p in problems), problems
    assert any(p.location.startswith(f"/States/S/{where}") for p in problems), problems


def test_a_well_formed_intrinsic_call_is_accepted_even_if_it_fails_when_it_runs() -> None:
    for call in ["States.ArrayGetItem($.a, 1)", "States.Format('{}', $.x)", "States.Format('\\q')"]:
        assert validate_definition({"StartAt": "S", "States": {"S": {
            "Type": "Pass", "Parameters": {"v.$": call}, "End": True}}}) == [], call


@pytest.mark.parametrize("result_path", ["$$.Execution.Input", "$$", "$var", "$var.x", "$.a[*]", "$..a"])
def test_a_result_path_must_place_the_result_in_the_state_s_data(result_path: str) -> None:
    branch = {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}}
    for state in ({"Type": "Pass", "ResultPath": result_path, "End": True},
                  {"Type": "Parallel", "Branches": [branch], "End": True,
                   "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": result_path, "Next": "E"}]}):
        problems = validate_definition({"StartAt": "S", "States": {"S": state, "E": {"Type": "Succeed"}}})
        assert [p.message for p in problems] == ["The value for the field 'ResultPath' must be a valid ReferencePath"]


def _holding_itself() -> dict[str, Any]:
    result: dict[str, Any] = {}
    result["me"] = result
    return result


@pytest.mark.parametrize(("result", "message", "location"), [
    (float("nan"), "nan is not a JSON number", "/States/P/Result"),
    ([1, float("-inf")], "-inf is not a JSON number", "/States/P/Result[1]"),
    ({1, 2}, "A value of type set is not JSON", "/States/P/Result"),
    (b"x", "A value of type bytes is not JSON", "/States/P/Result"),
    ({"when": object()}, "A value of type object is not JSON", "/States/P/Result/when"),
    ({1: "one"}, "The key 1 is not a string", "/States/P/Result"),
    (_holding_itself(), "A value contains itself", "/States/P/Result/me"),
])
def test_a_definition_from_python_must_hold_only_json_values(result: Any, message: str, location: str) -> None:
    # Such a definition would be stored as text that is not JSON (NaN) or fail to store at all.
    definition = machine({"P": {**PASS_END, "Result": result}})
    assert one(definition) == f"INVALID_JSON_DESCRIPTION: {message} at {location}"
