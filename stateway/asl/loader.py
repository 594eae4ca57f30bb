"""Turn definition text (JSON, or YAML as a stateway extension) into a plain dict, with AWS's parse errors."""

from __future__ import annotations

import json
import re
from typing import Any, Final

import yaml

from stateway.asl.errors import DefinitionError, Problem
from stateway.asl.jsontext import NumberOutOfRange, finite_float

INVALID_JSON_DESCRIPTION: Final = "INVALID_JSON_DESCRIPTION"
SCHEMA_VALIDATION_FAILED: Final = "SCHEMA_VALIDATION_FAILED"
# AWS renders problems that point nowhere as "... at null" in CreateStateMachine errors.
NO_LOCATION: Final = "null"
NOT_AN_OBJECT: Final = "Definition must be a valid JSON object"
# Jackson's default nesting limit; Python's parser stops at its recursion limit, about as deep.
TOO_DEEP: Final = "Document nesting depth exceeds the maximum allowed (1000)"

# Jackson (which AWS parses with) quotes at most this much of the source in its locations.
_MAX_SOURCE_CHARS: Final = 500
_EXPECTED_VALUE: Final = "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
_TOKEN_CHARS: Final = re.compile(r"[A-Za-z0-9_$+\-.]+")


class _DefinitionYamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader minus the timestamp resolver: ASL timestamps must stay strings."""


_DefinitionYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_definition(text: str) -> dict[str, Any]:
    """Parse a definition given as JSON or YAML text; raise DefinitionError in AWS's words if it is not one."""
    stripped = text.strip()
    if not stripped:
        raise DefinitionError([Problem(SCHEMA_VALIDATION_FAILED, NOT_AN_OBJECT, NO_LOCATION)])
    try:
        value = _parse(text)
    except json.JSONDecodeError as error:
        json_problem = jackson_problem(text, error)
    except (_NonStandardTokenError, NumberOutOfRange) as error:
        json_problem = _token_problem(text, error)
    except RecursionError:
        raise DefinitionError([Problem(INVALID_JSON_DESCRIPTION, TOO_DEEP, NO_LOCATION)]) from None
    else:
        return _require_object(value)
    if stripped[0] in "{[":
        # Text that starts like JSON is JSON: a YAML reading of broken JSON only confuses.
        raise DefinitionError([json_problem])
    try:
        value = yaml.load(text, Loader=_DefinitionYamlLoader)  # a SafeLoader subclass, so safe
    except yaml.MarkedYAMLError as error:
        raise DefinitionError([_yaml_problem(text, error)]) from None
    except yaml.YAMLError:
        raise DefinitionError([json_problem]) from None
    if isinstance(value, list):
        raise DefinitionError([Problem(SCHEMA_VALIDATION_FAILED, NOT_AN_OBJECT, NO_LOCATION)])
    if not isinstance(value, dict):
        # A bare YAML scalar such as "not a definition" was meant as neither: report it as AWS does.
        raise DefinitionError([json_problem])
    return value


def _require_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DefinitionError([Problem(SCHEMA_VALIDATION_FAILED, NOT_AN_OBJECT, NO_LOCATION)])
    return value


class _NonStandardTokenError(ValueError):
    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.token = token


def _reject_constant(token: str) -> Any:
    # Python accepts NaN and Infinity; Jackson, and so AWS, does not.
    raise _NonStandardTokenError(token)


def _parse(text: str) -> Any:
    """JSON as AWS reads it: no NaN or Infinity, no number beyond a double's range."""
    return json.loads(text, parse_constant=_reject_constant, parse_float=finite_float)


def _token_problem(text: str, error: _NonStandardTokenError | NumberOutOfRange) -> Problem:
    if isinstance(error, NumberOutOfRange):
        pos = max(text.find(error.token), 0)
        return Problem(INVALID_JSON_DESCRIPTION, f"Numeric value ({error.token}) out of range of double",
                       source_location(text, pos + len(error.token)))
    return _non_standard_token_problem(text, error.token)


def source_location(text: str, pos: int) -> str:
    """Jackson's location text for a 0-based position whose 1-based column is `pos`'s column + 1."""
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"[Source: {_source(text)}; line: {line}, column: {column}]"


def _source(text: str) -> str:
    if len(text) <= _MAX_SOURCE_CHARS:
        return f'(String)"{text}"'
    return f'(String)"{text[:_MAX_SOURCE_CHARS]}"[truncated {len(text) - _MAX_SOURCE_CHARS} chars]'


def _char(c: str) -> str:
    if ord(c) < 32:
        return f"(CTRL-CHAR, code {ord(c)})"
    return f"'{c}' (code {ord(c)})"


