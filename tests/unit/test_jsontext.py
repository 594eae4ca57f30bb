"""JSON text as Step Functions writes it, and strict parsing."""

from __future__ import annotations

import json

import pytest

from stateway.asl import jsontext
from stateway.asl.jsontext import compact_encoder, copy, dumps, loads


def test_compact_separators_and_key_order_kept() -> None:
    assert dumps({"b": 1, "a": [1, 2, {"c": None}]}) == '{"b":1,"a":[1,2,{"c":null}]}'


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (0.0, "0.0"),  # recorded: input 0.0 stays "0.0" in history
        (1.5, "1.5"),
        (-1.49, "-1.49"),
        (0.1, "0.1"),
        (True, "true"),
        (False, "false"),
        (None, "null"),
        ("text", '"text"'),
        (10**20, "100000000000000000000"),
    ],
)
def test_scalars(value: object, text: str) -> None:
    assert dumps(value) == text


def test_non_ascii_is_kept_as_is() -> None:
    assert dumps({"emoji": "🆗", "é": "ü"}) == '{"emoji":"🆗","é":"ü"}'


def test_slash_is_not_escaped_and_quotes_and_backslashes_are() -> None:
    assert dumps("a/b") == '"a/b"'
    assert dumps('say "hi" \\ now') == '"say \\"hi\\" \\\\ now"'


def test_control_characters_use_short_escapes_or_upper_case_hex() -> None:
    assert dumps("Line1\nLine2\tTabbed\r\b\f") == '"Line1\\nLine2\\tTabbed\\r\\b\\f"'
    assert dumps("\x01\x1f") == '"\\u0001\\u001F"'
    # A literal backslash followed by "u00" text is not an escape and keeps its case.
    assert dumps("\\u001f") == '"\\\\u001f"'
    assert loads(dumps("x\x1fy\\u001fz")) == "x\x1fy\\u001fz"


def test_nan_and_infinity_are_refused() -> None:
    for value in (float("nan"), float("inf"), float("-inf")):
        with pytest.raises(ValueError):
            dumps(value)
    for text in ("NaN", "Infinity", "-Infinity", "[NaN]"):
        with pytest.raises(ValueError):
            loads(text)


def test_loads_parses_json_and_round_trips() -> None:
    value = {"a": [1, 2.5, "x", None, True], "b": {"c": "🆗"}}
    assert loads(dumps(value)) == value
    assert loads(b'{"a":1}') == {"a": 1}
    assert loads("0.0") == 0.0 and isinstance(loads("0.0"), float)
    assert loads('"text"') == "text"


def test_loads_rejects_what_is_not_json() -> None:
    for text in ("", "{", "{'a': 1}", "[1,]", "1 2"):
        with pytest.raises(ValueError):
            loads(text)


class _Label(str):
    """A str subclass: JSON knows only its text."""


@pytest.mark.parametrize(
    "value",
    [
        {"a": [1, 2.5, "x", None, True], "b": {"c": "🆗", "d": []}},
        [(1, 2), {"t": (3, {"u": 4})}],  # tuples become arrays
        {1: "one", False: "no", None: "none", 2.5: "x"},  # keys become strings
        {"label": _Label("gold"), _Label("key"): 1},
        10**30,
        "text",
        None,
    ],
)
def test_copy_gives_what_a_json_round_trip_gives(value: object) -> None:
    expected = json.loads(json.dumps(value))
    copied = copy(value)
    assert copied == expected
    assert type(copied) is type(expected)
    if isinstance(value, dict):
        assert [type(k) for k in copied] == [type(k) for k in expected]


def test_copy_shares_nothing_mutable_even_when_the_value_repeats_an_object() -> None:
    shared = {"items": [1, 2]}
    value = {"a": shared, "b": shared, "c": [shared]}
    copied = copy(value)
    copied["a"]["items"].append(3)
    copied["c"][0]["x"] = 1
    assert value == {"a": {"items": [1, 2]}, "b": {"items": [1, 2]}, "c": [{"items": [1, 2]}]}
    assert copied["b"] == {"items": [1, 2]}


def test_copy_fails_as_json_does_on_what_is_not_json() -> None:
    with pytest.raises(TypeError):
        copy({"when": object()})
    looped: list[object] = []
    looped.append(looped)
    with pytest.raises(ValueError, match="Circular reference"):
        copy(looped)


@pytest.mark.parametrize("allow_nan", [False, True])
def test_compact_encoder_writes_what_json_dumps_writes(allow_nan: bool) -> None:
    encode = compact_encoder(allow_nan=allow_nan)
    for value in ({"b": 1, "a": [1.0, None, True, "é/\\u", {"c": {}}]}, [], "x\x1f", 10**20, -0.5, None):
        assert encode(value) == json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=allow_nan)
    with pytest.raises(TypeError):
        encode({"when": object()})
    if allow_nan:
        assert encode([float("nan")]) == "[NaN]"
    else:
        with pytest.raises(ValueError):
            encode([float("nan")])


