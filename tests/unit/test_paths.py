"""JSONPath evaluation, reference paths and ResultPath as Step Functions (Jayway) does them."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from stateway.asl.errors import FailureError
from stateway.asl.paths import (
    PathNotFound,
    PathSyntaxError,
    evaluate_path,
    field_path_failure,
    input_path_failure,
    invalid_path_failure,
    is_definite_path,
    is_reference_path,
    is_valid_path,
    items_path_not_array_failure,
    result_path_failure,
    set_reference_path,
    wait_path_failure,
)

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "conformance" / "sfn" / "cases"

STORE: dict[str, Any] = {
    "store": {
        "book": [
            {"category": "reference", "author": "Nigel Rees", "title": "Sayings", "price": 8.95},
            {"category": "fiction", "author": "Evelyn Waugh", "title": "Sword", "price": 12.99},
            {
                "category": "fiction",
                "author": "Herman Melville",
                "title": "Moby Dick",
                "isbn": "0-553",
                "price": 8.99,
            },
            {
                "category": "fiction",
                "author": "J. R. R. Tolkien",
                "title": "LOTR",
                "isbn": "0-395",
                "price": 22.99,
            },
        ],
        "bicycle": {"color": "red", "price": 19.95},
    },
    "expensive": 10,
}


# --- definite paths ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.expensive", 10),
        ("$.store.bicycle.color", "red"),
        ("$['store']['bicycle']['color']", "red"),
        ('$["store"]["bicycle"]', {"color": "red", "price": 19.95}),
        ("$.store.book[0].author", "Nigel Rees"),
        ("$.store.book[-1].title", "LOTR"),
        ("$.store.book[ 1 ].title", "Sword"),
        ("$['store'].book[2]['isbn']", "0-553"),
    ],
)
def test_definite_paths_return_the_single_value(path: str, expected: Any) -> None:
    assert evaluate_path(path, STORE) == expected
    assert is_definite_path(path)


def test_dollar_alone_returns_the_data_whole() -> None:
    assert evaluate_path("$", STORE) is STORE
    assert evaluate_path("$", None) is None
    assert evaluate_path("$", [1, 2]) == [1, 2]


def test_a_present_null_is_a_value_not_a_miss() -> None:
    assert evaluate_path("$.a", {"a": None}) is None
    assert evaluate_path("$.a[0]", {"a": [None]}) is None


def test_field_names_may_hold_hyphens_digits_and_parentheses() -> None:
    data = {"delivery-partner": 1, "1Day": 2, "sub-values": [3]}
    assert evaluate_path("$.delivery-partner", data) == 1
    assert evaluate_path("$.1Day", data) == 2
    assert evaluate_path("$.sub-values[0]", data) == 3


def test_bracket_names_may_hold_dots_spaces_and_brackets() -> None:
    data = {"a.b": 1, "c d": 2, "e[0]": 3, "it's": 4}
    assert evaluate_path("$['a.b']", data) == 1
    assert evaluate_path("$['c d']", data) == 2
    assert evaluate_path("$['e[0]']", data) == 3
    assert evaluate_path('$["it\'s"]', data) == 4


def test_backslash_in_a_quoted_name_is_kept_as_written() -> None:
    # Recorded: ESCAPE_SEQUENCES_JSONPATH — the path $['Test\""Name"'] reads the key Test\""Name".
    key = 'Test\\""Name"'
    assert evaluate_path('$[\'Test\\""Name"\']', {key: 'Value"\\'}) == 'Value"\\'


def test_leaf_union_of_names_merges_into_one_object() -> None:
    assert evaluate_path("$['a','c']", {"a": 1, "b": 2, "c": 3}) == {"a": 1, "c": 3}
    assert evaluate_path("$['a','zz']", {"a": 1}) == {"a": 1}
    assert is_definite_path("$['a','c']")


# --- indefinite paths -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.store.book[*].author", ["Nigel Rees", "Evelyn Waugh", "Herman Melville", "J. R. R. Tolkien"]),
        ("$.store.bicycle.*", ["red", 19.95]),
        ("$.store.bicycle[*]", ["red", 19.95]),
        ("$.store.book[1:3].title", ["Sword", "Moby Dick"]),
        ("$.store.book[:2].title", ["Sayings", "Sword"]),
        ("$.store.book[2:].title", ["Moby Dick", "LOTR"]),
        ("$.store.book[-2:].title", ["Moby Dick", "LOTR"]),
        ("$.store.book[:-3].title", ["Sayings"]),
        ("$.store.book[1:99].title", ["Sword", "Moby Dick", "LOTR"]),
        ("$.store.book[0,3].title", ["Sayings", "LOTR"]),
        ("$.store.book[7,0].title", ["Sayings"]),
        ("$..isbn", ["0-553", "0-395"]),
        ("$..bicycle.color", ["red"]),
        ("$.store..price", [8.95, 12.99, 8.99, 22.99, 19.95]),
        ("$..book[0].title", ["Sayings"]),
        ("$..book[-1:].title", ["LOTR"]),
        ("$.store.book[*].isbn", ["0-553", "0-395"]),
    ],
)
def test_indefinite_paths_return_every_match_in_document_order(path: str, expected: list[Any]) -> None:
    assert evaluate_path(path, STORE) == expected
    assert not is_definite_path(path)


def test_deep_scan_visits_each_container_before_its_children() -> None:
    data = {"a": {"x": 1, "b": {"x": 2}}, "c": [{"x": 3}, [{"x": 4}]], "x": 0}
    assert evaluate_path("$..x", data) == [0, 1, 2, 3, 4]


def test_deep_scan_wildcard_returns_every_value() -> None:
    assert evaluate_path("$..*", {"a": {"b": 1}, "c": [2]}) == [{"b": 1}, [2], 1, 2]


@pytest.mark.parametrize(
    "path",
    [
        "$[*]",
        "$.items[*]",
        "$.items[*].itemValue",
        "$.items[1:]",
        "$.items[:1].itemValue",
        "$.item.items[1:5]",
        "$.item.items[1:5].itemValue",
        "$..nothing",
        "$.a[?(@.b)]",
    ],
)
def test_indefinite_path_with_no_match_is_an_empty_list(path: str) -> None:
    # Recorded: test_json_path_array_wildcard_or_slice_with_no_input — {"item": []} for input {}.
    assert evaluate_path(path, {}) == []


def test_indefinite_path_over_wrong_types_is_an_empty_list() -> None:
    assert evaluate_path("$.a[1:2]", {"a": {"k": 1}}) == []
    assert evaluate_path("$.a[*].b", {"a": "text"}) == []
    assert evaluate_path("$.a[*].b", {"a": [{"b": 1}, {"c": 2}, 3, {"b": None}]}) == [1, None]


# --- filters ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "titles"),
    [
        ("$.store.book[?(@.price < 10)].title", ["Sayings", "Moby Dick"]),
        ("$.store.book[?(@.price <= 8.99)].title", ["Sayings", "Moby Dick"]),
        ("$.store.book[?(@.price > 20)].title", ["LOTR"]),
        ("$.store.book[?(@.price >= 12.99)].title", ["Sword", "LOTR"]),
        ("$.store.book[?(@.isbn)].title", ["Moby Dick", "LOTR"]),
        ("$.store.book[?(!@.isbn)].title", ["Sayings", "Sword"]),
        ("$.store.book[?(@.category == 'reference')].title", ["Sayings"]),
        ('$.store.book[?(@.category == "fiction")].title', ["Sword", "Moby Dick", "LOTR"]),
        ("$.store.book[?(@.category != 'fiction')].title", ["Sayings"]),
        ("$.store.book[?(@.price < 10 && @.category == 'fiction')].title", ["Moby Dick"]),
        ("$.store.book[?(@.price > 20 || @.category == 'reference')].title", ["Sayings", "LOTR"]),
        ("$.store.book[?((@.price > 20 || @.price < 9) && @.isbn)].title", ["Moby Dick", "LOTR"]),
        ("$.store.book[?(@.author =~ /.*REES/i)].title", ["Sayings"]),
        ("$.store.book[?(@.author =~ /Rees/)].title", []),
        ("$.store.book[?(@.category in ['reference', 'poetry'])].title", ["Sayings"]),
        ("$.store.book[?(@.category nin ['fiction'])].title", ["Sayings"]),
        ("$.store.book[?(@.price < $.expensive)].title", ["Sayings", "Moby Dick"]),
        ("$.store.book[?(@['price'] > 22)].title", ["LOTR"]),
        ("$..book[?(@.price > 22)].title", ["LOTR"]),
        ("$..[?(@.color)].price", [19.95]),
    ],
)
def test_filters(path: str, titles: list[str]) -> None:
    assert evaluate_path(path, STORE) == titles


def test_recorded_filter_on_status() -> None:
    # Recorded: test_state_pass_regex_json_path_base.
    data = {"users": [{"year": 1997, "status": 0}, {"year": 1998, "status": 1}]}
    assert evaluate_path("$.users[?(@.status == 0)]", data) == [{"year": 1997, "status": 0}]


def test_filter_compares_numbers_and_strings_across_types_like_jayway() -> None:
    data = [{"v": 1}, {"v": "1"}, {"v": True}, {"v": 1.0}, {"v": None}, {}]
    assert evaluate_path("$[?(@.v == 1)]", data) == [{"v": 1}, {"v": "1"}, {"v": 1.0}]
    assert evaluate_path("$[?(@.v == true)]", data) == [{"v": True}]
    assert evaluate_path("$[?(@.v == null)]", data) == [{"v": None}]
    # A missing value is never equal, so != holds for it.
    assert evaluate_path("$[?(@.v != 1)]", data) == [{"v": True}, {"v": None}, {}]


def test_filter_ordering_only_between_numbers_or_between_strings() -> None:
    data = [{"v": 1}, {"v": "a"}, {"v": "c"}, {"v": True}]
    assert evaluate_path("$[?(@.v < 2)]", data) == [{"v": 1}]
    assert evaluate_path("$[?(@.v < 'b')]", data) == [{"v": "a"}]


def test_filter_existence_counts_null_values() -> None:
    assert evaluate_path("$[?(@.tag)]", [{"tag": None}, {"x": 1}, {"tag": False}]) == [
        {"tag": None},
        {"tag": False},
    ]


def test_filter_size_empty_and_set_operators() -> None:
    data = [{"t": ["a", "b"]}, {"t": []}, {"t": ["c"]}]
    assert evaluate_path("$[?(@.t size 2)]", data) == [{"t": ["a", "b"]}]
    assert evaluate_path("$[?(@.t empty true)]", data) == [{"t": []}]
    assert evaluate_path("$[?(@.t subsetof ['a', 'b', 'x'])]", data) == [{"t": ["a", "b"]}, {"t": []}]
    assert evaluate_path("$[?(@.t anyof ['c'])]", data) == [{"t": ["c"]}]
    assert evaluate_path("$[?(@.t noneof ['a'])]", data) == [{"t": []}, {"t": ["c"]}]


def test_filter_on_an_object_tests_the_object_itself() -> None:
    assert evaluate_path("$.a[?(@.x == 1)]", {"a": {"x": 1}}) == [{"x": 1}]
    assert evaluate_path("$.a[?(@.x == 2)]", {"a": {"x": 1}}) == []


# --- misses on definite paths -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "data", "detail"),
    [
        # Recorded (test_catch_states_runtime): OutputPath '$.no.such.result.path' on {}.
        ("$.no.such.result.path", {}, "Missing property in path $['no']"),
        ("$.x", {"a": 1}, "No results for path: $['x']"),
        ("$.a.x", {"a": {}}, "No results for path: $['a']['x']"),
        ("$.a[3]", {"a": [1]}, "No results for path: $['a'][3]"),
        ("$.a[-2]", {"a": [1]}, "No results for path: $['a'][-2]"),
        ("$.a[0]", {"a": None}, "The path $['a'] is null"),
        ("$.a[0]", {"a": {"k": 1}}, 'Filter: [0] can only be applied to arrays. Current context is: {"k":1}'),
        ("$['a b']", {}, "No results for path: $['a b']"),
    ],
)
def test_definite_miss_raises_with_jayways_message(path: str, data: Any, detail: str) -> None:
    with pytest.raises(PathNotFound) as caught:
        evaluate_path(path, data)
    assert caught.value.path == path
    assert caught.value.detail == detail


def test_field_through_a_scalar_names_what_was_found() -> None:
    with pytest.raises(PathNotFound) as caught:
        evaluate_path("$.a.b", {"a": "text"})
    assert caught.value.detail.startswith(
        "Expected to find an object with property ['b'] in path $['a'] but found 'java.lang.String'."
    )


def test_definite_path_on_non_object_root() -> None:
    with pytest.raises(PathNotFound):
        evaluate_path("$.a", [1, 2])
    with pytest.raises(PathNotFound):
        evaluate_path("$[0]", {"a": 1})
    assert evaluate_path("$[1]", ["x", "y"]) == "y"


# --- context object and variables -------------------------------------------------------------


def test_context_paths_read_the_context_object() -> None:
    context = {"Execution": {"Id": "arn", "Input": {"values": [1, 2]}}, "Map": {"Item": {"Index": 0}}}
    assert evaluate_path("$$", {}, context) is context
    assert evaluate_path("$$.Execution.Id", {"Execution": "wrong"}, context) == "arn"
    assert evaluate_path("$$.Execution.Input.values[1]", {}, context) == 2
    assert evaluate_path("$$.Map.Item.Index", {}, context) == 0
    assert evaluate_path("$$.Execution.Input.values[*]", {}, context) == [1, 2]
    with pytest.raises(PathNotFound) as caught:
        evaluate_path("$$.Task.Token", {}, context)
    assert caught.value.detail == "Missing property in path $['Task']"


def test_variable_paths_read_the_variable_then_the_rest_of_the_path() -> None:
    variables = {"x": {"y": [10, 20]}, "constant_null": None, "s": "text"}
    assert evaluate_path("$x", {}, None, variables) == {"y": [10, 20]}
    assert evaluate_path("$x.y[1]", {}, None, variables) == 20
    assert evaluate_path("$x['y'][0]", {}, None, variables) == 10
    assert evaluate_path("$x.y[*]", {}, None, variables) == [10, 20]
    assert evaluate_path("$constant_null", {}, None, variables) is None
    assert evaluate_path("$s", {}, None, variables) == "text"
    with pytest.raises(PathNotFound):
        evaluate_path("$x.z", {}, None, variables)
    with pytest.raises(PathNotFound):
        evaluate_path("$missing", {}, None, variables)
    with pytest.raises(PathNotFound):
        evaluate_path("$x", {}, None, None)


# --- syntax -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "$",
        "$$",
        "$.a",
        "$.a.b[0]",
        "$['a']",
        "$[0]",
        "$[-1]",
        "$[*]",
        "$.*",
        "$..a",
        "$..[0]",
        "$..*",
        "$[1:2]",
        "$[:2]",
        "$[1:]",
        "$[0,1]",
        "$['a','b']",
        "$[?(@.a)]",
        "$[?(@.a == 'x' && @.b > 1 || !@.c)]",
        "$var",
        "$var.a[0]",
        "$_v1",
        "$$.Execution.Input",
    ],
)
def test_valid_paths(path: str) -> None:
    assert is_valid_path(path)


@pytest.mark.parametrize(
    "path",
    [
        "",
        "a.b",
        "@.a",
        "$.",
        "$..",
        "$.a.",
        "$a-b",
        "$.a b",
        "$[",
        "$[]",
        "$[a]",
        "$['a'",
        "$['a]",
        "$[:]",
        "$[1:x]",
        "$[?(@.a]",
        "$[?(@.a == )]",
        "$.a[?@.b]",
        "$..[",
        "$.[0]",
    ],
)
def test_invalid_paths(path: str) -> None:
    assert not is_valid_path(path)
    with pytest.raises(PathSyntaxError):
        evaluate_path(path, {})


@pytest.mark.parametrize(
    "path", ["$", "$.a", "$['a']", "$[0]", "$.a[0].b", "$['a b'][-1]", "$$.Execution.Input", "$var.x"]
)
def test_reference_paths(path: str) -> None:
    assert is_reference_path(path)


@pytest.mark.parametrize(
    "path", ["$[*]", "$.a.*", "$..a", "$[0:1]", "$[0,1]", "$['a','b']", "$[?(@.a)]", "$.", "x"]
)
def test_not_reference_paths(path: str) -> None:
    assert not is_reference_path(path)


def test_reference_paths_for_result_path_exclude_context_and_variables() -> None:
    assert not is_reference_path("$$.Execution", allow_context=False)
    assert not is_reference_path("$var", allow_variables=False)
    assert is_reference_path("$.a", allow_context=False, allow_variables=False)


# --- ResultPath -------------------------------------------------------------------------------


def test_result_path_dollar_replaces_the_input() -> None:
    assert set_reference_path({"a": 1}, "$", "result") == "result"


def test_result_path_adds_and_replaces_fields() -> None:
    assert set_reference_path({"a": 1}, "$.b", [1]) == {"a": 1, "b": [1]}
    assert set_reference_path({"a": 1}, "$.a", 2) == {"a": 2}
    assert set_reference_path({"a": 1}, "$['x y']", 2) == {"a": 1, "x y": 2}


def test_result_path_creates_missing_intermediate_objects() -> None:
    assert set_reference_path({"a": 1}, "$.b.c.d", True) == {"a": 1, "b": {"c": {"d": True}}}
    assert set_reference_path({"detail": {"k": 1}}, "$.detail.shipped_output", [2]) == {
        "detail": {"k": 1, "shipped_output": [2]}
    }


def test_result_path_replaces_array_elements() -> None:
    assert set_reference_path({"a": [1, 2, 3]}, "$.a[1]", "x") == {"a": [1, "x", 3]}
    assert set_reference_path({"a": [1, 2, 3]}, "$.a[-1]", "x") == {"a": [1, 2, "x"]}
    assert set_reference_path([{"k": 1}], "$[0].k", 2) == [{"k": 2}]


def test_result_path_never_mutates_the_input() -> None:
    data = {"a": {"b": [1, {"c": 2}]}, "z": {"keep": True}}
    before = copy.deepcopy(data)
    out = set_reference_path(data, "$.a.b[1].c", 3)
    assert data == before
    assert out == {"a": {"b": [1, {"c": 3}]}, "z": {"keep": True}}
    assert out is not data and out["a"] is not data["a"] and out["a"]["b"] is not data["a"]["b"]


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ("text", "$.a"),
        (5, "$.a"),
        ([1, 2], "$.a"),
        ({"a": "text"}, "$.a.b"),
        ({"a": [1]}, "$.a.b"),
        ({"a": None}, "$.a.b"),
        ({"a": {}}, "$.a[0]"),
        ({"a": [1]}, "$.a[1]"),
        ({}, "$.a[0]"),
    ],
)
def test_result_path_that_cannot_be_applied_fails(data: Any, path: str) -> None:
    before = copy.deepcopy(data)
    with pytest.raises(FailureError) as caught:
        set_reference_path(data, path, "r")
    assert caught.value.failure.error == "States.ResultPathMatchFailure"
    assert (
        caught.value.failure.cause
        == f"Unable to apply ReplacementPath '{path}' to input '{json.dumps(data, separators=(',', ':'))}'"
    )
    assert data == before


def test_result_path_must_be_a_data_reference_path() -> None:
    for path in ("$[*]", "$$.Execution", "$var.a", "$..a"):
        with pytest.raises(PathSyntaxError):
            set_reference_path({}, path, 1)


# --- failure texts ----------------------------------------------------------------------------


def test_input_and_output_path_failure_quotes_jayway() -> None:
    failure = input_path_failure("OutputPath", "$.no.such.result.path", {}).failure
    assert failure.error == "States.Runtime"
    assert failure.cause == "Invalid path '$.no.such.result.path' : Missing property in path $['no']"
    assert input_path_failure("InputPath", "$.x", {"a": 1}).failure.cause == (
        "Invalid path '$.x' : No results for path: $['x']"
    )
    assert input_path_failure("ItemsPath", "$.items", {}).failure.cause == (
        "Invalid path '$.items' : No results for path: $['items']"
    )


def test_input_path_failure_reuses_a_caught_error() -> None:
    error = PathNotFound("$.x", "detail text")
    assert (
        input_path_failure("InputPath", "$.x", {}, error=error).failure.cause
        == "Invalid path '$.x' : detail text"
    )
    assert invalid_path_failure("$.q", "d").failure.cause == "Invalid path '$.q' : d"


def test_payload_template_failure_names_the_field_and_the_input() -> None:
    # As AWS records it: "The JSONPath '$.JobName' specified for the field 'JobName.$' could not be
    # found in the input '{}'".
    failure = input_path_failure("JobName.$", "$.JobName", {}).failure
    assert failure.error == "States.Runtime"
    assert (
        failure.cause
        == "The JSONPath '$.JobName' specified for the field 'JobName.$' could not be found in the input '{}'"
    )
    assert field_path_failure("ErrorPath", "$.ErrorX", {"Error": "é"}).failure.cause == (
        "The JSONPath '$.ErrorX' specified for the field 'ErrorPath' could not be found in the input '{\"Error\":\"é\"}'"
    )


def test_payload_template_failure_on_a_context_path_shows_the_context() -> None:
    failure = input_path_failure("x.$", "$$.Task.Token", {"data": 1}, {"Task": None}).failure
    assert failure.cause.endswith("could not be found in the input '{\"Task\":null}'")


def test_wait_and_items_failures_use_their_recorded_wording() -> None:
    assert input_path_failure("SecondsPath", "$.input.waitSeconds", {}).failure.cause == (
        "The SecondsPath parameter does not reference an input value: $.input.waitSeconds"
    )
    assert wait_path_failure("TimestampPath", "$.t").failure.cause == (
        "The TimestampPath parameter does not reference an input value: $.t"
    )
    assert items_path_not_array_failure("$$.Execution.Input").failure.cause == (
        'Reference path "$.Execution.Input" must point to array.'
    )
    assert items_path_not_array_failure("$$").failure.cause == 'Reference path "$" must point to array.'
    assert (
        items_path_not_array_failure("$.items").failure.cause
        == 'Reference path "$.items" must point to array.'
    )


def test_result_path_failure_helper() -> None:
    failure = result_path_failure("$.a.b", {"a": 1}).failure
    assert failure.error == "States.ResultPathMatchFailure"
    assert failure.cause == "Unable to apply ReplacementPath '$.a.b' to input '{\"a\":1}'"


# --- evaluation is pure -----------------------------------------------------------------------


def test_evaluation_never_mutates_its_input() -> None:
    data = copy.deepcopy(STORE)
    for path in ("$.store.book[*]", "$..price", "$['store','expensive']", "$.store.book[?(@.isbn)]"):
        evaluate_path(path, data)
    assert data == STORE


# --- the recorded corpus ----------------------------------------------------------------------


def _corpus_cases() -> list[dict[str, Any]]:
    if not CORPUS.is_dir():
        return []
    return [json.loads(p.read_text()) for p in sorted(CORPUS.glob("*.json"))]


_PATH_FIELDS = {"InputPath", "OutputPath", "ItemsPath", "Variable", "ErrorPath", "CausePath"}


def _paths_in(node: Any, found: list[tuple[str, str]]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if (
                isinstance(value, str)
                and value.startswith("$")
                and (key.endswith(".$") or key.endswith("Path") or key in _PATH_FIELDS)
            ):
                found.append((key, value))
            _paths_in(value, found)
    elif isinstance(node, list):
        for item in node:
            _paths_in(item, found)


def test_every_path_in_the_corpus_definitions_parses() -> None:
    cases = _corpus_cases()
    if not cases:
        pytest.skip(f"conformance corpus not found at {CORPUS}")
    found: list[tuple[str, str]] = []
    for case in cases:
        if case.get("definition"):
            _paths_in(case["definition"], found)
    assert len(found) > 500
    for key, path in found:
        if path.startswith("States."):
            continue
        assert is_valid_path(path), (key, path)
        if key == "ResultPath":
            assert is_reference_path(path, allow_context=False, allow_variables=False), path


def _template(node: Any, data: Any) -> Any:
    if isinstance(node, dict):
        return {
            (k[:-2] if k.endswith(".$") else k): (
                evaluate_path(v, data) if k.endswith(".$") else _template(v, data)
            )
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_template(v, data) for v in node]
    return node


def _only_data_paths(node: Any) -> bool:
    if isinstance(node, dict):
        return all(
            (
                isinstance(v, str)
                and v.startswith("$")
                and not v.startswith("$$")
                and (v == "$" or v[1] in ".[")
            )
            if k.endswith(".$")
            else _only_data_paths(v)
            for k, v in node.items()
        )
    if isinstance(node, list):
        return all(_only_data_paths(v) for v in node)
    return True


def test_recorded_single_pass_state_parameters_evaluate_as_aws_recorded() -> None:
    cases = _corpus_cases()
    if not cases:
        pytest.skip(f"conformance corpus not found at {CORPUS}")
    checked = 0
    for case in cases:
        definition = case.get("definition") or {}
        states = definition.get("States") or {}
        if case.get("kind") != "execution" or len(states) != 1 or definition.get("QueryLanguage"):
            continue
        (state,) = states.values()
        if state.get("Type") != "Pass" or set(state) - {"Type", "Parameters", "End", "Comment"}:
            continue
        expected = case["expected"]
        if "Parameters" not in state or expected.get("status") != "SUCCEEDED" or "output" not in expected:
            continue
        if not _only_data_paths(state["Parameters"]):
            continue
        assert _template(state["Parameters"], case["input"]) == expected["output"], case["id"]
        checked += 1
    assert checked >= 10