def jackson_problem(text: str, error: json.JSONDecodeError) -> Problem:
    """Say what Jackson would say about the place where Python's parser stopped."""
    pos = error.pos
    at_end = pos >= len(text.rstrip())
    c = text[pos] if pos < len(text) else ""
    kind = error.msg
    if at_end and not kind.startswith(("Unterminated string", "Invalid control")):
        container, start = _open_container(text, len(text))
        message = (
            f"Unexpected end-of-input: expected close marker for {container} "
            f"(start marker at {source_location(text, start)})"
            if container
            else "No content to map due to end-of-input"
        )
        return Problem(INVALID_JSON_DESCRIPTION, message, source_location(text, len(text)))
    if kind.startswith("Expecting value"):
        token = _TOKEN_CHARS.match(text, pos)
        if token and c.isalpha():
            message = f"Unrecognized token '{token.group()}': was expecting {_EXPECTED_VALUE}"
            return Problem(INVALID_JSON_DESCRIPTION, message, source_location(text, token.end()))
        message = f"Unexpected character ({_char(c)}): expected a valid value {_EXPECTED_VALUE}"
    elif kind.startswith("Expecting property name"):
        message = f"Unexpected character ({_char(c)}): was expecting double-quote to start field name"
    elif kind.startswith("Expecting ':'"):
        message = f"Unexpected character ({_char(c)}): was expecting a colon to separate field name and value"
    elif kind.startswith("Expecting ','"):
        container, _ = _open_container(text, pos)
        message = f"Unexpected character ({_char(c)}): was expecting comma to separate {container} entries"
    elif kind.startswith("Unterminated string"):
        message = "Unexpected end-of-input: was expecting closing quote for a string value"
        return Problem(INVALID_JSON_DESCRIPTION, message, source_location(text, len(text)))
    elif kind.startswith("Invalid control character"):
        message = (
            f"Illegal unquoted character ({_char(c)}): "
            "has to be escaped using backslash to be included in string value"
        )
    elif kind.startswith("Invalid \\"):
        escaped = text[pos + 1 : pos + 2] if text[pos : pos + 1] == "\\" else c
        message = f"Unrecognized character escape {_char(escaped)}"
        pos += 1
    elif kind.startswith("Extra data"):
        message = f"Unexpected character ({_char(c)}): was expecting end of input"
    else:
        message = kind
    # Jackson reports the position just after the offending character.
    return Problem(INVALID_JSON_DESCRIPTION, message, source_location(text, pos + 1))


def json_problem(text: str) -> str | None:
    """Jackson's words for what makes `text` not JSON as AWS reads it (no NaN or Infinity, numbers
    within a double's range, nesting within its limit), or None when it is JSON."""
    try:
        _parse(text)
    except json.JSONDecodeError as error:
        return jackson_problem(text, error).message
    except (_NonStandardTokenError, NumberOutOfRange) as error:
        return _token_problem(text, error).message
    except RecursionError:
        return TOO_DEEP
    return None


def load_json_definition(text: str) -> dict[str, Any]:
    """Parse a definition given as JSON text only, as the Step Functions API takes it (YAML is a
    stateway extension for definition files); raise DefinitionError in AWS's words if it is not one."""
    if not text.strip():
        raise DefinitionError([Problem(SCHEMA_VALIDATION_FAILED, NOT_AN_OBJECT, NO_LOCATION)])
    try:
        value = _parse(text)
    except json.JSONDecodeError as error:
        raise DefinitionError([jackson_problem(text, error)]) from None
    except (_NonStandardTokenError, NumberOutOfRange) as error:
        raise DefinitionError([_token_problem(text, error)]) from None
    except RecursionError:
        raise DefinitionError([Problem(INVALID_JSON_DESCRIPTION, TOO_DEEP, NO_LOCATION)]) from None
    return _require_object(value)


def _non_standard_token_problem(text: str, token: str) -> Problem:
    pos = max(text.find(token), 0)
    message = f"Non-standard token '{token}': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow"
    return Problem(INVALID_JSON_DESCRIPTION, message, source_location(text, pos + len(token)))


def _open_container(text: str, end: int) -> tuple[str, int]:
    """The innermost Object or Array still open at `end`, and where it started (ignoring strings)."""
    stack: list[tuple[str, int]] = []
    in_string = False
    escaped = False
    for i, c in enumerate(text[:end]):
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "{[":
            stack.append(("Object" if c == "{" else "Array", i))
        elif c in "}]" and stack:
            stack.pop()
    return stack[-1] if stack else ("", 0)


def _yaml_problem(text: str, error: yaml.MarkedYAMLError) -> Problem:
    mark = error.problem_mark or error.context_mark
    message = f"Invalid YAML: {error.problem or error.context or 'unparsable text'}"
    if mark is None:
        return Problem(INVALID_JSON_DESCRIPTION, message, NO_LOCATION)
    return Problem(
        INVALID_JSON_DESCRIPTION,
        message,
        f"[Source: {_source(text)}; line: {mark.line + 1}, column: {mark.column + 1}]",
    )