def test_large_arrays_encoded_a_part_at_a_time_give_the_same_text() -> None:
    item = {"n": 1, "s": "é\u001f/", "f": 0.0, "none": None, "nested": [[1], {"k": True}]}
    items = [dict(item, n=n) for n in range(2500)]
    for value in (items, {"before": 1, "items": items, "after": [items[:3]]}, [items[:1500], 7]):
        assert dumps(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("\\u001f", "\\u001F")
    nan_inside = [0.5] * 1500 + [float("nan")]
    with pytest.raises(ValueError):
        dumps(nan_inside)


# ---- RawJson: a value passed on as its text ----------------------------------------------------------

RAW = jsontext.RawJson('[{"i":1},null,"é"]')


def test_raw_json_is_spliced_in_as_it_is_wherever_it_stands() -> None:
    value = {"a": RAW, "b": [RAW, 3], "big": list(range(1500))}
    expected = dumps({"a": json.loads(RAW.text), "b": [json.loads(RAW.text), 3], "big": list(range(1500))})
    assert jsontext.dumps(value) == expected
    assert dumps(RAW) == RAW.text
    for allow_nan in (True, False):
        assert compact_encoder(allow_nan=allow_nan)([[0, RAW]]) == '[[0,[{"i":1},null,"é"]]]'


def test_raw_json_reads_as_its_value() -> None:
    assert jsontext.materialize(RAW) == [{"i": 1}, None, "é"]
    assert jsontext.materialize({"x": 1}) == {"x": 1}
    assert [jsontext.json_type(jsontext.RawJson(t)) for t in ('{"a":1}', "[]", '"s"', "true", "null", "-1.5")] == [
        "object", "array", "string", "boolean", "null", "number"]
    assert jsontext.copy({"r": RAW})["r"] is RAW, "shared: it is never changed in place"


# ---- large documents a part at a time ---------------------------------------------------------------

COMPACTED = [
    '{"a": [1, 2.50, -0.0, 1E3, "\\u00e9\\/"], "b" : {"c": [ {"d": null} ]}, "e": true}',
    ' [ {"x": "\\u001f"} , [ [ 1 ] ] , "" ] \n',
    '"just a string"', "12", "null", "[]", "{}", '{"k":{}}',
    json.dumps({"items": [{"i": i, "s": "é" * (i % 3)} for i in range(50)]}, indent=2),
]


@pytest.mark.parametrize("text", COMPACTED)
def test_compact_gives_what_a_parse_and_dumps_gives(text: str) -> None:
    assert jsontext.compact(text) == jsontext.dumps(json.loads(text))


def test_compact_returns_compact_text_itself() -> None:
    text = jsontext.dumps({"items": list(range(100)), "a": {"b": [1.5]}})
    assert jsontext.compact(text) is text


@pytest.mark.parametrize("text", ['{"a": 1, "a": 2}', '[{"a": 1, "a": 2}]', "[NaN]", "[1] 2", "[1,]", "{", "", '{1: 2}',
                                  '{"a" 1}', "[1 2]", '{"items": [1E400]}'])
def test_compact_refuses_what_it_cannot_walk_or_is_not_json(text: str) -> None:
    assert jsontext.compact(text) is None


def test_array_runs_cut_the_array_at_a_key_path_into_runs_of_consecutive_elements() -> None:
    items = [{"i": i, "t": [i, "x,]"]} for i in range(10)]
    text = jsontext.dumps({"before": {"items": [0]}, "order": {"items": items}, "after": 1})
    count, runs = jsontext.array_runs(text, ("order", "items"), 4) or (0, {})
    assert count == 10
    assert sorted(runs) == [0, 4, 8]
    assert [json.loads(runs[first]) for first in (0, 4, 8)] == [items[0:4], items[4:8], items[8:10]]
    assert jsontext.array_runs("[]", (), 4) == (0, {})
    assert jsontext.array_runs("[1,2,3,4]", (), 2) == (4, {0: "[1,2]", 2: "[3,4]"})


@pytest.mark.parametrize("keys", [("missing",), ("after",), ("order", "items", "deeper"), ("before", "nope")])
def test_array_runs_finds_no_array_where_there_is_none(keys: tuple[str, ...]) -> None:
    text = jsontext.dumps({"before": {"items": [0]}, "order": {"items": [1, 2]}, "after": 1})
    assert jsontext.array_runs(text, keys, 4) is None


def test_raw_json_inside_an_object_with_number_keys_is_spliced_with_the_keys_as_strings() -> None:
    encode = jsontext.compact_encoder(allow_nan=True)
    value = {64: "a", True: None, "s": jsontext.RawJson("[1]")}
    assert encode(value) == '{"64":"a","true":null,"s":[1]}'


def test_loads_refuses_a_number_beyond_a_double() -> None:
    with pytest.raises(ValueError, match="out of range"):
        loads('{"a": [1e400]}')
    assert loads("[1e308, -2.5e-10]") == [1e308, -2.5e-10]


@pytest.mark.parametrize(("text", "depth", "deeper"), [
    ("[]", 1, False), ("[[]]", 1, True), ('{"a":[{}]}', 3, False), ('{"a":[{}]}', 2, True),
    ('["[[[[", "]]"]', 1, False), ('{"a\\"[[":[{}]}', 3, False), ('{"a\\"[[":[{}]}', 2, True),
    ("[[[]],[[[[]]]],[]]", 5, False), ("[[[]],[[[[]]]],[]]", 4, True), ("1", 0, False),
])
def test_nests_deeper_counts_levels_of_objects_and_arrays_outside_strings(text: str, depth: int,
                                                                          deeper: bool) -> None:
    assert jsontext.nests_deeper(text, depth) is deeper


def test_nests_deeper_at_the_limit() -> None:
    limit = jsontext.MAX_DEPTH
    assert not jsontext.nests_deeper("[" * limit + "]" * limit)
    assert jsontext.nests_deeper("[" * (limit + 1) + "]" * (limit + 1))
    wide = jsontext.dumps([{"a": [i, {"b": "[x"}]} for i in range(5000)])
    assert not jsontext.nests_deeper(wide) and jsontext.nests_deeper(wide, 3)
