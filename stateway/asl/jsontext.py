"""JSON text exactly as Step Functions writes it into history and outputs, and strict parsing back."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any, overload

__all__ = ["MAX_DEPTH", "NumberOutOfRange", "RawJson", "array_runs", "compact", "compact_encoder", "copy",
           "dumps", "finite_float", "json_type", "loads", "materialize", "nests_deeper", "storable"]


class RawJson:
    """A JSON value kept as its text until something looks inside it: a large value that is only
    passed on (a Map's output, say) then never exists in memory as objects, only as its text. The text
    is compact and in the form `dumps` writes, so encoding splices it in as it is."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"RawJson({self.text[:40]!r}…)" if len(self.text) > 40 else f"RawJson({self.text!r})"


def materialize(value: Any) -> Any:
    """The value itself: a `RawJson` parsed, anything else as it is."""
    return loads(value.text) if type(value) is RawJson else value


class _HoldsRaw(Exception):
    """The C encoder met a `RawJson`, which only the splicing encoder can write."""


def _default(value: Any) -> Any:
    if type(value) is RawJson:
        raise _HoldsRaw
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")  # as json words it


def compact_encoder(*, allow_nan: bool) -> Callable[[Any], str]:
    """`encode(value) -> str`: compact JSON, non-ASCII kept, key order kept, like `json.dumps` with those
    settings; a `RawJson` anywhere in the value is copied in as its text."""
    whole: Callable[[Any], str]
    if c_make_encoder is None:  # no C accelerator in this Python
        whole = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=allow_nan,
                                 default=_default).encode
    else:
        # `JSONEncoder.encode` builds a new C encoder, with a table for spotting cycles, on every call: for
        # the small values of a state transition that is half the cost. Values from parsed text have no cycles.
        whole = _joined(c_make_encoder(None, _default, encode_basestring, None, ":", ",", False, False, allow_nan))

    def encode(value: Any) -> str:
        if type(value) is RawJson:
            return value.text
        try:
            text = whole(value)
        except _HoldsRaw:
            text = _spliced(value, whole)
        return storable(text)

    return encode


# A UTF-16 surrogate code point: JSON's "\ud800" parses to one in Python, but UTF-8 (and so the store)
# cannot hold it alone. Written back as the escape it came from, the text stays the same JSON value.
_SURROGATE = re.compile("[\ud800-\udfff]")


@overload
def storable(text: str) -> str: ...
@overload
def storable(text: None) -> None: ...
def storable(text: str | None) -> str | None:
    """Text with every lone surrogate (in JSON it can only stand in a string) written as its `\\uXXXX`
    escape, so that it can be encoded as UTF-8; None as it is. `isascii` is a flag on the string, so
    the common text is not even searched."""
    if text is None or text.isascii() or not _SURROGATE.search(text):
        return text
    return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def _joined(encoder: Callable[[Any, int], list[str]]) -> Callable[[Any], str]:
    def whole(value: Any) -> str:
        return "".join(encoder(value, 0))

    return whole


def _key(key: Any, whole: Callable[[Any], str]) -> str:
    """An object key as the encoder writes it: a number, boolean or null key becomes a string."""
    if type(key) is str:
        return whole(key)
    member = whole({key: None})
    return member[1:member.rindex(":")]


def _spliced(value: Any, whole: Callable[[Any], str]) -> str:
    """A value holding `RawJson` parts, encoded around them: their texts are copied in as they are."""
    kind = type(value)
    if kind is RawJson:
        return value.text
    if kind is dict:
        return "{" + ",".join(f"{_key(key, whole)}:{_spliced(item, whole)}" for key, item in value.items()) + "}"
    if kind is list or kind is tuple:
        return "[" + ",".join(_spliced(item, whole) for item in value) + "]"
    return whole(value)


# Step Functions writes compact JSON (`{"a":1}`), keeps non-ASCII characters as they are (no \uXXXX),
# does not escape "/", and keeps the key order it was given. The corpus shows floats keep their
# fractional form (`0.0` stays `0.0`, never `0`), which is also what Python's float repr does.
_encode_whole = compact_encoder(allow_nan=False)

# Java's Jackson escapes control characters with upper-case hex (`\u001F`); Python writes lower case.
# Only a `\u00xx` preceded by an even number of backslashes is an escape that json emitted.
_LOWER_HEX_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u00([01][0-9a-f])")


def _upper_hex(match: re.Match[str]) -> str:
    return match.group(1) + "\\u00" + match.group(2).upper()


# Arrays longer than this are encoded this many items at a time (see `_encode`).
_PIECEWISE_ITEMS = 1000


def dumps(value: Any) -> str:
    """Serialise a JSON value (dict, list, str, int, float, bool, None) the way AWS renders it."""
    text = _encode(value)
    if "\\u00" in text:
        text = _LOWER_HEX_ESCAPE.sub(_upper_hex, text)
    return text


