"""Step Functions' JSONata: compile and evaluate `{% … %}` expressions with AWS's function library, bounded and pure.

The engine (jlens, a Rust JSONata 2.0 engine, chosen by measuring candidates on correctness and speed) stays behind
this module; nothing else in stateway imports it. What AWS adds or changes on top of JSONata 2.0.6:

- `$states` (input, context, result, errorOutput) is bound to the engine's input document, which it reads lazily
  (AWS forbids top-level `$`/`$$`, so nothing else sees that document); the workflow variables an expression
  names are bindings.
- AWS's functions `$partition`, `$range`, `$hash`, `$random([seed])`, `$uuid()`, `$parse`; `$eval` is removed
  (calling it fails like any unknown function: `T1006: Attempted to invoke a non-function`).
- Everything non-deterministic comes from `env`: `$uuid()` from env.uuid4(), unseeded `$random()` from
  env.random(), and `$now()`/`$millis()` read env.now_ms, so a replayed step yields the same values.
- Evaluation is bounded by deterministic budgets (steps, recursion depth, array and string sizes) rather than a
  clock, so a hostile expression fails the same way on every replay and never needs a thread or a timer.

Errors become `FailureError("States.QueryEvaluationError", cause)` with AWS's cause texts, without the
"An error occurred while executing the state …" prefix that the interpreter adds.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import jlens

from stateway.asl.errors import ErrorName, FailureError, Problem, StatewayError
from stateway.asl.jsontext import dumps, json_type

__all__ = [
    "DEFAULT_LIMITS",
    "CompiledExpression",
    "JsonataEnv",
    "JsonataSyntaxError",
    "Limits",
    "compile_expression",
    "evaluate",
    "evaluate_template",
    "is_expression",
    "type_failure",
]


class JsonataEnv(Protocol):
    """What JSONata needs from the world; the interpreter's Env satisfies it."""

    @property
    def now_ms(self) -> int: ...

    def uuid4(self) -> str: ...

    def random(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Limits:
    """Deterministic evaluation budgets: the same expression and data fail (or not) identically on every replay.

    A wall-clock timeout would make the outcome depend on machine load, which a durable replay cannot tolerate;
    counting evaluation steps bounds loops and recursion, and the size caps bound work that a single step can
    do inside a built-in (a `[1..1e9]` range, a string doubled in a loop).
    """

    max_steps: int = 100_000
    max_depth: int = 500
    max_array_length: int = 1_000_000
    max_string_length: int = 16 * 1024 * 1024


DEFAULT_LIMITS = Limits()


class JsonataSyntaxError(StatewayError):
    """A `{% … %}` string whose expression does not parse; `problem()` gives it a definition-error form."""

    def __init__(self, text: str, code: str, message: str, position: int | None) -> None:
        self.text = text
        self.code = code
        self.detail = message
        self.position = position
        super().__init__(f"The JSONata expression '{_source_of(text)}' is invalid. {code}: {message}")

    def problem(self, location: str) -> Problem:
        """The definition problem for this expression at `location` (a JSON pointer such as `/States/A/Output`)."""
        return Problem("SCHEMA_VALIDATION_FAILED", str(self), location)


@dataclass(frozen=True, slots=True, eq=False)
class CompiledExpression:
    """A parsed `{% … %}` string: `text` as written, `source` as AWS quotes it in causes (trimmed)."""

    text: str
    source: str
    program: Any  # the engine's compiled form; opaque outside this module
    names: frozenset[str]  # every `$name` the text mentions, a superset of the variables it reads


def is_expression(value: Any) -> bool:
    """True for a string that is wholly a JSONata expression: starts with `{%` and ends with `%}`, no padding."""
    return isinstance(value, str) and len(value) >= 4 and value.startswith("{%") and value.endswith("%}")


def _source_of(text: str) -> str:
    return text[2:-2].strip()


# The expression runs inside a block that binds `$states` and reports its result's type next to its value.
# - `$states` is the engine's input document, not a binding: the engine reads a document lazily, as far as the
#   expression reaches, while it converts bindings whole on every call (for a 2,000-row input that is ~2 us
#   against ~700 us per expression). AWS forbids `$`/`$$` at the top level, so the document is not otherwise
#   visible to a valid definition.
# - The engine hands back undefined and null alike as None, and drops functions; the wrapper keeps them apart:
#   undefined gives `{}` (an object constructor drops undefined values), a function gives `{"t": "function"}`.
_WRAPPER = (
    "( $states := $; $__stateway_value := (\n{source}\n); "
    "{{'t': $type($__stateway_value), 'v': $__stateway_value}} )"
)

# `$name` references; only the workflow variables an expression names are handed to the engine (see above).
_REFERENCE = re.compile(r"\$(\w+)")


@lru_cache(maxsize=4096)
def compile_expression(text: str) -> CompiledExpression:
    """Parse a whole `{% … %}` string once (cached); raises JsonataSyntaxError when it is not valid JSONata."""
    if not is_expression(text):
        raise JsonataSyntaxError(text, "S0000", "not a {% … %} expression", None)
    source = _source_of(text)
    if not source:
        raise JsonataSyntaxError(text, "S0207", "Unexpected end of expression", 0)
    try:
        # Parsed on its own first so that a syntax error reports positions in the text the user wrote.
        jlens.Expression(source)
        program = jlens.Expression(_WRAPPER.format(source=source))
    except jlens.JlensError as error:
        raise JsonataSyntaxError(text, error.code, _message(error), error.position) from None
    for name, function, signature in _STATELESS_FUNCTIONS:
        program.register_function(name, function, signature)
    return CompiledExpression(text, source, program, frozenset(_REFERENCE.findall(source)))


def evaluate(
    text_or_compiled: str | CompiledExpression,
    *,
    states: Mapping[str, Any],
    variables: Mapping[str, Any],
    env: JsonataEnv,
    field: str,
    state_name: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Any:
    """Evaluate one expression; undefined, a function result or an engine error raise States.QueryEvaluationError.

    `field` is where the expression sits (`Output`, `Arguments/FunctionName`, `Assign/result`) as AWS names it
    in causes; `state_name` is accepted for callers' symmetry and not part of the cause (the interpreter's
    prefix names the state).
    """
    compiled = _compiled(text_or_compiled)
    found, value = _run(compiled, states, variables, env, field, limits)
    if not found:
        raise _failure(compiled, field, "returned nothing (undefined).")
    return value


def evaluate_template(
    template: Any,
    *,
    states: Mapping[str, Any],
    variables: Mapping[str, Any],
    env: JsonataEnv,
    field: str,
    limits: Limits = DEFAULT_LIMITS,
    drop_undefined: bool = False,
) -> Any:
    """Evaluate every `{% … %}` string inside a JSON template (dicts, lists and scalars, any depth).

    An expression that comes out undefined fails with the path to it as the field (`Output/result`,
    `Arguments/FunctionName`, `Assign/result`): the corpus records exactly that, and no member ever silently
    disappears. `drop_undefined=True` leaves such object members out instead, for callers that want JSONata's
    own object-constructor behaviour.
    """
    if is_expression(template):
        return evaluate(template, states=states, variables=variables, env=env, field=field, limits=limits)
    return _walk(template, _Scope(states, variables, env, limits, drop_undefined), field)


@dataclass(frozen=True, slots=True)
class _Scope:
    states: Mapping[str, Any]
    variables: Mapping[str, Any]
    env: JsonataEnv
    limits: Limits
    drop_undefined: bool


def _walk(node: Any, scope: _Scope, path: str) -> Any:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            where = f"{path}/{key}"
            if is_expression(value):
                compiled = compile_expression(value)
                found, result = _run(compiled, scope.states, scope.variables, scope.env, where, scope.limits)
                if found:
                    out[key] = result
                elif not scope.drop_undefined:
                    raise _failure(compiled, where, "returned nothing (undefined).")
            else:
                out[key] = _walk(value, scope, where)
        return out
    if isinstance(node, list):
        items: list[Any] = []
        for index, value in enumerate(node):
            where = f"{path}[{index}]"
            if is_expression(value):
                items.append(
                    evaluate(
                        value,
                        states=scope.states,
                        variables=scope.variables,
                        env=scope.env,
                        field=where,
                        limits=scope.limits,
                    )
                )
            else:
                items.append(_walk(value, scope, where))
        return items
    return node


def type_failure(
    text_or_compiled: str | CompiledExpression, field: str, expected: str, value: Any
) -> FailureError:
    """AWS's error for a result of the wrong type, e.g. Map `Items` that is not an array."""
    compiled = _compiled(text_or_compiled)
    return _failure(
        compiled,
        field,
        f"returned an unexpected result type. Expected '{expected}', but was '{json_type(value)}' "
        f"for value: {dumps(value)}",
    )


# ---------------------------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------------------------


class _HostError(Exception):
    """Raised by AWS's functions; reported like an engine error, with a JSONata-style code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _compiled(text_or_compiled: str | CompiledExpression) -> CompiledExpression:
    if isinstance(text_or_compiled, CompiledExpression):
        return text_or_compiled
    return compile_expression(text_or_compiled)


def _run(
    compiled: CompiledExpression,
    states: Mapping[str, Any],
    variables: Mapping[str, Any],
    env: JsonataEnv,
    field: str,
    limits: Limits,
) -> tuple[bool, Any]:
    """(found, value): found is False when the expression is undefined."""
    names = compiled.names
    bindings = {name: variables[name] for name in names if name in variables}
    # AWS's functions win over workflow variables of the same name; `eval` is bound to a non-function so that a
    # call fails as a call of an unknown function does (T1006).
    if "random" in names:
        bindings["random"] = _random_function(env)
    if "uuid" in names:
        bindings["uuid"] = _uuid_function(env)
    if "eval" in names:
        bindings["eval"] = None
    bindings.pop("states", None)  # `$states` is the document (see _WRAPPER) and cannot be shadowed
    try:
        wrapped = compiled.program.evaluate(
            states if isinstance(states, dict) else dict(states),
            bindings,
            max_steps=limits.max_steps,
            max_depth=limits.max_depth,
            max_array_length=limits.max_array_length,
            max_string_length=limits.max_string_length,
            now=env.now_ms,
        )
    except jlens.JlensError as error:
        raise _failure(
            compiled, field, f"threw an error during evaluation. {error.code}: {_message(error)}"
        ) from None
    except _HostError as error:
        raise _failure(
            compiled, field, f"threw an error during evaluation. {error.code}: {error.message}"
        ) from None
    if not wrapped:
        return False, None
    if wrapped.get("t") == "function":
        raise _failure(compiled, field, "returned an unsupported result type.")
    return True, wrapped.get("v")


def _failure(compiled: CompiledExpression, field: str, outcome: str) -> FailureError:
    return FailureError(
        ErrorName.QUERY_EVALUATION_ERROR,
        f"The JSONata expression '{compiled.source}' specified for the field '{field}' {outcome}",
        location=field,
    )


def _message(error: jlens.JlensError) -> str:
    text = str(error)
    # The engine may prefix its message with the code; the cause already carries it.
    prefix = f"{error.code}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


# ---------------------------------------------------------------------------------------------------------------
# AWS's functions
# ---------------------------------------------------------------------------------------------------------------


def _random_function(env: JsonataEnv) -> Any:
    def _random(*args: Any) -> float:
        if not args or args[0] is None:
            return env.random()
        if len(args) > 1:
            raise _HostError("T0410", 'Argument 2 of function "random" does not match function signature')
        seed = args[0]
        if isinstance(seed, bool) or not isinstance(seed, int | float) or not math.isfinite(seed):
            raise _HostError("T0410", 'Argument 1 of function "random" does not match function signature')
        # A seeded value is a pure function of the seed; AWS's generator is not documented, so the values differ.
        return random.Random(int(seed)).random()

    return _random


def _uuid_function(env: JsonataEnv) -> Any:
    def _uuid(*args: Any) -> str:
        if args:
            raise _HostError("T0410", 'Argument 1 of function "uuid" does not match function signature')
        return env.uuid4()

    return _uuid


def _integer(value: Any, function: str, index: int) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value != int(value)
    ):
        raise _HostError("D3001", f'Argument {index} of function "{function}" must be an integer')
    return int(value)


def _partition(array: list[Any], size: Any) -> list[list[Any]]:
    chunk = _integer(size, "partition", 2)
    if chunk <= 0:
        raise _HostError("D3001", 'Argument 2 of function "partition" must be a positive integer')
    return [array[i : i + chunk] for i in range(0, len(array), chunk)]


def _range(start: Any, end: Any, step: Any) -> Any:
    first, last, stride = _integer(start, "range", 1), _integer(end, "range", 2), _integer(step, "range", 3)
    if stride == 0:
        raise _HostError("D3001", 'Argument 3 of function "range" must not be zero')
    values = list(range(first, last + (1 if stride > 0 else -1), stride))
    if len(values) > DEFAULT_LIMITS.max_array_length:
        raise _HostError(
            "U1001", f"An array would exceed the size limit of {DEFAULT_LIMITS.max_array_length} items"
        )
    # AWS returns a JSONata sequence: one value comes back bare (the corpus records `$range(1, 9, 9)` as 1)
    # and no value is undefined.
    if not values:
        return None
    return values[0] if len(values) == 1 else values


_HASH_ALGORITHMS = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}


def _hash(value: str, algorithm: str) -> str:
    name = _HASH_ALGORITHMS.get(algorithm)
    if name is None:
        raise _HostError(
            "D3001", f'Argument 2 of function "hash" must be one of {", ".join(_HASH_ALGORITHMS)}'
        )
    return hashlib.new(name, value.encode("utf-8")).hexdigest()


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _parse(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        raise _HostError("D3001", 'Argument 1 of function "parse" is not valid JSON') from None


_STATELESS_FUNCTIONS: tuple[tuple[str, Any, str], ...] = (
    ("partition", _partition, "<an:a>"),
    ("range", _range, "<nnn:x>"),
    ("hash", _hash, "<ss:s>"),
    ("parse", _parse, "<s:x>"),
)
