"""Choice rules: parsing, every operator and its Path form, nesting, type mismatches, timestamps, misses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stateway.asl.choice import (
    And,
    ChoiceRule,
    Condition,
    DataTest,
    Not,
    Or,
    evaluate_choice_rule,
    parse_choice_rule,
    parse_timestamp,
    select_choice,
)
from stateway.asl.errors import DefinitionError, FailureError

LOCATION = "/States/Check/Choices[0]"


def rule(**fields: Any) -> ChoiceRule:
    return parse_choice_rule({**fields, "Next": "Yes"}, LOCATION)


def matches(fields: dict[str, Any], data: Any, **kwargs: Any) -> bool:
    return evaluate_choice_rule(rule(**fields), data, **kwargs)


def check_value(operator: str, operand: Any, value: Any) -> bool:
    return matches({"Variable": "$.v", operator: operand}, {"v": value})


def check_path(operator: str, value: Any, other: Any) -> bool:
    return matches({"Variable": "$.v", f"{operator}Path": "$.o"}, {"v": value, "o": other})


def problems(raw: Any) -> list[tuple[str, str, str]]:
    with pytest.raises(DefinitionError) as caught:
        parse_choice_rule(raw, LOCATION)
    return [(p.code, p.message, p.location) for p in caught.value.problems]


# ---------------------------------------------------------------------------------------------- parse


def test_parse_keeps_next_assign_and_a_typed_expression() -> None:
    parsed = parse_choice_rule(
        {"Variable": "$.x", "NumericEquals": 1, "Next": "Done", "Assign": {"n.$": "$.x"}, "Comment": "c"},
        LOCATION,
    )
    assert parsed.next == "Done"
    assert parsed.assign == {"n.$": "$.x"}
    assert parsed.location == LOCATION
    assert parsed.expression == DataTest("$.x", "NumericEquals", 1)


def test_parse_nested_rules() -> None:
    parsed = parse_choice_rule(
        {
            "And": [
                {"Not": {"Variable": "$.a", "IsNull": True}},
                {"Or": [{"Variable": "$.b", "StringEquals": "x"}, {"Variable": "$.c", "IsPresent": True}]},
            ],
            "Next": "N",
        },
        LOCATION,
    )
    assert isinstance(parsed.expression, And)
    first, second = parsed.expression.rules
    assert isinstance(first, Not) and isinstance(first.rule, DataTest)
    assert isinstance(second, Or) and len(second.rules) == 2


def test_parse_jsonata_condition_keeps_output() -> None:
    parsed = parse_choice_rule({"Condition": "{% $x = 1 %}", "Next": "N", "Output": "o"}, LOCATION)
    assert parsed.expression == Condition("{% $x = 1 %}")
    assert parsed.output == "o" and parsed.has_output


def test_literal_condition_evaluates() -> None:
    assert evaluate_choice_rule(parse_choice_rule({"Condition": True, "Next": "N"}, LOCATION), {})
    assert not evaluate_choice_rule(parse_choice_rule({"Condition": False, "Next": "N"}, LOCATION), {})


def test_top_level_rule_requires_next() -> None:
    assert problems({"Variable": "$.x", "IsNull": True}) == [
        ("SCHEMA_VALIDATION_FAILED", "These fields are required: [Next]", LOCATION)
    ]


def test_nested_rule_must_not_carry_next() -> None:
    found = problems({"Not": {"Variable": "$.x", "IsNull": True, "Next": "N"}, "Next": "N"})
    assert found == [("SCHEMA_VALIDATION_FAILED", "Field 'Next' is not supported", f"{LOCATION}/Not")]


@pytest.mark.parametrize(
    ("raw", "message", "where"),
    [
        ({"Variable": "$.x", "Next": "N"}, "These fields are required: [one of", ""),
        (
            {"Variable": "$.x", "IsNull": True, "IsString": True, "Next": "N"},
            "There should only be one of the following fields: [IsNull, IsString]",
            "",
        ),
        ({"StringEquals": "a", "Next": "N"}, "These fields are required: [Variable]", ""),
        ({"Variable": "x", "IsNull": True, "Next": "N"}, "must be a valid JSONPath", "/Variable"),
        ({"Variable": "$.a[", "IsNull": True, "Next": "N"}, "must be a valid JSONPath", "/Variable"),
        ({"Variable": "$.x", "StringEquals": 1, "Next": "N"}, "must be a STRING", "/StringEquals"),
        ({"Variable": "$.x", "NumericEquals": "1", "Next": "N"}, "must be a NUMBER", "/NumericEquals"),
        ({"Variable": "$.x", "NumericEquals": True, "Next": "N"}, "must be a NUMBER", "/NumericEquals"),
        ({"Variable": "$.x", "BooleanEquals": 1, "Next": "N"}, "must be a BOOLEAN", "/BooleanEquals"),
        ({"Variable": "$.x", "IsPresent": "yes", "Next": "N"}, "must be a BOOLEAN", "/IsPresent"),
        ({"Variable": "$.x", "StringMatches": 3, "Next": "N"}, "must be a STRING", "/StringMatches"),
        (
            {"Variable": "$.x", "StringEqualsPath": "a", "Next": "N"},
            "must be a valid JSONPath",
            "/StringEqualsPath",
        ),
        (
            {"Variable": "$.x", "TimestampEquals": "2020-01-01", "Next": "N"},
            "String does not match RFC3339 timestamp",
            "/TimestampEquals",
        ),
        ({"And": [], "Next": "N"}, "Value cannot be empty", "/And"),
        ({"Or": {"Variable": "$.x", "IsNull": True}, "Next": "N"}, "must be an ARRAY", "/Or"),
        ({"Not": [], "Next": "N"}, "must be an OBJECT", "/Not"),
        (
            {"Variable": "$.x", "Not": {"Variable": "$.x", "IsNull": True}, "Next": "N"},
            "'Variable' is not",
            "",
        ),
        ({"Variable": "$.x", "IsNull": True, "Bogus": 1, "Next": "N"}, "Field 'Bogus' is not supported", ""),
        ({"Variable": "$.x", "IsNull": True, "Next": 3}, "must be a STRING", "/Next"),
        (
            {"Variable": "$.x", "IsNull": True, "Next": "N", "Output": 1},
            "only supported for the 'JSONata'",
            "",
        ),
        ({"Condition": 3, "Next": "N"}, "'Condition' must be", "/Condition"),
    ],
)
def test_malformed_rules_are_refused_in_aws_words(raw: dict[str, Any], message: str, where: str) -> None:
    found = problems(raw)
    assert any(
        code == "SCHEMA_VALIDATION_FAILED" and message in text and location == LOCATION + where
        for code, text, location in found
    ), found


def test_nested_problems_point_at_the_nested_rule() -> None:
    found = problems({"And": [{"Variable": "$.a", "IsNull": True}, {"Variable": "$.b"}], "Next": "N"})
    assert [location for _, _, location in found] == [f"{LOCATION}/And[1]"]


def test_query_language_mismatch_is_refused() -> None:
    with pytest.raises(DefinitionError, match="only supported for the 'JSONata'"):
        parse_choice_rule({"Condition": True, "Next": "N"}, LOCATION, query_language="JSONPath")
    with pytest.raises(DefinitionError, match="'Condition' is required"):
        parse_choice_rule(
            {"Variable": "$.x", "IsNull": True, "Next": "N"}, LOCATION, query_language="JSONata"
        )


# ------------------------------------------------------------------------------------------- strings


@pytest.mark.parametrize(
    ("operator", "operand", "value", "expected"),
    [
        ("StringEquals", "Hello", "Hello", True),
        ("StringEquals", "Hello", "hello", False),
        ("StringEquals", "\t\r\n", "\t\n", False),
        ("StringLessThan", "AB", "A", True),
        ("StringLessThan", "A", "A", False),
        ("StringGreaterThan", "A", "AB", True),
        ("StringGreaterThan", "a", "B", False),  # code point order: 'B' (66) sorts before 'a' (97)
        ("StringLessThanEquals", "A", "A", True),
        ("StringLessThanEquals", "A", "AB", False),
        ("StringGreaterThanEquals", "", "", True),
        ("StringGreaterThanEquals", "AB", "A", False),
        ("StringLessThan", "\U0001f600", "\uffff", True),  # by code point, not UTF-16 unit
    ],
)
def test_string_comparisons(operator: str, operand: str, value: str, expected: bool) -> None:
    assert check_value(operator, operand, value) is expected
    assert check_path(operator, value, operand) is expected


@pytest.mark.parametrize("value", [None, 0, 1.5, True, [], ["Hello"], {}, {"A": "Hello"}])
@pytest.mark.parametrize(
    "operator",
    [
        "StringEquals",
        "StringLessThan",
        "StringGreaterThan",
        "StringLessThanEquals",
        "StringGreaterThanEquals",
    ],
)
def test_string_operators_are_false_for_non_strings(operator: str, value: Any) -> None:
    assert check_value(operator, "Hello", value) is False
    assert check_path(operator, value, "Hello") is False
    assert check_path(operator, "Hello", value) is False


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("log-*.txt", "log-2024.txt", True),
        ("log-*.txt", "log-.txt", True),
        ("log-*.txt", "log-1.txt.bak", False),
        ("*", "", True),
        ("*", "anything\nat all", True),
        ("a*b*c", "aXXbYYc", True),
        ("a*b*c", "acb", False),
        ("exact", "exact", True),
        ("exact", "exactly", False),
        ("a.c", "abc", False),  # regex metacharacters are literal
        ("a\\*c", "a*c", True),  # \* is a literal asterisk
        ("a\\*c", "abc", False),
        ("a\\\\*", "a\\anything", True),  # \\ is a literal backslash, then a wildcard
        ("a\\\\*", "a", False),
        ("a\\\\\\*", "a\\*", True),
    ],
)
def test_string_matches(pattern: str, value: str, expected: bool) -> None:
    assert check_value("StringMatches", pattern, value) is expected


def test_string_matches_is_false_for_non_strings() -> None:
    assert check_value("StringMatches", "*", 1) is False
    assert check_value("StringMatches", "*", None) is False


# ------------------------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("operator", "operand", "value", "expected"),
    [
        ("NumericEquals", 1, 1.0, True),
        ("NumericEquals", 0.0, 0, True),
        ("NumericEquals", 2.22, 2.22, True),
        ("NumericEquals", 1, 1.1, False),
        ("NumericLessThan", 1, 0, True),
        ("NumericLessThan", 1, 1.0, False),
        ("NumericGreaterThan", 0, 1, True),
        ("NumericGreaterThan", 0, 0.0, False),
        ("NumericLessThanEquals", 1, 1, True),
        ("NumericLessThanEquals", 0, 1, False),
        ("NumericGreaterThanEquals", 0, 0.0, True),
        ("NumericGreaterThanEquals", 1, 0, False),
        ("NumericGreaterThan", -1.5, -1, True),
        ("NumericEquals", 10**20, 10**20, True),
    ],
)
def test_numeric_comparisons(operator: str, operand: float, value: float, expected: bool) -> None:
    assert check_value(operator, operand, value) is expected
    assert check_path(operator, value, operand) is expected


@pytest.mark.parametrize("value", [None, "", "1", True, False, [], [1], {}, {"A": 0}])
@pytest.mark.parametrize(
    "operator",
    [
        "NumericEquals",
        "NumericLessThan",
        "NumericGreaterThan",
        "NumericLessThanEquals",
        "NumericGreaterThanEquals",
    ],
)
def test_numeric_operators_are_false_for_non_numbers(operator: str, value: Any) -> None:
    assert check_value(operator, 1, value) is False
    assert check_path(operator, value, 1) is False
    assert check_path(operator, 1, value) is False


# ------------------------------------------------------------------------------------------ booleans


@pytest.mark.parametrize(
    ("operand", "value", "expected"),
    [(True, True, True), (False, False, True), (True, False, False), (False, True, False)],
)
def test_boolean_equals(operand: bool, value: bool, expected: bool) -> None:
    assert check_value("BooleanEquals", operand, value) is expected
    assert check_path("BooleanEquals", value, operand) is expected


@pytest.mark.parametrize("value", [None, 0, 1, 0.0, "", "true", [], {}])
def test_boolean_equals_is_false_for_non_booleans(value: Any) -> None:
    assert check_value("BooleanEquals", True, value) is False
    assert check_value("BooleanEquals", False, value) is False
    assert check_path("BooleanEquals", value, False) is False
    assert check_path("BooleanEquals", True, value) is False


# ---------------------------------------------------------------------------------------- timestamps


@pytest.mark.parametrize(
    ("operator", "operand", "value", "expected"),
    [
        ("TimestampEquals", "2012-10-09T19:00:55Z", "2012-10-09T19:00:55Z", True),
        ("TimestampEquals", "2012-10-09T19:00:55Z", "2012-10-09T20:00:55+01:00", True),  # same instant
        ("TimestampEquals", "2012-10-09T19:00:55Z", "2012-10-09T19:00:55.000Z", True),
        ("TimestampEquals", "2012-10-09T19:00:55Z", "2012-10-09T19:00:55.000000001Z", False),
        ("TimestampLessThan", "2012-10-09T19:00:56Z", "2012-10-09T19:00:55Z", True),
        ("TimestampLessThan", "2012-10-09T19:00:55Z", "2012-10-09T19:00:55Z", False),
        ("TimestampGreaterThan", "2012-10-09T19:00:55Z", "2012-10-09T19:00:55.5Z", True),
        ("TimestampGreaterThan", "2012-10-09T19:00:55Z", "2012-10-09T19:00:55-00:30", True),
        ("TimestampLessThanEquals", "2012-10-09T19:00:55Z", "2012-10-09T19:00:55Z", True),
        ("TimestampLessThanEquals", "2012-10-09T19:00:55Z", "2012-10-09T19:00:56Z", False),
        ("TimestampGreaterThanEquals", "2012-10-09T19:00:56Z", "2012-10-09T19:00:55Z", False),
        ("TimestampGreaterThanEquals", "2012-10-09T19:00:55Z", "2012-10-09T19:00:56Z", True),
    ],
)
def test_timestamp_comparisons(operator: str, operand: str, value: str, expected: bool) -> None:
    assert check_value(operator, operand, value) is expected
    assert check_path(operator, value, operand) is expected


@pytest.mark.parametrize(
    "value",
    [
        "2012-10-09T19:00:55",  # no offset
        "2012-10-09",
        "2012-10-09t19:00:55Z",  # lowercase t
        "2012-10-09T19:00:55z",  # lowercase z
        "2012-10-09 19:00:55Z",
        "2012-10-09T19:00:55+0100",
        "2012-13-09T19:00:55Z",
        "2013-02-29T19:00:55Z",
        "2012-10-09T24:00:00Z",
        "",
        1349809255,
        None,
        True,
    ],
)
def test_timestamp_operators_are_false_for_non_timestamps(value: Any) -> None:
    assert check_value("TimestampEquals", "2012-10-09T19:00:55Z", value) is False
    assert check_path("TimestampLessThan", value, "2012-10-09T19:00:55Z") is False
    assert check_path("TimestampGreaterThan", "2012-10-09T19:00:55Z", value) is False


def test_parse_timestamp_accepts_rfc3339() -> None:
    assert parse_timestamp("2016-03-14T01:59:00Z") is not None
    assert parse_timestamp("2016-03-14T01:59:00.123456789-05:00") is not None
    assert parse_timestamp("2016-02-29T00:00:00Z") is not None
    assert parse_timestamp("2016-03-14T01:59:00") is None


# ----------------------------------------------------------------------------------- type tests


@pytest.mark.parametrize(
    ("value", "null", "numeric", "string", "boolean", "timestamp"),
    [
        (None, True, False, False, False, False),
        (0, False, True, False, False, False),
        (1.1, False, True, False, False, False),
        ("", False, False, True, False, False),
        ("1", False, False, True, False, False),
        ("2012-10-09T19:00:55Z", False, False, True, False, True),
        ("2012-10-09T19:00:55+01:00", False, False, True, False, True),
        ("2012-10-09T19:00:55", False, False, True, False, False),
        ("2023-02-24", False, False, True, False, False),
        (True, False, False, False, True, False),
        (False, False, False, False, True, False),
        ([], False, False, False, False, False),
        ({}, False, False, False, False, False),
    ],
)
def test_type_tests(
    value: Any, null: bool, numeric: bool, string: bool, boolean: bool, timestamp: bool
) -> None:
    for operator, expected in [
        ("IsNull", null),
        ("IsNumeric", numeric),
        ("IsString", string),
        ("IsBoolean", boolean),
        ("IsTimestamp", timestamp),
    ]:
        assert check_value(operator, True, value) is expected, operator
        assert check_value(operator, False, value) is (not expected), operator


def test_is_present() -> None:
    assert check_value("IsPresent", True, None) is True
    assert check_value("IsPresent", False, None) is False
    assert matches({"Variable": "$.missing", "IsPresent": True}, {}) is False
    assert matches({"Variable": "$.missing", "IsPresent": False}, {}) is True
    assert matches({"Variable": "$.a.b", "IsPresent": False}, {"a": 1}) is True


# ------------------------------------------------------------------------------------ missing paths


MISSING_CAUSE = "Invalid path '{}': The choice state's condition path references an invalid value."


@pytest.mark.parametrize(
    "operator_and_operand",
    [
        ("StringEquals", "a"),
        ("NumericEquals", 1),
        ("BooleanEquals", True),
        ("TimestampEquals", "2012-10-09T19:00:55Z"),
        ("StringMatches", "*"),
        ("IsNull", True),
        ("IsNull", False),
        ("IsString", False),
    ],
)
def test_missing_variable_fails_with_states_runtime(operator_and_operand: tuple[str, Any]) -> None:
    operator, operand = operator_and_operand
    with pytest.raises(FailureError) as caught:
        matches({"Variable": "$.missing", operator: operand}, {"present": 1})
    assert caught.value.failure.error == "States.Runtime"
    assert caught.value.failure.cause == MISSING_CAUSE.format("$.missing")


def test_missing_comparison_path_fails_with_states_runtime() -> None:
    with pytest.raises(FailureError) as caught:
        matches({"Variable": "$.v", "StringEqualsPath": "$.other"}, {"v": "a"})
    assert caught.value.failure.error == "States.Runtime"
    assert caught.value.failure.cause == MISSING_CAUSE.format("$.other")


def test_missing_path_inside_not_still_fails() -> None:
    with pytest.raises(FailureError):
        matches({"Not": {"Variable": "$.missing", "StringEquals": "a"}}, {})


# ------------------------------------------------------------------------------------------ nesting


def test_and_or_not() -> None:
    in_twenties = {
        "And": [
            {"Variable": "$.value", "NumericGreaterThanEquals": 20},
            {"Variable": "$.value", "NumericLessThan": 30},
        ]
    }
    assert matches(in_twenties, {"value": 22}) is True
    assert matches(in_twenties, {"value": 30}) is False
    assert matches({"Or": [in_twenties, {"Variable": "$.value", "NumericEquals": 0}]}, {"value": 0}) is True
    assert matches({"Not": in_twenties}, {"value": 22}) is False
    assert matches({"Not": {"Not": in_twenties}}, {"value": 22}) is True
    assert matches({"And": [{"Variable": "$.t", "StringEquals": "Public"}]}, {"t": "Public"}) is True


def test_and_or_short_circuit_before_a_missing_path() -> None:
    guard = {"Variable": "$.x", "IsPresent": True}
    use = {"Variable": "$.x", "NumericEquals": 1}
    assert matches({"And": [guard, use]}, {}) is False
    assert matches({"Or": [{"Not": guard}, use]}, {}) is True


# -------------------------------------------------------------------------- context and variables


def test_variable_may_be_a_context_path() -> None:
    context = {"Execution": {"Input": {"n": 0}}}
    assert matches({"Variable": "$$.Execution.Input.n", "NumericLessThanEquals": 0}, {}, context=context)


def test_variable_may_be_a_workflow_variable() -> None:
    variables = {"status": {"code": "OK"}}
    assert matches({"Variable": "$status.code", "StringEquals": "OK"}, {}, variables=variables)
    assert matches({"Variable": "$.v", "StringEqualsPath": "$status.code"}, {"v": "OK"}, variables=variables)


def test_select_choice_takes_the_first_match_in_order() -> None:
    rules = [
        parse_choice_rule({"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"}, LOCATION),
        parse_choice_rule({"Variable": "$.n", "NumericGreaterThan": 0, "Next": "Positive"}, LOCATION),
        parse_choice_rule({"Variable": "$.n", "NumericGreaterThan": 5, "Next": "Never"}, LOCATION),
    ]
    assert select_choice(rules, {"n": 20}).next == "Big"  # type: ignore[union-attr]
    assert select_choice(rules, {"n": 7}).next == "Positive"  # type: ignore[union-attr]
    assert select_choice(rules, {"n": -1}) is None


# --------------------------------------------------------------------------- recorded AWS behaviour

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "conformance" / "sfn" / "cases"


def _choice_cases() -> list[Any]:
    if not CORPUS.is_dir():
        return [
            pytest.param(None, marks=pytest.mark.skip(reason=f"conformance corpus not found at {CORPUS}"))
        ]
    cases = []
    for file in sorted(CORPUS.glob("*.json")):
        case = json.loads(file.read_text())
        definition = case.get("definition")
        if case["kind"] != "execution" or not isinstance(definition, dict) or "StartAt" not in definition:
            continue
        start = definition["States"][definition["StartAt"]]
        if start.get("Type") != "Choice" or definition.get("QueryLanguage") == "JSONata":
            continue
        if any(isinstance(r.get("Condition"), str) for r in start["Choices"]):
            continue  # JSONata expressions: the JSONata milestone
        if case["category"] == "choice" or case["expected"].get("history"):
            cases.append(pytest.param(case, id=case["id"]))
    return cases


@pytest.mark.parametrize("case", _choice_cases())
def test_corpus_choice_takes_the_recorded_branch(case: dict[str, Any]) -> None:
    definition, data = case["definition"], case["input"]
    name = definition["StartAt"]
    state = definition["States"][name]
    rules = [parse_choice_rule(raw, f"/States/{name}/Choices[{i}]") for i, raw in enumerate(state["Choices"])]
    context = {"Execution": {"Input": data}, "State": {"Name": name}}
    chosen = select_choice(rules, data, context)
    taken = chosen.next if chosen else state.get("Default")
    expected = case["expected"]
    if expected.get("history"):
        entered = [
            e["stateEnteredEventDetails"]["name"]
            for e in expected["history"]
            if "stateEnteredEventDetails" in e
        ]
        assert taken == entered[1]
    else:
        # The operator tests name the branch taken in their output.
        assert taken == expected["output"]["TestResult.$"]