def _encode(value: Any) -> str:
    """The encoder's text, but a large array — or an object holding one, as a Map's input does — is
    encoded a part at a time and joined: one encode of it would hold many more intermediate strings
    at once (several times the size of the text)."""
    if type(value) is RawJson:
        return value.text
    if type(value) is list and len(value) > _PIECEWISE_ITEMS:
        # Slices of the array, each encoded whole and unwrapped: a text per slice, not one per item.
        step = _PIECEWISE_ITEMS
        return "[" + ",".join([_encode(value[at:at + step])[1:-1] for at in range(0, len(value), step)]) + "]"
    if type(value) is dict and any(type(v) is list and len(v) > _PIECEWISE_ITEMS for v in value.values()) and all(
            type(k) is str for k in value):
        return "{" + ",".join([f"{_encode_whole(k)}:{_encode(v)}" for k, v in value.items()]) + "}"
    return _encode_whole(value)


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; Python accepts them by default, AWS does not.
    raise ValueError(f"Invalid JSON constant: {name}")


class NumberOutOfRange(ValueError):
    """A JSON number too large for a double (1e400): Python would parse it as an infinity, which no
    JSON text can hold, and AWS's parser refuses it."""

    def __init__(self, token: str) -> None:
        super().__init__(f"Number out of range of double: {token}")
        self.token = token


def finite_float(token: str) -> float:
    """`parse_float` for a JSON decoder: the number, or NumberOutOfRange."""
    value = float(token)
    if math.isinf(value):
        raise NumberOutOfRange(token)
    return value


_decoder = json.JSONDecoder(parse_constant=_reject_constant, parse_float=finite_float)


