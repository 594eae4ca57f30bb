"""Property tests: random definitions and inputs never crash the parser or the interpreter.

Whatever comes in, the outcome is a parsed machine or a DefinitionError, and a run ends with an
AWS status whose failure is a well-formed ASL error, never a Python exception escaping the core.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stateway.asl import intrinsics, jsontext, paths
from stateway.asl.errors import DefinitionError, FailureError, StatewayError
from stateway.asl.parse import parse_machine
from stateway.testing.fixed import FixedEnv
from stateway.testing.local import LocalRunner

json_scalars = st.none() | st.booleans() | st.integers(-1000, 1000) | st.floats(
    allow_nan=False, allow_infinity=False, width=32) | st.text(max_size=8)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)

ASL_KEYS = ["Type", "Next", "End", "StartAt", "States", "Result", "ResultPath", "InputPath", "OutputPath",
            "Parameters", "Choices", "Default", "Seconds", "Branches", "ItemProcessor", "Iterator",
            "ItemsPath", "Retry", "Catch", "Error", "Cause", "Resource", "MaxConcurrency", "Variable",
            "StringEquals", "NumericEquals", "ErrorEquals", "TimeoutSeconds", "QueryLanguage"]
ASL_VALUES = st.sampled_from(["Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map",
                              "$", "$.a", "$.a[0]", "$..b", "A", "B", "C", "JSONPath", "JSONata"])
asl_values = st.recursive(
    json_scalars | ASL_VALUES,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.sampled_from(ASL_KEYS) | st.sampled_from(["A", "B", "C"]), children, max_size=5),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(asl_values)
def test_random_definitions_parse_or_raise_definition_error(definition: Any) -> None:
    try:
        machine = parse_machine(definition)
    except DefinitionError as error:
        assert error.problems, "a DefinitionError always names at least one problem"
        assert all(p.code and p.message and p.location for p in error.problems)
    else:
        assert machine.program.start_at in machine.program.states


PATHS = st.sampled_from(["$", "$.a", "$.a.b", "$.a[0]", "$.a[*]", "$..b", "$.a[1:3]", "$.x[?(@.b > 1)]",
                         "$['a']", "$.a[-1]", "$.nope", "$$.Execution.Id", "$var"])
PASS_FIELDS = st.fixed_dictionaries({}, optional={
    "InputPath": PATHS | st.none(),
    "OutputPath": PATHS | st.none(),
    "ResultPath": st.sampled_from(["$", "$.r", "$.a.b", "$.a"]) | st.none(),
    "Parameters": st.dictionaries(st.sampled_from(["x", "y.$", "z.$"]), PATHS, max_size=2),
    "Result": json_values,
})


@st.composite
def machines(draw: st.DrawFn) -> dict[str, Any]:
    """Small valid machines: a chain of Pass/Choice/Wait/Map/Parallel/Fail states over random paths."""
    count = draw(st.integers(1, 5))
    names = [f"S{i}" for i in range(count)]
    states: dict[str, Any] = {}
    for i, name in enumerate(names):
        last = i == count - 1
        follow: dict[str, Any] = {"End": True} if last else {"Next": names[i + 1]}
        kind = draw(st.sampled_from(["Pass", "Pass", "Choice", "Wait", "Map", "Parallel", "Fail"]))
        if kind == "Pass":
            states[name] = {"Type": "Pass", **draw(PASS_FIELDS), **follow}
        elif kind == "Choice":
            target = names[i + 1] if not last else name + "End"
            states[name] = {"Type": "Choice", "Choices": [
                {"Variable": draw(PATHS.filter(lambda p: not p.startswith("$$") and p != "$var")),
                 draw(st.sampled_from(["NumericEquals", "StringEquals", "IsPresent", "IsNull"])):
                     draw(st.sampled_from([1, "a", True])), "Next": target}],
                "Default": target}
            if last:
                states[target] = {"Type": "Succeed"}
            # Choice rules must type-check: IsPresent/IsNull take booleans, the others their type.
            rule = states[name]["Choices"][0]
            for op in ("IsPresent", "IsNull"):
                if op in rule:
                    rule[op] = True
            if "NumericEquals" in rule:
                rule["NumericEquals"] = 1
            if "StringEquals" in rule:
                rule["StringEquals"] = "a"
        elif kind == "Wait":
            timing = draw(st.sampled_from([{"Seconds": draw(st.integers(0, 10**6))}, {"SecondsPath": draw(PATHS)},
                                           {"TimestampPath": draw(PATHS)}]))
            states[name] = {"Type": "Wait", **timing, **follow}
        elif kind == "Map":
            settings_paths = draw(st.fixed_dictionaries({}, optional={
                "MaxConcurrencyPath": PATHS, "ToleratedFailureCountPath": PATHS,
                "ToleratedFailurePercentagePath": PATHS}))
            states[name] = {"Type": "Map", "ItemsPath": draw(PATHS), **settings_paths, "ItemProcessor": {
                "StartAt": "I", "States": {"I": {"Type": "Pass", **draw(PASS_FIELDS), "End": True}}},
                **follow}
        elif kind == "Parallel":
            states[name] = {"Type": "Parallel", "Branches": [
                {"StartAt": "B", "States": {"B": {"Type": "Pass", **draw(PASS_FIELDS), "End": True}}}],
                **follow}
        else:
            states[name] = {"Type": "Fail", "Error": "Boom", "Cause": "random"}
    return {"StartAt": names[0], "States": states}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(machines(), json_values)
def test_random_machines_and_inputs_end_with_a_status(definition: dict[str, Any], data: Any) -> None:
    try:
        machine = parse_machine(definition)
    except DefinitionError:
        return  # e.g. a generated Fail state left later states unreachable
    result = LocalRunner(store_snapshots=True).run(machine, data)
    assert result.status in ("SUCCEEDED", "FAILED")
    if result.status == "SUCCEEDED":
        json.loads(result.output or "null")
        assert result.events[-1]["type"] == "ExecutionSucceeded"
    else:
        assert isinstance(result.error, str) and result.error
        assert result.events[-1]["type"] == "ExecutionFailed"
    ids = [e["id"] for e in result.events]
    assert ids == list(range(1, len(ids) + 1)), "event ids are gap-free and ordered"


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="$.[]*?@()'\"=<>!&|:,-0123456789abc ", max_size=20), json_values)
def test_random_paths_raise_only_path_errors(path: str, data: Any) -> None:
    with contextlib.suppress(paths.PathNotFound, paths.PathSyntaxError):
        paths.evaluate_path(path, data)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="States.FormatArayJsonMathAd(),'{}\\$.a 0123", max_size=30), json_values)
def test_random_intrinsic_text_raises_only_asl_errors(text: str, data: Any) -> None:
    with contextlib.suppress(FailureError, StatewayError):
        intrinsics.evaluate_intrinsic("States." + text, data, {}, {}, FixedEnv())


@settings(max_examples=300, deadline=None)
@given(json_values, st.sampled_from([None, 0, 2]), st.booleans())
def test_compact_text_is_what_parsing_and_encoding_gives(data: Any, indent: int | None, ascii_only: bool) -> None:
    text = json.dumps(data, indent=indent, ensure_ascii=ascii_only)
    assert jsontext.compact(text) == jsontext.dumps(json.loads(text))
    compact = jsontext.dumps(data)
    found = jsontext.array_runs(compact, (), 3)
    if isinstance(data, list):
        assert found is not None and found[0] == len(data)
        assert [item for first in sorted(found[1]) for item in json.loads(found[1][first])] == json.loads(compact)
    else:
        assert found is None
