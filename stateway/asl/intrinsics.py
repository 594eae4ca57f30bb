"""Parse and evaluate the States Language intrinsic functions (`States.Format(...)` and friends) of JSONPath states."""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any, Protocol, TypeAlias

from stateway.asl import jsontext, paths
from stateway.asl.errors import ErrorName, FailureError, Problem, StatewayError
from stateway.asl.jsontext import json_type

__all__ = [
    "FUNCTION_ARITY",
    "IntrinsicCall",
    "IntrinsicEnv",
    "IntrinsicSyntaxError",
    "Literal",
    "PathArgument",
    "compile_intrinsic",
    "evaluate_intrinsic",
    "is_intrinsic",
]


class IntrinsicEnv(Protocol):
    """What intrinsics need from the world: the pure core gets UUIDs and unseeded randomness only from here."""

    def uuid4(self) -> str:
        """A fresh version-4 UUID in its canonical lower-case text form (States.UUID)."""
        ...

    def random_int(self, low: int, high: int) -> int:
        """An integer n with low <= n <= high, both bounds inclusive like `random.randint` (States.MathRandom)."""
        ...


# --------------------------------------------------------------------------------------------------------------
# The compiled form
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Literal:
    """A constant argument: a string, number, boolean or null written in the call.

    For a string literal, `template` holds its text split at every `{}` that was written unescaped, so that
    States.Format can tell a placeholder from an escaped `\\{\\}` (which stands for literal braces).
    """

    value: Any
    template: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class PathArgument:
    """A reference argument: a JSONPath (`$.x`), a context path (`$$.Execution.Id`) or a variable (`$var.x`)."""

    path: str


@dataclass(frozen=True, slots=True)
class IntrinsicCall:
    """One parsed invocation `States.Name(arg, ...)`; `source` is its text, quoted in failure causes."""

    name: str
    args: tuple[Argument, ...]
    source: str


Argument: TypeAlias = Literal | PathArgument | IntrinsicCall

# (minimum, maximum) argument counts; None means any number. AWS rejects a wrong count when the state machine
# is created, so the count is checked at compile time rather than at run time.
FUNCTION_ARITY: Mapping[str, tuple[int, int | None]] = {
    "States.Format": (1, None),
    "States.StringToJson": (1, 1),
    "States.JsonToString": (1, 1),
    "States.Array": (0, None),
    "States.ArrayPartition": (2, 2),
    "States.ArrayContains": (2, 2),
    "States.ArrayRange": (3, 3),
    "States.ArrayGetItem": (2, 2),
    "States.ArrayLength": (1, 1),
    "States.ArrayUnique": (1, 1),
    "States.Base64Encode": (1, 1),
    "States.Base64Decode": (1, 1),
    "States.Hash": (2, 2),
    "States.JsonMerge": (3, 3),
    "States.MathRandom": (2, 3),
    "States.MathAdd": (2, 2),
    "States.StringSplit": (2, 2),
    "States.UUID": (0, 0),
}


