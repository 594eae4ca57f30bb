"""Definition text → dict: JSON, YAML, and AWS's INVALID_JSON_DESCRIPTION wording for text that is neither."""

from __future__ import annotations

import json

import pytest

from stateway.asl.errors import DefinitionError, Problem
from stateway.asl.loader import load_definition, load_json_definition
from stateway.asl.validate import diagnostics

PASS_MACHINE = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}


def problems_of(text: str) -> list[Problem]:
    with pytest.raises(DefinitionError) as caught:
        load_definition(text)
    return caught.value.problems


def test_json_text_loads_as_a_dict() -> None:
    assert load_definition(json.dumps(PASS_MACHINE)) == PASS_MACHINE


def test_yaml_text_loads_as_a_dict() -> None:
    text = "StartAt: A\nStates:\n  A:\n    Type: Pass\n    End: true\n"
    assert load_definition(text) == PASS_MACHINE


def test_yaml_timestamps_stay_strings() -> None:
    text = "StartAt: W\nStates:\n  W:\n    Type: Wait\n    Timestamp: 2016-03-14T01:59:00Z\n    End: true\n"
    assert load_definition(text)["States"]["W"]["Timestamp"] == "2016-03-14T01:59:00Z"


def test_not_a_definition_is_reported_as_aws_records_it() -> None:
    # Recorded by ValidateStateMachineDefinition for the text "not a definition".
    assert diagnostics(problems_of("not a definition")) == [
        {
            "severity": "ERROR",
            "code": "INVALID_JSON_DESCRIPTION",
            "message": "Unrecognized token 'not': was expecting (JSON String, Number, Array, Object or token "
            "'null', 'true' or 'false')\n at [Source: (String)\"not a definition\"; line: 1, column: 4]",
            "location": '[Source: (String)"not a definition"; line: 1, column: 4]',
        }
    ]


def test_not_a_definition_in_a_create_state_machine_error() -> None:
    with pytest.raises(DefinitionError) as caught:
        load_definition("not a definition")
    assert caught.value.message == (
        "Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: Unrecognized token 'not': was expecting "
        "(JSON String, Number, Array, Object or token 'null', 'true' or 'false') "
        'at [Source: (String)"not a definition"; line: 1, column: 4]\''
    )


@pytest.mark.parametrize("text", [" ", "", "\n\t"])
def test_blank_text_is_not_a_json_object(text: str) -> None:
    # Recorded for " ": no location.
    assert diagnostics(problems_of(text)) == [
        {
            "severity": "ERROR",
            "code": "SCHEMA_VALIDATION_FAILED",
            "message": "Definition must be a valid JSON object",
        }
    ]


@pytest.mark.parametrize("text", ["[]", "42", '"text"', "null", "- a\n- b\n"])
def test_json_or_yaml_that_is_not_an_object_is_refused(text: str) -> None:
    (problem,) = problems_of(text)
    assert (problem.code, problem.message) == (
        "SCHEMA_VALIDATION_FAILED",
        "Definition must be a valid JSON object",
    )


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        (
            "{'a': 1}",
            "Unexpected character (''' (code 39)): was expecting double-quote to start field name",
            3,
        ),
        (
            '{"a" 1}',
            "Unexpected character ('1' (code 49)): was expecting a colon to separate field name and value",
            7,
        ),
        (
            '{"a": 1 "b": 2}',
            "Unexpected character ('\"' (code 34)): was expecting comma to separate Object entries",
            10,
        ),
        (
            '{"a": [1 2]}',
            "Unexpected character ('2' (code 50)): was expecting comma to separate Array entries",
            11,
        ),
        (
            '{"a": }',
            "Unexpected character ('}' (code 125)): expected a valid value (JSON String, Number, Array, "
            "Object or token 'null', 'true' or 'false')",
            8,
        ),
        (
            '{"a": tru}',
            "Unrecognized token 'tru': was expecting (JSON String, Number, Array, Object or token "
            "'null', 'true' or 'false')",
            10,
        ),
        ('{"a": "\\q"}', "Unrecognized character escape 'q' (code 113)", 10),
        (
            '{"a": NaN}',
            "Non-standard token 'NaN': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow",
            10,
        ),
        ("{} x", "Unexpected character ('x' (code 120)): was expecting end of input", 5),
    ],
)
def test_jackson_style_messages_with_line_and_column(text: str, message: str, column: int) -> None:
    (problem,) = problems_of(text)
    assert problem.code == "INVALID_JSON_DESCRIPTION"
    assert problem.message == message
    assert problem.location == f'[Source: (String)"{text}"; line: 1, column: {column}]'


def test_unterminated_input_points_at_the_end() -> None:
    text = '{"StartAt": "A",\n "States": {'
    (problem,) = problems_of(text)
    assert problem.message.startswith("Unexpected end-of-input: expected close marker for Object")
    assert problem.location.endswith("line: 2, column: 13]")


def test_unterminated_string() -> None:
    (problem,) = problems_of('{"a": "x')
    assert problem.message == "Unexpected end-of-input: was expecting closing quote for a string value"


def test_line_and_column_count_from_the_offending_line() -> None:
    text = '{\n  "StartAt": "A",\n  "States" {}\n}'
    (problem,) = problems_of(text)
    assert problem.location.endswith("line: 3, column: 13]")


def test_long_sources_are_truncated_as_jackson_does() -> None:
    text = "{" + " " * 600 + "x}"
    (problem,) = problems_of(text)
    assert "[truncated 103 chars]" in problem.location
    assert problem.location.endswith("line: 1, column: 603]")


