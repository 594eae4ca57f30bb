"""Intrinsic functions behave as Step Functions runs them: every function, nesting, escapes and failures."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from stateway.asl import paths
from stateway.asl.errors import ErrorName, FailureError
from stateway.asl.intrinsics import (
    IntrinsicCall,
    IntrinsicSyntaxError,
    Literal,
    PathArgument,
    compile_intrinsic,
    evaluate_intrinsic,
    is_intrinsic,
)

CASES_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "conformance" / "sfn" / "cases"


class FixedEnv:
    """A deterministic environment: one known UUID, and a record of the random ranges asked for."""

    def __init__(self) -> None:
        self.ranges: list[tuple[int, int]] = []

    def uuid4(self) -> str:
        return "0b4e0c5e-2f1a-4c3d-9e8f-7a6b5c4d3e2f"

    def random_int(self, low: int, high: int) -> int:
        self.ranges.append((low, high))
        return low


def ev(text: str, data: Any = None, context: Any = None, variables: dict[str, Any] | None = None) -> Any:
    return evaluate_intrinsic(text, data, context or {}, variables or {}, FixedEnv())


def failure(text: str, data: Any = None, variables: dict[str, Any] | None = None) -> FailureError:
    with pytest.raises(FailureError) as caught:
        ev(text, data, variables=variables)
    return caught.value


def intrinsic_failure(text: str, data: Any = None) -> str:
    error = failure(text, data)
    assert error.failure.error == ErrorName.INTRINSIC_FAILURE
    assert error.failure.cause is not None
    return error.failure.cause


# --- recognising and compiling ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["States.UUID()", "States.Format('{}', $.a)", "  States.Array( 1 ) ", "States.NoSuchThing($.x)"],
)
def test_is_intrinsic_recognises_call_shapes(text: str) -> None:
    assert is_intrinsic(text)


@pytest.mark.parametrize("text", ["$.a", "$$.Execution.Id", "States.Format", "Hello", "$var", "States."])
def test_is_intrinsic_rejects_paths_and_plain_text(text: str) -> None:
    assert not is_intrinsic(text)


def test_compile_builds_a_tree_of_literals_paths_and_calls() -> None:
    call = compile_intrinsic(
        "States.Format('a{}b', $.x, States.MathAdd(1, -2.5), true, null, $$.Execution.Id)"
    )
    assert call.name == "States.Format"
    assert call.args[0] == Literal("a{}b", ("a", "b"))
    assert call.args[1] == PathArgument("$.x")
    inner = call.args[2]
    assert isinstance(inner, IntrinsicCall)
    assert inner.args == (Literal(1), Literal(-2.5))
    assert inner.source == "States.MathAdd(1, -2.5)"
    assert call.args[3:] == (Literal(True), Literal(None), PathArgument("$$.Execution.Id"))


def test_compile_is_cached() -> None:
    assert compile_intrinsic("States.Array(1, 2)") is compile_intrinsic("States.Array(1, 2)")


def test_path_arguments_may_contain_brackets_commas_and_parentheses() -> None:
    call = compile_intrinsic("States.Array($.a['x,y'], $.b[?(@.c == 1)], $[0])")
    assert call.args == (PathArgument("$.a['x,y']"), PathArgument("$.b[?(@.c == 1)]"), PathArgument("$[0]"))


@pytest.mark.parametrize(
    "text",
    [
        "States.NoSuchFunction(1)",
        "States.Format('unterminated",
        "States.Array(1, 2",
        "States.Array(1) trailing",
        "States.Array(1,, 2)",
        "States.Array(bogus)",
        "States.UUID(1)",
        "States.ArrayRange(1, 2)",
        "States.JsonToString()",
        "States.MathRandom(1, 2, 3, 4)",
        "States.Format()",
        "States.Array($.a[0)",
        "States.Array($.a[)",
        "States.Array($.a..)",
    ],
)
def test_malformed_calls_are_definition_errors(text: str) -> None:
    with pytest.raises(IntrinsicSyntaxError) as caught:
        compile_intrinsic(text)
    problem = caught.value.problem("out.$", "/States/P/Parameters")
    assert problem.code == "SCHEMA_VALIDATION_FAILED"
    assert problem.message == (
        "The value for the field 'out.$' must be a valid JSONPath or a valid intrinsic function call"
    )


def test_open_backslash_escape_is_a_runtime_error() -> None:
    with pytest.raises(FailureError) as caught:
        compile_intrinsic("States.Format('a\\nb')")
    assert caught.value.failure.error == ErrorName.RUNTIME


# --- string literals and escapes -------------------------------------------------------------------------


def test_string_literal_escapes() -> None:
    assert ev("States.Array('it\\'s', '\\{x\\}', 'back\\\\slash')") == ["it's", "{x}", "back\\slash"]


def test_string_literal_keeps_raw_newlines_and_unescaped_braces() -> None:
    # The corpus' escape-sequence case: a real newline inside the literal splits on a real newline.
    assert ev("States.StringSplit('Hello\nWorld', '\n')") == ["Hello", "World"]
    assert ev("States.StringToJson('{\"a\": [1]}')") == {"a": [1]}


def test_number_boolean_and_null_literals() -> None:
    assert ev("States.Array(0, -7, 1.5, 2e3, true, false, null)") == [0, -7, 1.5, 2000.0, True, False, None]


# --- path arguments ----------------------------------------------------------------------------------------


def test_path_arguments_read_input_context_and_variables() -> None:
    data = {"name": "Ada", "nested": {"n": 1}}
    context = {"Execution": {"Id": "arn:exec"}}
    assert evaluate_intrinsic(
        "States.Array($.name, $.nested, $$.Execution.Id, $who, $)",
        data,
        context,
        {"who": "var"},
        FixedEnv(),
    ) == ["Ada", {"n": 1}, "arn:exec", "var", data]


def test_missing_path_raises_path_not_found() -> None:
    with pytest.raises(paths.PathNotFound):
        ev("States.Array($.missing)", {"present": 1})


# --- States.Format --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        ("", ""),
        ("HelloWorld", "HelloWorld"),
        (None, "null"),
        (1, "1"),
        (1.1, "1.1"),
        (100.0, "100.0"),
        (1e20, "1.0E20"),
        (12345678.9, "1.23456789E7"),
        (0.0001, "1.0E-4"),
        (True, "true"),
        (False, "false"),
        ('{"Arg1": 1}', '{"Arg1": 1}'),
        ({"Arg1": 1, "Arg2": []}, "{Arg1=1, Arg2=[]}"),
        ([1, "a", None, {"k": [2.5]}], "[1, a, null, {k=[2.5]}]"),
    ],
)
def test_format_renders_each_kind_of_value(value: Any, rendered: str) -> None:
    assert ev("States.Format('v={}.', $.v)", {"v": value}) == f"v={rendered}."


def test_format_with_several_placeholders_and_template_from_path() -> None:
    data = {"t": "Hello, {} and {}!", "a": "x", "b": 2}
    assert ev("States.Format($.t, $.a, $.b)", data) == "Hello, x and 2!"
    assert ev("States.Format('no placeholders')") == "no placeholders"


def test_format_escaped_braces_are_not_placeholders() -> None:
    assert ev("States.Format('\\{\\} is {}', 'x')") == "{} is x"
    assert ev("States.Format('I\\'m {}', $.n)", {"n": "here"}) == "I'm here"


def test_format_argument_count_must_match_placeholders() -> None:
    cause = intrinsic_failure("States.Format('{} {}', 1)")
    assert "does not match" in cause
    assert cause.startswith("The function 'States.Format('{} {}', 1)' had the following error:")
    assert "does not match" in intrinsic_failure("States.Format('{}', 1, 2)")


def test_format_template_must_be_a_string() -> None:
    assert "must be a string" in intrinsic_failure("States.Format($.t)", {"t": 5})


# --- JSON manipulation --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("", None),
        (" ", None),
        ("null", None),
        ("-0", 0),
        ("1", 1),
        ("1.1", 1.1),
        ("true", True),
        ('"HelloWorld"', "HelloWorld"),
        ('[1, 2, "HelloWorld"]', [1, 2, "HelloWorld"]),
        ('{"Arg1": 1, "Arg2": []}', {"Arg1": 1, "Arg2": []}),
    ],
)
def test_string_to_json(text: str, parsed: Any) -> None:
    assert ev("States.StringToJson($.s)", {"s": text}) == parsed


@pytest.mark.parametrize("text", ["{", "[1,]", "NaN", "{'a': 1}", "1 2"])
def test_string_to_json_rejects_invalid_json(text: str) -> None:
    assert "not a valid JSON string" in intrinsic_failure("States.StringToJson($.s)", {"s": text})


def test_string_to_json_requires_a_string() -> None:
    assert "must be a string" in intrinsic_failure("States.StringToJson($.s)", {"s": {"a": 1}})


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "null"),
        (0, "0"),
        (1.1, "1.1"),
        (True, "true"),
        ("HelloWorld", '"HelloWorld"'),
        ([1, 2, "HelloWorld"], '[1,2,"HelloWorld"]'),
        ({"Arg1": 1, "Arg2": []}, '{"Arg1":1,"Arg2":[]}'),
        ({"ü": "日本"}, '{"ü":"日本"}'),
    ],
)
def test_json_to_string_is_compact(value: Any, text: str) -> None:
    assert ev("States.JsonToString($.v)", {"v": value}) == text


def test_json_merge_is_shallow_and_the_second_object_wins() -> None:
    data = {"a": {"a": {"a1": 1, "a2": 2}, "b": 2, "d": 3}, "b": {"a": {"a3": 1, "a4": 2}, "c": 3, "d": 4}}
    assert ev("States.JsonMerge($.a, $.b, false)", data) == {"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3, "d": 4}


def test_json_merge_failures() -> None:
    assert "Deep merging" in intrinsic_failure("States.JsonMerge($.a, $.a, true)", {"a": {}})
    assert "must be a JSON object" in intrinsic_failure("States.JsonMerge($.a, 1, false)", {"a": {}})
    assert "must be a boolean" in intrinsic_failure("States.JsonMerge($.a, $.a, 'no')", {"a": {}})


# --- arrays ---------------------------------------------------------------------------------------------------


def test_array() -> None:
    assert ev("States.Array()") == []
    assert ev("States.Array($.a, 'b', 3)", {"a": {"x": []}}) == [{"x": []}, "b", 3]


@pytest.mark.parametrize(
    ("items", "size", "chunks"),
    [
        ([], 1, []),
        ([0, 1, 2], 1, [[0], [1], [2]]),
        ([0, 1, 2], 2, [[0, 1], [2]]),
        ([0, 1, 2], 5, [[0, 1, 2]]),
    ],
)
def test_array_partition(items: list[int], size: int, chunks: list[list[int]]) -> None:
    assert ev("States.ArrayPartition($.a, $.n)", {"a": items, "n": size}) == chunks


def test_array_partition_failures() -> None:
    assert "greater than 0" in intrinsic_failure("States.ArrayPartition($.a, 0)", {"a": [1]})
    assert "must be an array" in intrinsic_failure("States.ArrayPartition($.a, 1)", {"a": "x"})
    assert "must be an integer" in intrinsic_failure("States.ArrayPartition($.a, 1.5)", {"a": [1]})


@pytest.mark.parametrize(
    ("items", "value", "found"),
    [
        ([], None, False),
        ([[1, 2, 3], 2], [1, 2, 3], True),
        ([{"1": 2, "2": []}], {"1": 2, "2": []}, True),
        ([{"1": 2, "2": []}], [], False),
        ([True, False], False, True),
        ([1, 0], True, False),
        ([True], 1, False),
        ([1], 1.0, True),
    ],
)
def test_array_contains(items: list[Any], value: Any, found: bool) -> None:
    assert ev("States.ArrayContains($.a, $.v)", {"a": items, "v": value}) is found


@pytest.mark.parametrize(
    ("args", "result"),
    [
        ("0, 9, 3", [0, 3, 6, 9]),
        ("0, 10, 3", [0, 3, 6, 9]),
        ("1, 9, 9", [1]),
        ("5, 1, -2", [5, 3, 1]),
        ("1, 5, -1", []),
        ("1, 1000, 1", list(range(1, 1001))),
    ],
)
def test_array_range_includes_the_end(args: str, result: list[int]) -> None:
    assert ev(f"States.ArrayRange({args})") == result


def test_array_range_failures() -> None:
    assert "must not be 0" in intrinsic_failure("States.ArrayRange(1, 5, 0)")
    assert "at most 1000" in intrinsic_failure("States.ArrayRange(0, 1000, 1)")
    assert "must be an integer" in intrinsic_failure("States.ArrayRange(0.5, 3, 1)")
    assert "must be a number" in intrinsic_failure("States.ArrayRange('0', 3, 1)")


def test_array_get_item() -> None:
    assert ev("States.ArrayGetItem($.a, $.i)", {"a": [1, 2, 3, 4, 5, 6, 7, 8, 9], "i": 5}) == 6
    assert "out of bounds" in intrinsic_failure("States.ArrayGetItem($.a, 3)", {"a": [1, 2, 3]})
    assert "out of bounds" in intrinsic_failure("States.ArrayGetItem($.a, -1)", {"a": [1, 2, 3]})


def test_array_length() -> None:
    assert ev("States.ArrayLength($.a)", {"a": [1, [2], {}]}) == 3
    assert "must be an array" in intrinsic_failure("States.ArrayLength($.a)", {"a": {"k": 1}})


def test_array_unique_keeps_first_occurrences_in_order() -> None:
    data = {"a": [1, 2, 2, 3, 1, {"k": 1}, {"k": 1}, True, 1, [1], [1]]}
    assert ev("States.ArrayUnique($.a)", data) == [1, 2, 3, {"k": 1}, True, [1]]


# --- encoding and hashing -----------------------------------------------------------------------------------


def test_base64_round_trip() -> None:
    assert ev("States.Base64Encode($.s)", {"s": "Data to encode"}) == "RGF0YSB0byBlbmNvZGU="
    assert ev("States.Base64Decode($.s)", {"s": "RGF0YSB0byBlbmNvZGU="}) == "Data to encode"
    assert ev("States.Base64Encode('')") == ""
    assert ev("States.Base64Decode('')") == ""
    assert ev("States.Base64Decode(States.Base64Encode('héllo ✓'))") == "héllo ✓"


def test_base64_decode_accepts_missing_padding() -> None:
    assert ev("States.Base64Decode('SGk')") == "Hi"


def test_base64_failures() -> None:
    assert "not a valid base64" in intrinsic_failure("States.Base64Decode('not base64!')")
    assert "must be a string" in intrinsic_failure("States.Base64Encode(1)")
    assert "at most 10000" in intrinsic_failure("States.Base64Encode($.s)", {"s": "x" * 10_001})


@pytest.mark.parametrize(
    ("algorithm", "digest"),
    [
        ("MD5", "812f45842bc6d66ee14572ce20db8e86"),
        ("SHA-1", "aaff4a450a104cd177d28d18d74485e8cae074b7"),
        ("SHA-256", "b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3"),
        (
            "SHA-384",
            "d28a7d5cf25a74f11a50a18452b75e04bb3d70c9dd0510d6123aa008c756511b87525bdc835ebb27e1fb9e9374a15562",
        ),
        (
            "SHA-512",
            "6ce4adb348546d4f449c4d25aad9a7c9cb711d9e91982d3f0b29ca2f3f47d4ce"
            "2deba23bf2954f0f1d593fc50283731a533d30d425402d4f91316d871303aac4",
        ),
    ],
)
def test_hash(algorithm: str, digest: str) -> None:
    assert ev("States.Hash($.d, $.a)", {"d": "input data", "a": algorithm}) == digest


def test_hash_rejects_unknown_algorithms() -> None:
    cause = intrinsic_failure("States.Hash('x', 'SHA-3')")
    assert "'SHA-3' is not supported" in cause
    assert "MD5, SHA-1, SHA-256, SHA-384, SHA-512" in cause
    assert "not supported" in intrinsic_failure("States.Hash('x', 'sha-256')")


# --- maths --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "total"),
    [
        (-9, 3, -6),
        (1.49, 1.5, 3),
        (1.5, 1.51, 4),
        (-1.49, -1.5, -2),
        (-1.5, -1.51, -3),
        (1.49, 0, 1),
        (1.49, -1.49, 0),
        (1.5, 0, 2),
        (1.51, 0, 2),
        (-1.49, 0, -1),
        (-1.5, 0, -1),
        (-1.51, 0, -2),
        (0.5, 0, 1),
        (2.5, 0, 3),
        (3.5, 0, 4),
        (-0.5, 0.5, 1),
        (-0.5, 0, 0),
        (-2.5, 0, -2),
        (-3.5, 0, -3),
    ],
)
def test_math_add_rounds_each_argument_half_up(a: float, b: float, total: int) -> None:
    assert ev("States.MathAdd($.a, $.b)", {"a": a, "b": b}) == total


def test_math_add_failures() -> None:
    assert "must be a number" in intrinsic_failure("States.MathAdd('1', 2)")
    assert "must be a number" in intrinsic_failure("States.MathAdd(true, 2)")
    assert "outside the range" in intrinsic_failure("States.MathAdd(2147483648, 0)")


def test_math_random_uses_env_with_an_exclusive_end() -> None:
    env = FixedEnv()
    assert evaluate_intrinsic("States.MathRandom(12.5, 44.51)", None, {}, {}, env) == 13
    assert env.ranges == [(13, 44)]


def test_math_random_with_seed_is_deterministic() -> None:
    first = ev("States.MathRandom(0, 999, 3)")
    assert first == ev("States.MathRandom(0, 999, 3)")
    assert first == random.Random(3).randint(0, 998)
    assert isinstance(first, int)


def test_math_random_failures() -> None:
    assert "less than the end" in intrinsic_failure("States.MathRandom(5, 5)")
    assert "must be a number" in intrinsic_failure("States.MathRandom('a', 5)")


# --- strings and ids ----------------------------------------------------------------------------------------


def test_string_split_splits_on_any_delimiter_character_and_drops_empty_pieces() -> None:
    text = "Value1,Value2,Value3\nValue4,Value5,Value6\n,,,\ntrue,1,'HelloWorld'\nNull,None,\n   \n"
    assert ev("States.StringSplit($.s, ',')", {"s": text}) == [
        "Value1",
        "Value2",
        "Value3\nValue4",
        "Value5",
        "Value6\n",
        "\ntrue",
        "1",
        "'HelloWorld'\nNull",
        "None",
        "\n   \n",
    ]
    assert ev("States.StringSplit('This.is+a,test=string', '.+,=')") == ["This", "is", "a", "test", "string"]
    assert ev("States.StringSplit('', ',')") == []
    assert "must be a string" in intrinsic_failure("States.StringSplit(1, ',')")


def test_uuid_comes_from_env() -> None:
    assert ev("States.UUID()") == "0b4e0c5e-2f1a-4c3d-9e8f-7a6b5c4d3e2f"


# --- nesting --------------------------------------------------------------------------------------------------


def test_nested_calls() -> None:
    context: dict[str, Any] = {"StateMachine": {"Name": "alpha-beta-gamma"}}
    last = (
        "States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), "
        "States.MathAdd(States.ArrayLength(States.StringSplit($$.StateMachine.Name, '-')), -1))"
    )
    assert evaluate_intrinsic(last, None, context, None, FixedEnv()) == "gamma"
    merged = 'States.JsonMerge(States.StringToJson(\'{"k": "false"}\'), $$.Execution.Input.f, false)'
    context = {"Execution": {"Input": {"f": {"c": "v"}}}}
    assert evaluate_intrinsic(merged, None, context, None, FixedEnv()) == {"k": "false", "c": "v"}


def test_failure_cause_names_the_innermost_failing_call() -> None:
    cause = intrinsic_failure("States.Array(States.ArrayGetItem($.a, 9))", {"a": []})
    assert cause.startswith("The function 'States.ArrayGetItem($.a, 9)' had the following error:")


# --- the AWS-recorded corpus ----------------------------------------------------------------------------------


def _corpus_cases() -> list[Any]:
    if not CASES_DIR.is_dir():
        return []
    cases = []
    for file in sorted(CASES_DIR.glob("intrinsic_functions_*.json")):
        case = json.loads(file.read_text())
        if case.get("category") == "intrinsic functions":
            cases.append(pytest.param(case, id=case["id"].split("::", 1)[-1]))
    return cases


def _matches(expected: Any, actual: Any) -> bool:
    """Compare with the corpus rules: a `<...>` token in an expected string matches any name."""
    if isinstance(expected, str) and isinstance(actual, str):
        parts = re.split(r"<[^<>]*>", expected)
        return re.fullmatch(".+".join(map(re.escape, parts)), actual, re.DOTALL) is not None
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(_matches(expected[k], actual[k]) for k in expected)
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(
            _matches(e, a) for e, a in zip(expected, actual, strict=True)
        )
    return type(expected) is type(actual) and expected == actual


def _apply_parameters(template: Any, data: Any, context: Any) -> Any:
    """The Parameters of these one-state machines: `.$` values are intrinsic calls or paths."""
    if isinstance(template, dict):
        result = {}
        for key, value in template.items():
            if key.endswith(".$"):
                if is_intrinsic(value):
                    result[key[:-2]] = evaluate_intrinsic(value, data, context, {}, FixedEnv())
                else:
                    result[key[:-2]] = paths.evaluate_path(value, data, context, {})
            else:
                result[key] = _apply_parameters(value, data, context)
        return result
    return template


@pytest.mark.parametrize("case", _corpus_cases())
def test_corpus_intrinsic_functions(case: dict[str, Any]) -> None:
    (state,) = case["definition"]["States"].values()
    context = {"Execution": {"Input": case["input"]}, "StateMachine": {"Name": "machine-name"}}
    output = _apply_parameters(state["Parameters"], case["input"], context)
    if "ResultPath" in state:
        # Only simple one-level ResultPaths appear in this category.
        output = {**case["input"], state["ResultPath"].removeprefix("$."): output}
    if "OutputPath" in state:
        output = paths.evaluate_path(state["OutputPath"], output, context, {})
    expected = case["expected"]
    assert expected["status"] == "SUCCEEDED"
    if expected["output"].get("FunctionResult") == "RandomNumberGenerated":
        # The recording replaced the random number; check it is an integer in [start, end).
        numbers = case["input"]["FunctionInput"]
        assert isinstance(output["FunctionResult"], int)
        assert numbers["fst"] - 1 <= output["FunctionResult"] <= numbers["snd"]
        return
    assert _matches(expected["output"], output)


def test_corpus_is_present_or_skipped() -> None:
    if not CASES_DIR.is_dir():
        pytest.skip(f"conformance corpus not found at {CASES_DIR}")
    assert len(_corpus_cases()) == 89


def test_a_call_that_cannot_run_fails_the_state_when_evaluated() -> None:
    # Validation refuses it at creation; a machine stored before that check fails the state instead.
    with pytest.raises(FailureError) as caught:
        evaluate_intrinsic("States.ArrayGetItem()", {}, {}, {}, FixedEnv())
    assert caught.value.failure.error == ErrorName.INTRINSIC_FAILURE.value
    assert "States.ArrayGetItem takes 2 argument(s), got 0" in (caught.value.failure.cause or "")