class IntrinsicSyntaxError(StatewayError):
    """Text that is not a valid intrinsic function call; AWS rejects such a definition when it is created."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"Invalid intrinsic function call {text!r}: {reason}")
        self.text = text
        self.reason = reason

    def problem(self, field: str, location: str) -> Problem:
        """The definition problem AWS reports for this text as the value of `field` (e.g. `greeting.$`)."""
        return Problem(
            "SCHEMA_VALIDATION_FAILED",
            f"The value for the field '{field}' must be a valid JSONPath or a valid intrinsic function call",
            location,
        )


# --------------------------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------------------------

_CALL_SHAPE = re.compile(r"\s*States\.[A-Za-z0-9]+\s*\(.*\)\s*", re.DOTALL)
_FUNCTION_NAME = re.compile(r"States\.[A-Za-z0-9]+")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# The only characters a backslash may escape inside a string literal: the intrinsic reserved characters.
_ESCAPABLE = frozenset("'{}\\")


def is_intrinsic(text: str) -> bool:
    """True when `text` has the shape of an intrinsic call (`States.Name(...)`), valid or not."""
    return isinstance(text, str) and _CALL_SHAPE.fullmatch(text) is not None


@lru_cache(maxsize=4096)
def compile_intrinsic(text: str) -> IntrinsicCall:
    """Parse `text` once into an IntrinsicCall.

    Raises IntrinsicSyntaxError for text AWS rejects at creation (bad syntax, unknown function, wrong argument
    count), and FailureError(States.Runtime) for an unknown backslash escape in a string literal, which AWS
    accepts at creation and fails on when the state runs.
    """
    parser = _Parser(text)
    parser.skip_spaces()
    call = parser.call()
    parser.skip_spaces()
    if not parser.at_end():
        raise parser.error("unexpected text after the closing parenthesis")
    return call


class _Parser:
    """A recursive-descent reader over the text of one intrinsic call."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, reason: str) -> IntrinsicSyntaxError:
        return IntrinsicSyntaxError(self.text, f"{reason} at position {self.pos}")

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise self.error(f"expected {char!r}")
        self.pos += 1

    def call(self) -> IntrinsicCall:
        start = self.pos
        match = _FUNCTION_NAME.match(self.text, self.pos)
        if match is None:
            raise self.error("expected an intrinsic function name such as States.Format")
        name = match.group()
        if name not in FUNCTION_ARITY:
            raise self.error(f"unknown intrinsic function {name}")
        self.pos = match.end()
        self.skip_spaces()
        self.expect("(")
        args: list[Argument] = []
        self.skip_spaces()
        if self.peek() == ")":
            self.pos += 1
        else:
            while True:
                self.skip_spaces()
                args.append(self.argument())
                self.skip_spaces()
                if self.peek() == ",":
                    self.pos += 1
                    continue
                if self.peek() == ")":
                    self.pos += 1
                    break
                raise self.error("expected ',' or ')'")
        low, high = FUNCTION_ARITY[name]
        if len(args) < low or (high is not None and len(args) > high):
            expected = str(low) if low == high else f"at least {low}" if high is None else f"{low} to {high}"
            raise IntrinsicSyntaxError(self.text, f"{name} takes {expected} argument(s), got {len(args)}")
        return IntrinsicCall(name, tuple(args), self.text[start : self.pos])

    def argument(self) -> Argument:
        char = self.peek()
        if char == "'":
            return self.string_literal()
        if char == "$":
            return PathArgument(self.path())
        if self.text.startswith("States.", self.pos):
            return self.call()
        if char == "-" or char.isdigit():
            match = _NUMBER.match(self.text, self.pos)
            if match is None:
                raise self.error("malformed number")
            self.pos = match.end()
            token = match.group()
            is_integer = not any(c in token for c in ".eE")
            return Literal(int(token) if is_integer else float(token))
        match = _WORD.match(self.text, self.pos)
        if match is not None and match.group() in ("true", "false", "null"):
            self.pos = match.end()
            return Literal({"true": True, "false": False, "null": None}[match.group()])
        raise self.error("expected a string, number, boolean, null, path or intrinsic function")

    def string_literal(self) -> Literal:
        self.expect("'")
        value: list[str] = []
        # Text between unescaped `{}` placeholders, for States.Format.
        segments: list[str] = []
        current: list[str] = []
        while True:
            if self.at_end():
                raise self.error("unterminated string literal")
            char = self.text[self.pos]
            if char == "'":
                self.pos += 1
                break
            if char == "\\":
                escaped = self.text[self.pos + 1 : self.pos + 2]
                if escaped not in _ESCAPABLE or escaped == "":
                    # AWS documents an open escape as a run-time error, not a definition error.
                    raise FailureError(
                        ErrorName.RUNTIME,
                        f"The intrinsic function '{self.text}' contains an invalid escape sequence "
                        f"'\\{escaped}'; only \\', \\{{, \\}} and \\\\ are allowed",
                    )
                value.append(escaped)
                current.append(escaped)
                self.pos += 2
                continue
            if char == "{" and self.text.startswith("{}", self.pos):
                value.append("{}")
                segments.append("".join(current))
                current = []
                self.pos += 2
                continue
            value.append(char)
            current.append(char)
            self.pos += 1
        segments.append("".join(current))
        return Literal("".join(value), tuple(segments))

    def path(self) -> str:
        """Read a path up to the ',' or ')' that ends the argument, skipping over brackets and quotes."""
        start = self.pos
        depth = 0
        quote = ""
        while not self.at_end():
            char = self.text[self.pos]
            if quote:
                if char == "\\":
                    self.pos += 1
                elif char == quote:
                    quote = ""
            elif char in "'\"" and depth > 0:
                quote = char
            elif char in "[(":
                depth += 1
            elif char in "])":
                if depth == 0:
                    break
                depth -= 1
            elif char == "," and depth == 0:
                break
            self.pos += 1
        path = self.text[start : self.pos].rstrip()
        if quote or depth:
            raise self.error("unterminated path")
        if not paths.is_valid_path(path):
            raise IntrinsicSyntaxError(self.text, f"invalid path argument {path!r}")
        return path