def test_broken_yaml_reports_yaml_position() -> None:
    (problem,) = problems_of("StartAt: A\nStates: [\n")
    assert problem.code == "INVALID_JSON_DESCRIPTION"
    assert problem.message.startswith("Invalid YAML:")
    assert "line: 3" in problem.location


def test_a_definition_nested_too_deeply_is_refused_in_aws_words() -> None:
    with pytest.raises(DefinitionError) as caught:
        load_definition('{"StartAt": ' + "[" * 5000 + "]" * 5000 + "}")
    assert str(caught.value) == ("Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: Document nesting "
                                 "depth exceeds the maximum allowed (1000) at null'")


def test_a_number_beyond_a_double_is_refused_where_it_stands() -> None:
    text = '{"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": 1e400, "End": true}}}'
    with pytest.raises(DefinitionError) as caught:
        load_definition(text)
    assert "INVALID_JSON_DESCRIPTION: Numeric value (1e400) out of range of double at [Source:" in str(caught.value)
    # Jackson's column is 1-based and points just past the number.
    assert f"line: 1, column: {text.index('1e400') + len('1e400') + 1}]" in str(caught.value)


def test_json_only_loading_refuses_yaml_in_jacksons_words() -> None:
    text = "StartAt: A\nStates:\n  A:\n    Type: Pass\n    End: true\n"
    with pytest.raises(DefinitionError) as caught:
        load_json_definition(text)
    (problem,) = caught.value.problems
    assert problem.code == "INVALID_JSON_DESCRIPTION"
    assert problem.message == ("Unrecognized token 'StartAt': was expecting (JSON String, Number, Array, Object or "
                               "token 'null', 'true' or 'false')")
    assert problem.location.endswith("line: 1, column: 8]")


@pytest.mark.parametrize("text", ["", " ", "[]", "42", "{", '{"a": NaN}', "[1e400]", "not a definition",
                                  "[" * 5000 + "]" * 5000])
def test_json_only_loading_reports_json_problems_as_load_definition_does(text: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        load_json_definition(text)
    assert caught.value.problems == problems_of(text)


def test_json_only_loading_loads_json() -> None:
    assert load_json_definition(json.dumps(PASS_MACHINE)) == PASS_MACHINE


def yaml_pass(result: str) -> str:
    return f"StartAt: P\nStates:\n  P:\n    Type: Pass\n    End: true\n    Result: {result}\n"


def test_yaml_aliases_that_expand_beyond_a_mib_are_refused_before_expanding() -> None:
    # Nine levels of ten aliases each: 569 bytes of text, 10**9 strings once expanded.
    levels = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]'] + [
        f"a{n}: &a{n} [" + ",".join([f"*a{n - 1}"] * 10) + "]" for n in range(1, 9)]
    text = "StartAt: P\nStates:\n  P:\n    Type: Pass\n    End: true\n    Result:\n" + "".join(
        f"      {line}\n" for line in levels)
    (problem,) = problems_of(text)
    assert problem.code == "INVALID_JSON_DESCRIPTION"
    assert problem.message == "Invalid YAML: its aliases expand the definition to more than 1048576 characters of JSON"


def test_yaml_aliases_within_bounds_still_load() -> None:
    text = ("Retry: &retry [{ErrorEquals: [States.ALL], MaxAttempts: 2}]\nStartAt: A\nStates:\n"
            "  A: {Type: Pass, Retry: *retry, Next: B}\n  B: &end {Type: Pass, End: true}\n  C: {<<: *end, Comment: c}\n")
    loaded = load_definition(text)
    assert loaded["States"]["A"]["Retry"] == [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2}]
    assert loaded["States"]["C"] == {"Type": "Pass", "End": True, "Comment": "c"}


@pytest.mark.parametrize(("result", "message", "column"), [
    (".nan", ".nan is not a JSON number", 13),
    ("-.inf", "-.inf is not a JSON number", 13),
    ("!!set {a, b}", "!!set is not a JSON type", 13),
    ("!!binary aGVsbG8=", "!!binary is not a JSON type", 13),
    ("!!timestamp 2016-03-14", "!!timestamp is not a JSON type", 13),
    ("!!omap [a: 1]", "!!omap is not a JSON type", 13),
    ("!!python/tuple [1]", "!!python/tuple is not a JSON type", 13),
    ("&me [1, *me]", "an alias refers to a node that contains it (a JSON value cannot contain itself)", 13),
    ("{1: one}", "the key '1' is not a string (a JSON key must be one: quote it)", 14),
    ("{? [a]: one}", "a sequence as a key is not a string (a JSON key must be one: quote it)", 16),
])
def test_yaml_values_that_are_not_json_are_refused_where_they_stand(result: str, message: str, column: int) -> None:
    (problem,) = problems_of(yaml_pass(result))
    assert (problem.code, problem.message) == ("INVALID_JSON_DESCRIPTION", f"Invalid YAML: {message}")
    assert problem.location.endswith(f"; line: 6, column: {column}]")


def test_yaml_json_scalars_and_quoted_keys_load() -> None:
    loaded = load_definition(yaml_pass('{"1": 1.5, n: null, t: true, d: 2016-03-14, big: 12345678901234567890}'))
    assert loaded["States"]["P"]["Result"] == {"1": 1.5, "n": None, "t": True, "d": "2016-03-14",
                                               "big": 12345678901234567890}
