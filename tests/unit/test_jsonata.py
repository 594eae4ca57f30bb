"""stateway.asl.jsonata: AWS's JSONata functions, $states and variables, templates, AWS causes, budgets, corpus."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from stateway.asl import jsonata
from stateway.asl.errors import FailureError
from stateway.asl.jsonata import (
    CompiledExpression,
    JsonataSyntaxError,
    Limits,
    compile_expression,
    evaluate,
    evaluate_template,
    is_expression,
    type_failure,
)


class FakeEnv:
    """A recorded world: fixed clock, scripted UUIDs and random numbers, counting draws."""

    def __init__(self, now_ms: int = 1_704_067_200_123) -> None:
        self.now_ms = now_ms
        self.uuids = 0
        self.randoms = 0

    def uuid4(self) -> str:
        self.uuids += 1
        return f"00000000-0000-4000-8000-{self.uuids:012d}"

    def random(self) -> float:
        self.randoms += 1
        return 0.25 * self.randoms

    def random_int(self, low: int, high: int) -> int:
        return low


STATES = {
    "input": {"a": 1, "items": [1, 2, 3], "o": {"x": [{"v": 1}, {"v": 2}]}, "n": None, "f": 1.5},
    "context": {"Execution": {"Id": "arn:exec"}, "State": {"Name": "S"}},
}


def ev(
    text: str,
    variables: dict[str, Any] | None = None,
    env: FakeEnv | None = None,
    states: dict[str, Any] | None = None,
    field: str = "Output",
    **kwargs: Any,
) -> Any:
    return evaluate(
        text,
        states=STATES if states is None else states,
        variables=variables or {},
        env=env or FakeEnv(),
        field=field,
        **kwargs,
    )


def cause_of(text: str, field: str = "Output", **kwargs: Any) -> str:
    with pytest.raises(FailureError) as caught:
        ev(text, field=field, **kwargs)
    assert caught.value.failure.error == "States.QueryEvaluationError"
    assert caught.value.failure.cause is not None
    return caught.value.failure.cause


# ---- recognising and compiling ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{% $x %}", True),
        ("{%$x%}", True),
        (" {% states.input %} ", False),  # AWS keeps padded strings as literals (BASE_LAMBDA_LITERALS)
        ("{% $x", False),
        ("$states.input", False),
        ("{%%}", True),
        ("{%}", False),
        (1, False),
        (None, False),
    ],
)
def test_is_expression(value: Any, expected: bool) -> None:
    assert is_expression(value) is expected


def test_compile_is_cached_and_keeps_source() -> None:
    first = compile_expression("{%   $states.input.a  %}")
    assert isinstance(first, CompiledExpression)
    assert first.source == "$states.input.a"
    assert compile_expression("{%   $states.input.a  %}") is first
    assert ev(first) == 1


@pytest.mark.parametrize("text", ["{% $sum( %}", "{%  %}", "{% ) %}", "not an expression"])
def test_syntax_errors_are_definition_problems(text: str) -> None:
    with pytest.raises(JsonataSyntaxError) as caught:
        compile_expression(text)
    problem = caught.value.problem("/States/A/Output")
    assert problem.code == "SCHEMA_VALIDATION_FAILED"
    assert problem.location == "/States/A/Output"
    assert "JSONata expression" in problem.message


def test_syntax_error_positions_refer_to_the_written_expression() -> None:
    with pytest.raises(JsonataSyntaxError) as caught:
        compile_expression("{% $sum(1 %}")
    assert caught.value.code == "S0203"
    assert caught.value.position == len("$sum(1")


# ---- $states and variables -------------------------------------------------------------------------------------


def test_states_bindings() -> None:
    assert ev("{% $states.input.a %}") == 1
    assert ev("{% $states.input.o.x.v %}") == [1, 2]
    assert ev("{% $states.input.o.x[v=2] %}") == {"v": 2}
    assert ev("{% $states.context.Execution.Id %}") == "arn:exec"
    assert ev("{% $states.input.n %}") is None  # null is a value, unlike undefined
    states = {"input": {}, "context": {}, "result": {"Payload": 7}, "errorOutput": {"Error": "E"}}
    assert ev("{% [$states.result.Payload, $states.errorOutput.Error] %}", states=states) == [7, "E"]


def test_variables_and_aws_names_win() -> None:
    assert ev("{% $sum($states.input.items) + $k %}", {"k": 10}) == 16
    assert ev("{% $v.deep[1] %}", {"v": {"deep": [0, "x"]}}) == "x"
    # A workflow variable cannot shadow $states.
    assert ev("{% $states.input.a %}", {"states": {"input": {"a": 99}}}) == 1


def test_numbers_come_back_as_int_when_integral() -> None:
    for text, expected in [
        ("{% $states.input.f * 2 %}", 3),
        ("{% 10 / 4 %}", 2.5),
        ("{% 1e3 %}", 1000),
        ("{% -0 %}", 0),
        ("{% [1.0, 2.50] %}", [1, 2.5]),
        ("{% 1e20 %}", 10**20),
    ]:
        result = ev(text)
        assert result == expected and type(result) is type(expected), text


def test_jsonata_2_0_6_behaviour() -> None:
    assert ev("{% $contains('hello$world', /^hello\\$/) %}") is True
    assert ev("{% $contains('hello$world', /^hello\\ /) %}") is False
    assert ev("{% $string(0.1 + 0.2) %}") == "0.3"
    assert ev("{% $round(2.5) %}") == 2
    assert ev("{% $number('2') %}") == 2
    assert ev("{% $states.input.items[$ > 1] %}") == [2, 3]
    assert ev("{% $states.input.items[0] %}") == 1
    assert ev("{% $map([1,2,3], function($v){ $v * 2 }) %}") == [2, 4, 6]
    assert ev("{% $fromMillis(0) %}") == "1970-01-01T00:00:00.000Z"
    assert ev("{% $exists($status) ? 'completed' : 'running' %}") == "running"
    assert ev("{% $variable := 1 %}") == 1


# ---- AWS's functions -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("array", "size", "expected"),
    [
        ([0], 1, [[0]]),
        ([0, 1, 2], 2, [[0, 1], [2]]),
        ([0, 1, 2], 5, [[0, 1, 2]]),
        ([], 2, []),
    ],
)
def test_partition(array: list[int], size: int, expected: Any) -> None:
    assert ev("{% $partition($a, $n) %}", {"a": array, "n": size}) == expected


def test_partition_rejects_bad_sizes() -> None:
    assert "threw an error during evaluation" in cause_of("{% $partition([1], 0) %}")
    assert "threw an error during evaluation" in cause_of("{% $partition([1], 1.5) %}")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((0, 9, 3), [0, 3, 6, 9]),
        ((0, 10, 3), [0, 3, 6, 9]),
        ((1, 9, 2), [1, 3, 5, 7, 9]),
        ((1, 9, 9), 1),  # a single value comes back bare, as the corpus records
        ((5, 1, -2), [5, 3, 1]),
    ],
)
def test_range(args: tuple[int, int, int], expected: Any) -> None:
    assert ev("{% $range($s, $e, $t) %}", {"s": args[0], "e": args[1], "t": args[2]}) == expected


def test_range_errors() -> None:
    assert "returned nothing (undefined)" in cause_of("{% $range(5, 1, 1) %}")
    assert "threw an error during evaluation" in cause_of("{% $range(0, 1, 0) %}")


@pytest.mark.parametrize(
    ("algorithm", "name"),
    [
        ("MD5", "md5"),
        ("SHA-1", "sha1"),
        ("SHA-256", "sha256"),
        ("SHA-384", "sha384"),
        ("SHA-512", "sha512"),
    ],
)
def test_hash(algorithm: str, name: str) -> None:
    assert (
        ev("{% $hash('input data', $alg) %}", {"alg": algorithm})
        == hashlib.new(name, b"input data").hexdigest()
    )


def test_hash_rejects_unknown_algorithm() -> None:
    assert "SHA-256" in cause_of("{% $hash('x', 'SHA-3') %}")


def test_random_comes_from_env_unless_seeded() -> None:
    env = FakeEnv()
    assert ev("{% [$random(), $random()] %}", env=env) == [0.25, 0.5]
    assert env.randoms == 2
    seeded = ev("{% $random(42) %}", env=env)
    assert seeded == ev("{% $random(42) %}") and 0 <= seeded < 1
    assert ev("{% $random(7) %}") != seeded
    assert env.randoms == 2  # a seeded value draws nothing from the world
    assert "T0410" in cause_of("{% $random('x') %}")


def test_uuid_comes_from_env() -> None:
    env = FakeEnv()
    assert ev("{% $uuid() %}", env=env) == "00000000-0000-4000-8000-000000000001"
    assert ev("{% $uuid() %}", env=env) == "00000000-0000-4000-8000-000000000002"
    assert "T0410" in cause_of("{% $uuid(1) %}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-0", 0),
        ("1", 1),
        ("1.1", 1.1),
        ("true", True),
        ('"HelloWorld"', "HelloWorld"),
        ('[1, 2, "HelloWorld"]', [1, 2, "HelloWorld"]),
        ('{"Arg1": 1, "Arg2": []}', {"Arg1": 1, "Arg2": []}),
    ],
)
def test_parse(text: str, expected: Any) -> None:
    result = ev("{% $parse($t) %}", {"t": text})
    assert result == expected and type(result) is type(expected)


def test_parse_rejects_invalid_json() -> None:
    assert "threw an error during evaluation" in cause_of("{% $parse('{nope') %}")
    assert "threw an error during evaluation" in cause_of("{% $parse('NaN') %}")


def test_clock_reads_env() -> None:
    env = FakeEnv(now_ms=1_704_067_200_123)
    assert ev("{% $millis() %}", env=env) == 1_704_067_200_123
    assert ev("{% $now() %}", env=env) == "2024-01-01T00:00:00.123Z"
    assert ev("{% $now('[Y0001]-[M01]-[D01]') %}", env=FakeEnv(now_ms=0)) == "1970-01-01"


def test_eval_is_not_available() -> None:
    cause = cause_of("{% $eval('1 + 1') %}")
    assert cause.endswith("threw an error during evaluation. T1006: Attempted to invoke a non-function")


# ---- errors with AWS's causes ----------------------------------------------------------------------------------


def test_undefined_cause() -> None:
    assert cause_of("{% $doesNotExist %}", field="Arguments/FunctionName") == (
        "The JSONata expression '$doesNotExist' specified for the field 'Arguments/FunctionName' "
        "returned nothing (undefined)."
    )


def test_unknown_function_cause() -> None:
    assert cause_of("{% $randomSeeded($states.input.a) %}", field="Output/FunctionResult") == (
        "The JSONata expression '$randomSeeded($states.input.a)' specified for the field 'Output/FunctionResult' "
        "threw an error during evaluation. T1006: Attempted to invoke a non-function"
    )


def test_function_result_cause() -> None:
    assert cause_of("{% $fn := function($x){$x} %}", field="Items") == (
        "The JSONata expression '$fn := function($x){$x}' specified for the field 'Items' "
        "returned an unsupported result type."
    )


@pytest.mark.parametrize(
    ("text", "value", "kind", "shown"),
    [
        ("{% true %}", True, "boolean", "true"),
        ("{% null %}", None, "null", "null"),
        ("{% 1 %}", 1, "number", "1"),
        ("{% {'foo': 'bar'} %}", {"foo": "bar"}, "object", '{"foo":"bar"}'),
        ("{% 'string' %}", "string", "string", '"string"'),
    ],
)
def test_type_failure_cause(text: str, value: Any, kind: str, shown: str) -> None:
    failure = type_failure(text, "Items", "array", value).failure
    assert failure.error == "States.QueryEvaluationError"
    assert failure.cause == (
        f"The JSONata expression '{text[2:-2].strip()}' specified for the field 'Items' returned an unexpected "
        f"result type. Expected 'array', but was '{kind}' for value: {shown}"
    )


def test_engine_errors_carry_their_code() -> None:
    assert "T2002" in cause_of("{% 1 + 'a' %}")
    assert "D3137: boom" in cause_of("{% $error('boom') %}")


# ---- templates -------------------------------------------------------------------------------------------------


def test_template_walks_nested_values() -> None:
    template = {
        "constant": 0.1,
        "keep": " {% states.input %} ",
        "path_like": "$states.input",
        "value": "{% $states.input.a %}",
        "null": "{% null %}",
        "nested": {"list": ["{% $states.input.items[1] %}", {"deep": "{% $v %}"}, "{% [] %}"]},
    }
    assert evaluate_template(
        template, states=STATES, variables={"v": "x"}, env=FakeEnv(), field="Arguments"
    ) == {
        "constant": 0.1,
        "keep": " {% states.input %} ",
        "path_like": "$states.input",
        "value": 1,
        "null": None,
        "nested": {"list": [2, {"deep": "x"}, []]},
    }


def test_template_undefined_member_fails_with_its_path() -> None:
    # AWS fails rather than dropping the member (BASE_UNDEFINED_OUTPUT_FIELD, BASE_UNDEFINED_ARGUMENTS_FIELD).
    with pytest.raises(FailureError) as caught:
        evaluate_template(
            {"ok": 1, "deep": {"result": "{% $doesNotExist %}"}},
            states=STATES,
            variables={},
            env=FakeEnv(),
            field="Output",
        )
    assert caught.value.failure.cause == (
        "The JSONata expression '$doesNotExist' specified for the field 'Output/deep/result' returned nothing "
        "(undefined)."
    )


def test_template_can_drop_undefined_members_on_request() -> None:
    template = {
        "gone": "{% $states.input.missing %}",
        "kept": "{% $states.input.a %}",
        "in": {"x": "{% $no %}"},
    }
    result = evaluate_template(
        template, states=STATES, variables={}, env=FakeEnv(), field="Output", drop_undefined=True
    )
    assert result == {"kept": 1, "in": {}}


def test_template_whole_expression_and_array_elements_must_be_defined() -> None:
    with pytest.raises(FailureError) as caught:
        evaluate_template("{% $nope %}", states=STATES, variables={}, env=FakeEnv(), field="Output")
    assert "for the field 'Output' returned nothing" in (caught.value.failure.cause or "")
    with pytest.raises(FailureError) as caught:
        evaluate_template({"a": ["{% $nope %}"]}, states=STATES, variables={}, env=FakeEnv(), field="Output")
    assert "for the field 'Output/a[0]' returned nothing" in (caught.value.failure.cause or "")


def test_template_error_names_the_member_field() -> None:
    with pytest.raises(FailureError) as caught:
        evaluate_template(
            {"result": "{% $randomSeeded(1) %}"}, states=STATES, variables={}, env=FakeEnv(), field="Assign"
        )
    assert "specified for the field 'Assign/result' threw an error" in (caught.value.failure.cause or "")


def test_template_scalars_pass_through() -> None:
    for literal in (None, 0, 0.1, True, "text", [], {}):
        assert (
            evaluate_template(literal, states=STATES, variables={}, env=FakeEnv(), field="Output") == literal
        )


# ---- bounds ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{% ( $f := function($n){ $f($n + 1) }; $f(1) ) %}", "U1006"),  # endless tail recursion: step budget
        ("{% ( $f := function($n){ 1 + $f($n + 1) }; $f(1) ) %}", "D1011"),  # deep recursion: depth budget
        ("{% [1..1000].([1..1000].([1..1000])) %}", "U1006"),
        ("{% $count([1..5000000]) %}", "U1001"),  # array size cap
        ("{% ( $s := function($t, $n){ $n = 0 ? $t : $s($t & $t, $n - 1) }; $s('ab', 40) ) %}", "U1001"),
    ],
)
def test_hostile_expressions_fail_within_budget(text: str, code: str) -> None:
    cause = cause_of(text)
    assert f"threw an error during evaluation. {code}:" in cause


def test_limits_are_configurable() -> None:
    text = "{% $count([1..200].($ * 2)) %}"
    assert ev(text) == 200
    assert "U1006" in cause_of(text, limits=Limits(max_steps=50))


# ---- the AWS-recorded corpus -----------------------------------------------------------------------------------

CASES = Path(__file__).resolve().parents[2] / ".." / "shared" / "conformance" / "sfn" / "cases"
_PREFIX = re.compile(
    r"^An error occurred while executing the state '[^']*' \(entered at the event id #\d+\)\. "
)


def _single_pass_jsonata_cases() -> list[Any]:
    if not CASES.is_dir():
        return []
    found = []
    for path in sorted(CASES.glob("*.json")):
        case = json.loads(path.read_text())
        definition = case.get("definition")
        if case.get("kind") != "execution" or not definition or len(definition.get("States", {})) != 1:
            continue
        state = next(iter(definition["States"].values()))
        language = state.get("QueryLanguage", definition.get("QueryLanguage"))
        if language != "JSONata" or state.get("Type") != "Pass":
            continue
        found.append(pytest.param(case, state, id=path.stem[:90]))
    return found


_CORPUS = _single_pass_jsonata_cases()


@pytest.mark.skipif(not _CORPUS, reason="../shared/conformance/sfn/cases is absent")
@pytest.mark.parametrize(("case", "state"), _CORPUS)
def test_corpus_single_pass_state(case: dict[str, Any], state: dict[str, Any]) -> None:
    expected = case["expected"]
    states = {"input": case["input"], "context": {}}
    kwargs: dict[str, Any] = {"states": states, "variables": {}, "env": FakeEnv()}
    try:
        if "Assign" in state:
            evaluate_template(state["Assign"], field="Assign", **kwargs)
        output = (
            evaluate_template(state["Output"], field="Output", **kwargs)
            if "Output" in state
            else case["input"]
        )
    except FailureError as failure:
        assert expected["status"] == "FAILED"
        assert failure.failure.error == expected["error"]
        assert failure.failure.cause == _PREFIX.sub("", expected["cause"])
        return
    assert expected["status"] == "SUCCEEDED"
    recorded = expected.get("output")  # already a JSON value, whatever its recorded encoding
    assert output == recorded
    assert json.dumps(output) == json.dumps(recorded)  # int stays int, float stays float


def test_corpus_was_found_when_present() -> None:
    if CASES.is_dir():
        assert len(_CORPUS) >= 40


def test_module_stays_pure() -> None:
    source = Path(jsonata.__file__).read_text()
    for forbidden in (
        "import time",
        "import datetime",
        "import threading",
        "import logging",
        "import os",
        "uuid.uuid4",
        "open(",
    ):
        assert forbidden not in source