# --------------------------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------------------------


def evaluate_intrinsic(
    text: str,
    data: Any,
    context: Any,
    variables: Mapping[str, Any] | None,
    env: IntrinsicEnv,
) -> Any:
    """Evaluate the intrinsic call `text` against the state's data, the context object and workflow variables.

    Raises FailureError(States.IntrinsicFailure) when a function rejects its arguments, and lets the path
    module's PathNotFound through unchanged so that the payload evaluator can name the field in its cause.
    """
    try:
        call = compile_intrinsic(text)
    except IntrinsicSyntaxError as error:
        # Validation refuses such a call when the machine is created; a machine stored before it did
        # fails the state rather than the engine.
        raise FailureError(ErrorName.INTRINSIC_FAILURE.value, str(error)) from None
    return _evaluate_call(call, data, context, variables, env)


def _evaluate_call(
    call: IntrinsicCall, data: Any, context: Any, variables: Mapping[str, Any] | None, env: IntrinsicEnv
) -> Any:
    values = [_evaluate_argument(arg, data, context, variables, env) for arg in call.args]
    return _FUNCTIONS[call.name](_Invocation(call, values, env))


def _evaluate_argument(
    arg: Argument, data: Any, context: Any, variables: Mapping[str, Any] | None, env: IntrinsicEnv
) -> Any:
    if isinstance(arg, Literal):
        return arg.value
    if isinstance(arg, PathArgument):
        return paths.evaluate_path(arg.path, data, context, variables)
    return _evaluate_call(arg, data, context, variables, env)


@dataclass(frozen=True, slots=True)
class _Invocation:
    """One call being evaluated: its parsed form, its argument values and the environment."""

    call: IntrinsicCall
    values: list[Any]
    env: IntrinsicEnv

    def fail(self, detail: str) -> FailureError:
        return FailureError(
            ErrorName.INTRINSIC_FAILURE,
            f"The function '{self.call.source}' had the following error: {detail}",
        )

    def string(self, index: int) -> str:
        value = self.values[index]
        if not isinstance(value, str):
            raise self.fail(_type_message(index, "a string", value))
        return value

    def array(self, index: int) -> list[Any]:
        value = self.values[index]
        if not isinstance(value, list):
            raise self.fail(_type_message(index, "an array", value))
        return value

    def obj(self, index: int) -> dict[str, Any]:
        value = self.values[index]
        if not isinstance(value, dict):
            raise self.fail(_type_message(index, "a JSON object", value))
        return value

    def boolean(self, index: int) -> bool:
        value = self.values[index]
        if not isinstance(value, bool):
            raise self.fail(_type_message(index, "a boolean", value))
        return value

    def number(self, index: int) -> int | float:
        value = self.values[index]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(_type_message(index, "a number", value))
        return value

    def integer(self, index: int) -> int:
        """An argument that must be a whole number (2 and 2.0 are; 2.5 is not)."""
        value = self.number(index)
        if isinstance(value, float):
            if not value.is_integer():
                raise self.fail(_type_message(index, "an integer", value))
            return int(value)
        return value

    def rounded(self, index: int) -> int:
        """A numeric argument rounded to the nearest integer, halves towards positive infinity (Java Math.round).

        The corpus shows MathAdd(1.5, 0) = 2, MathAdd(-1.5, 0) = -1 and MathAdd(1.49, 1.5) = 3: each argument is
        rounded before the operation.
        """
        value = self.number(index)
        if isinstance(value, int):
            return value
        if not math.isfinite(value):
            raise self.fail(_type_message(index, "a finite number", value))
        floor = math.floor(value)
        return floor + 1 if value - floor >= 0.5 else floor