def loads(text: str | bytes) -> Any:
    """Parse JSON text strictly (no NaN/Infinity); raises ValueError on anything that is not JSON."""
    if isinstance(text, bytes | bytearray):
        text = text.decode("utf-8")
    # JSONDecoder.decode rejects trailing garbage but, unlike json.loads, not a leading BOM: same effect.
    try:
        return _decoder.decode(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply to parse") from None


# How deeply a state's data may nest (objects and arrays in one another). Jackson, which reads AWS's
# payloads, allows 1,000 levels; Python's JSON encoder and decoder count each level against the
# recursion limit (1,000 frames, shared with the stack beneath them), so the data must leave room
# for the engine's own frames and for the snapshot and rows that hold it a few levels down.
MAX_DEPTH = 900

# Everything but the brackets outside strings, in one pass: the skeleton left is small even when the
# text is large (no copy of the whole text is made on the way).
_NOT_SKELETON = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[^\[\]{}"]+')
_AS_SQUARE = str.maketrans("{}", "[]")


def nests_deeper(text: str, depth: int = MAX_DEPTH) -> bool:
    """Whether JSON text nests objects and arrays more than `depth` levels deep (`[]` is one level).
    Text with no more than `depth` brackets cannot, and is not looked at further: a state's data
    usually has a few. Otherwise the strings go, then each round removes the innermost pairs of what is
    left — one level a round, and the shallow bulk of a large value in the first few."""
    if text.count("[") + text.count("{") <= depth:
        return False
    skeleton = _NOT_SKELETON.sub("", text).translate(_AS_SQUARE)
    for _ in range(depth):
        skeleton = skeleton.replace("[]", "")
        if not skeleton:
            return False
    return True


# ---- large documents a part at a time -------------------------------------------------------------
# A large input (a Map's thousands of items) is read as text here: each member or element is parsed on
# its own and let go of, so the document never exists as objects all at once.

_WHITESPACE = re.compile(r"[ \t\n\r]*")
# How deep `compact` walks into objects and arrays before it parses a value whole: the document, and
# the values of its members or elements (a Map's items array, or the array itself).
_COMPACT_DEPTH = 2


def _skip(text: str, at: int) -> int:
    """The index of the first character at or after `at` that is not whitespace."""
    return _WHITESPACE.match(text, at).end()  # type: ignore[union-attr]  # a `*` pattern always matches


class _Unwalkable(Exception):
    """A text `compact` or `array_runs` does not handle a part at a time (or that is not JSON)."""


def _scan(text: str, at: int) -> tuple[Any, int]:
    """The value starting at `at` and the index just after it."""
    try:
        return _decoder.scan_once(text, at)  # type: ignore[attr-defined,no-any-return]
    except (StopIteration, ValueError):
        raise _Unwalkable from None


class _Pieces:
    """Text written a piece at a time and joined a thousand pieces at a time: never a string per item."""

    def __init__(self) -> None:
        self.chunks: list[str] = []
        self.pieces: list[str] = []

    def write(self, piece: str) -> None:
        self.pieces.append(piece)
        if len(self.pieces) >= 1000:
            self.chunks.append("".join(self.pieces))
            self.pieces.clear()

    def text(self) -> str:
        return "".join(self.chunks) + "".join(self.pieces)


def compact(text: str) -> str | None:
    """`dumps(loads(text))` — the form in which Step Functions writes a value — built a member or
    element at a time down to the values of a top-level container's members, so that the
    document never exists as objects all at once; `text` itself when it is already in that form.
    None when it is not JSON, or holds an object with a repeated key (which parsing would merge)."""
    out = _Pieces()
    try:
        end = _compact_value(text, _skip(text, 0), 0, out)
    except (_Unwalkable, IndexError, ValueError, RecursionError):  # ValueError: 1E400, too large a float
        return None  # the caller parses the text whole, which reports what is wrong in its own words
    if _skip(text, end) != len(text):
        return None
    written = out.text()
    return text if written == text else written


def _compact_value(text: str, at: int, depth: int, out: _Pieces) -> int:
    """Write the value starting at `at` (no whitespace before it) compactly; the index after it."""
    opening = text[at]
    if depth >= _COMPACT_DEPTH or opening not in "[{":
        value, end = _scan(text, at)
        out.write(dumps(value))
        return end
    closing = "}" if opening == "{" else "]"
    out.write(opening)
    at = _skip(text, at + 1)
    keys: set[str] = set()
    if text[at] != closing:
        while True:
            if opening == "{":
                key, at = _scan(text, at)
                if type(key) is not str or key in keys:
                    raise _Unwalkable
                keys.add(key)
                at = _skip(text, at)
                if text[at] != ":":
                    raise _Unwalkable
                out.write(dumps(key) + ":")
                at = _skip(text, at + 1)
            at = _skip(text, _compact_value(text, at, depth + 1, out))
            if text[at] == closing:
                break
            if text[at] != ",":
                raise _Unwalkable
            out.write(",")
            at = _skip(text, at + 1)
    out.write(closing)
    return at + 1


def array_runs(text: str, keys: tuple[str, ...], per_run: int) -> tuple[int, dict[int, str]] | None:
    """In compact text (as `dumps` writes it), the array reached through the object members `keys`,
    as (its length, its elements as JSON arrays of up to `per_run` consecutive ones by the index of
    the first, each run starting at a multiple of `per_run`). The elements are parsed one at a time
    only to find where they end. None when a key is missing or the value there is not an array."""
    at = 0
    try:
        for key in keys:
            if text[at] != "{":
                return None
            at += 1
            while True:
                if text[at] == "}":
                    return None
                name, at = _scan(text, at)
                if name == key:
                    at += 1  # past ":"
                    break
                at = _scan(text, at + 1)[1]
                at += 1  # past ","
        if text[at] != "[":
            return None
        runs: dict[int, str] = {}
        count, first_at = 0, at + 1
        at += 1
        while text[at] != "]":
            at = _scan(text, at)[1]
            count += 1
            if count % per_run == 0:
                runs[count - per_run] = "[" + text[first_at:at] + "]"
                first_at = at + 1
            if text[at] == ",":
                at += 1
        if count % per_run:
            runs[count - count % per_run] = "[" + text[first_at:at] + "]"
    except (_Unwalkable, IndexError, RecursionError):
        return None
    return count, runs


def json_type(value: Any) -> str:
    """The JSON type name of a value, as AWS's error messages spell it (`number`, `array`, …)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if type(value) is RawJson:
        return _RAW_TYPES.get(value.text[0], "number")
    return "object"


_RAW_TYPES = {"[": "array", "{": "object", '"': "string", "t": "boolean", "f": "boolean", "n": "null"}
_SCALARS = frozenset({str, int, float, bool, type(None)})


class _NotPlain(Exception):
    """A value that only a JSON round trip can convert (a subclass, a non-string key, a cycle, …)."""


def copy(value: Any) -> Any:
    """A fresh copy of a value, as a JSON round trip (`json.loads(json.dumps(value))`) gives it."""
    # Plain dicts, lists, tuples and scalars are copied directly, several times faster than encoding
    # and parsing; anything else takes the round trip itself, so its conversions and errors stay the same.
    try:
        return _copy(value)
    except (_NotPlain, RecursionError):
        return json.loads(json.dumps(value))


def _copy(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        out = {}
        for key, item in value.items():
            if type(key) is not str:
                raise _NotPlain
            out[key] = item if type(item) in _SCALARS else _copy(item)
        return out
    if kind is list or kind is tuple:
        return [item if type(item) in _SCALARS else _copy(item) for item in value]
    if kind in _SCALARS or kind is RawJson:  # a RawJson is never changed in place: it can be shared
        return value
    raise _NotPlain