_ORDINALS = ("first", "second", "third", "fourth", "fifth")


def _type_message(index: int, expected: str, value: Any) -> str:
    ordinal = _ORDINALS[index] if index < len(_ORDINALS) else f"#{index + 1}"
    return f"The {ordinal} argument must be {expected}, but was {json_type(value)} {_compact_json(value)}"


# Limits documented by AWS for the encoding and hashing functions.
_MAX_ENCODE_LENGTH = 10_000
_MAX_RANGE_ITEMS = 1_000
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_HASH_ALGORITHMS: Mapping[str, str] = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}


def _format(inv: _Invocation) -> str:
    first = inv.call.args[0]
    if isinstance(first, Literal) and first.template is not None:
        segments = list(first.template)
    else:
        segments = inv.string(0).split("{}")
    arguments = inv.values[1:]
    if len(segments) - 1 != len(arguments):
        raise inv.fail(
            f"The number of arguments ({len(arguments)}) does not match the number of "
            f"placeholders {{}} ({len(segments) - 1}) in the format string"
        )
    out = [segments[0]]
    for argument, segment in zip(arguments, segments[1:], strict=True):
        out.append(_format_value(argument))
        out.append(segment)
    return "".join(out)


def _format_value(value: Any) -> str:
    """Render a value as States.Format does: the corpus shows strings bare, null as `null` and objects as
    `{Arg1=1, Arg2=[]}` — the rendering of a Java map — so nested values follow Java's toString too."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _java_double(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + ", ".join(_format_value(item) for item in value) + "]"
    return "{" + ", ".join(f"{key}={_format_value(item)}" for key, item in value.items()) + "}"


def _java_double(value: float) -> str:
    """Text of a double as Java's Double.toString writes it (1.1, 100.0, 1.0E7, 1.0E-5)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    magnitude = abs(value)
    if value == 0 or 1e-3 <= magnitude < 1e7:
        text = repr(value)
        return text if "." in text else text + ".0"
    # Python's repr gives the shortest digits that round-trip, as Java does; only the layout differs.
    exact = Decimal(repr(magnitude))
    digits = "".join(map(str, exact.as_tuple().digits)).rstrip("0") or "0"
    sign = "-" if value < 0 else ""
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{exact.adjusted()}"


def _string_to_json(inv: _Invocation) -> Any:
    text = inv.string(0)
    if text.strip() == "":
        # The corpus shows "" and " " both parse to null.
        return None
    try:
        return jsontext.loads(text)
    except ValueError as exc:
        raise inv.fail(f"The argument {_compact_json(text)} is not a valid JSON string: {exc}") from None


def _json_to_string(inv: _Invocation) -> str:
    return _compact_json(inv.values[0])


def _compact_json(value: Any) -> str:
    return jsontext.dumps(value)


def _array(inv: _Invocation) -> list[Any]:
    return list(inv.values)


def _array_partition(inv: _Invocation) -> list[list[Any]]:
    items = inv.array(0)
    size = inv.integer(1)
    if size <= 0:
        raise inv.fail(f"The chunk size must be greater than 0, but was {size}")
    return [items[i : i + size] for i in range(0, len(items), size)]


def _array_contains(inv: _Invocation) -> bool:
    items = inv.array(0)
    needle = inv.values[1]
    return any(_json_equal(item, needle) for item in items)


def _array_range(inv: _Invocation) -> list[int]:
    start, end, step = inv.integer(0), inv.integer(1), inv.integer(2)
    if step == 0:
        raise inv.fail("The step argument must not be 0")
    # The end is inclusive: ArrayRange(1, 9, 2) is [1, 3, 5, 7, 9].
    stop = end + (1 if step > 0 else -1)
    count = len(range(start, stop, step))
    if count > _MAX_RANGE_ITEMS:
        raise inv.fail(f"The array would have {count} items; at most {_MAX_RANGE_ITEMS} are allowed")
    return list(range(start, stop, step))


def _array_get_item(inv: _Invocation) -> Any:
    items = inv.array(0)
    index = inv.integer(1)
    if not 0 <= index < len(items):
        raise inv.fail(f"The index {index} is out of bounds for an array of length {len(items)}")
    return items[index]


def _array_length(inv: _Invocation) -> int:
    return len(inv.array(0))


def _array_unique(inv: _Invocation) -> list[Any]:
    unique: list[Any] = []
    for item in inv.array(0):
        if not any(_json_equal(item, seen) for seen in unique):
            unique.append(item)
    return unique


def _json_equal(left: Any, right: Any) -> bool:
    """JSON equality: booleans are not numbers (Python's True == 1 is not JSON's), numbers compare by value."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(_json_equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_json_equal(left[key], right[key]) for key in left)
    return type(left) is type(right) and left == right


def _check_length(inv: _Invocation, text: str) -> None:
    if len(text) > _MAX_ENCODE_LENGTH:
        raise inv.fail(
            f"The input string has {len(text)} characters; at most {_MAX_ENCODE_LENGTH} are allowed"
        )


def _base64_encode(inv: _Invocation) -> str:
    text = inv.string(0)
    _check_length(inv, text)
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _base64_decode(inv: _Invocation) -> str:
    text = inv.string(0)
    _check_length(inv, text)
    # Padding is optional (as with Java's decoder), every other character must be in the base64 alphabet.
    padded = text + "=" * (-len(text) % 4)
    try:
        raw = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise inv.fail(f"The argument {_compact_json(text)} is not a valid base64 string") from None
    return raw.decode("utf-8", errors="replace")


def _hash(inv: _Invocation) -> str:
    text = inv.string(0)
    algorithm = inv.string(1)
    _check_length(inv, text)
    name = _HASH_ALGORITHMS.get(algorithm)
    if name is None:
        raise inv.fail(
            f"The hash algorithm '{algorithm}' is not supported; use one of {', '.join(_HASH_ALGORITHMS)}"
        )
    return hashlib.new(name, text.encode("utf-8")).hexdigest()


def _json_merge(inv: _Invocation) -> dict[str, Any]:
    left, right, deep = inv.obj(0), inv.obj(1), inv.boolean(2)
    if deep:
        # AWS documents only the shallow mode and requires the third argument to be false.
        raise inv.fail("Deep merging is not supported; the third argument must be false")
    return {**left, **right}


def _math_random(inv: _Invocation) -> int:
    start, end = inv.rounded(0), inv.rounded(1)
    if start >= end:
        raise inv.fail(f"The start ({start}) must be less than the end ({end})")
    # Start is inclusive and end exclusive.
    if len(inv.values) == 3:
        seed = inv.rounded(2)
        return random.Random(seed).randint(start, end - 1)
    return inv.env.random_int(start, end - 1)


def _math_add(inv: _Invocation) -> int:
    left, right = inv.rounded(0), inv.rounded(1)
    for index, value in ((0, left), (1, right)):
        if not _INT32_MIN <= value <= _INT32_MAX:
            raise inv.fail(
                f"The {_ORDINALS[index]} argument {value} is outside the range {_INT32_MIN} to {_INT32_MAX}"
            )
    return left + right


def _string_split(inv: _Invocation) -> list[str]:
    text, delimiters = inv.string(0), inv.string(1)
    # Every character of the second argument is a delimiter and empty pieces are dropped: the corpus splits
    # "a,,,b" on "," into ["a", "b"] (the behaviour of Java's StringTokenizer).
    if delimiters == "":
        return [text] if text else []
    pattern = "[" + re.escape(delimiters) + "]+"
    return [piece for piece in re.split(pattern, text) if piece]


def _uuid(inv: _Invocation) -> str:
    return inv.env.uuid4()


_FUNCTIONS: Mapping[str, Callable[[_Invocation], Any]] = {
    "States.Format": _format,
    "States.StringToJson": _string_to_json,
    "States.JsonToString": _json_to_string,
    "States.Array": _array,
    "States.ArrayPartition": _array_partition,
    "States.ArrayContains": _array_contains,
    "States.ArrayRange": _array_range,
    "States.ArrayGetItem": _array_get_item,
    "States.ArrayLength": _array_length,
    "States.ArrayUnique": _array_unique,
    "States.Base64Encode": _base64_encode,
    "States.Base64Decode": _base64_decode,
    "States.Hash": _hash,
    "States.JsonMerge": _json_merge,
    "States.MathRandom": _math_random,
    "States.MathAdd": _math_add,
    "States.StringSplit": _string_split,
    "States.UUID": _uuid,
}
