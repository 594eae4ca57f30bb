"""Turn definition text (JSON, or YAML as a stateway extension) into a plain dict, with AWS's parse errors."""

from __future__ import annotations

import json
import math
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
_TOO_DEEP: Final = Problem(INVALID_JSON_DESCRIPTION, TOO_DEEP, NO_LOCATION)

# Jackson (which AWS parses with) quotes at most this much of the source in its locations.
_MAX_SOURCE_CHARS: Final = 500
_EXPECTED_VALUE: Final = "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
_TOKEN_CHARS: Final = re.compile(r"[A-Za-z0-9_$+\-.]+")


# What YAML aliases may expand a definition to, in JSON characters: AWS's largest definition, 1 MiB.
MAX_EXPANDED_CHARS: Final = 1_048_576
_STR_TAG: Final = "tag:yaml.org,2002:str"
# The YAML types that are JSON types; any other tag (!!set, !!binary, !!timestamp, …) is refused.
_JSON_TAGS: Final = ("null", "bool", "int", "float", "str", "seq", "map")


class _DefinitionYamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader yielding only JSON values: no timestamps (ASL timestamps stay strings), no
    sets, binaries, NaN or infinities, string keys only, and no aliases that expand or recurse without bound."""

    def construct_document(self, node: yaml.Node) -> Any:
        _check_aliases(node)  # before anything walks the values: a bomb is cheap only as shared nodes
        return super().construct_document(node)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        self.flatten_mapping(node)  # merge keys (`<<: *base`) first, so their keys are checked too
        for key_node, _ in node.value:
            if key_node.tag != _STR_TAG:
                raise yaml.constructor.ConstructorError(
                    None, None, f"{_shown(key_node)} is not a string (a JSON key must be one: quote it)",
                    key_node.start_mark)
        return super().construct_mapping(node, deep)

    def construct_finite_float(self, node: yaml.ScalarNode) -> float:
        value = self.construct_yaml_float(node)
        if not math.isfinite(value):
            raise yaml.constructor.ConstructorError(None, None, f"{node.value} is not a JSON number", node.start_mark)
        return value

    def construct_not_json(self, node: yaml.Node) -> Any:
        tag = node.tag.replace("tag:yaml.org,2002:", "!!")
        raise yaml.constructor.ConstructorError(None, None, f"{tag} is not a JSON type", node.start_mark)


_DefinitionYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_DefinitionYamlLoader.yaml_constructors = {
    **{f"tag:yaml.org,2002:{name}": yaml.SafeLoader.yaml_constructors[f"tag:yaml.org,2002:{name}"]
       for name in _JSON_TAGS},
    "tag:yaml.org,2002:float": _DefinitionYamlLoader.construct_finite_float,
    None: _DefinitionYamlLoader.construct_not_json,
}


def _shown(key: yaml.Node) -> str:
    if isinstance(key, yaml.ScalarNode):
        return f"the key {key.value!r}"
    return "a mapping as a key" if isinstance(key, yaml.MappingNode) else "a sequence as a key"


def _children(node: yaml.Node) -> list[yaml.Node]:
    """A collection node's keys and values in order, or a sequence node's items."""
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    return list(node.value)


def _check_aliases(root: yaml.Node) -> None:
    """Refuse a YAML node graph that contains itself, or whose aliases expand it beyond MAX_EXPANDED_CHARS."""
    sizes: dict[int, int] = {}  # a node's expanded JSON size, each node measured once however often aliased
    open_nodes: set[int] = set()
    aliased = False
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        key = id(node)
        if leaving:
            open_nodes.discard(key)
            children = _children(node)
            # Two brackets and a comma or colon between children; a string's quotes are left out, so a
            # definition never measures more than its JSON text.
            sizes[key] = 1 + max(len(children), 1) + sum(sizes[id(child)] for child in children)
            continue
        if key in open_nodes:
            raise yaml.constructor.ConstructorError(None, None, "an alias refers to a node that contains it "
                                                    "(a JSON value cannot contain itself)", node.start_mark)
        if key in sizes:
            aliased = True
            continue
        if isinstance(node, yaml.ScalarNode):
            sizes[key] = len(node.value)
            continue
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(_children(node)))
    if aliased and sizes[id(root)] > MAX_EXPANDED_CHARS:
        raise yaml.constructor.ConstructorError(
            None, None, f"its aliases expand the definition to more than {MAX_EXPANDED_CHARS} characters of JSON",
            root.start_mark)


def load_definition(text: str) -> dict[str, Any]:
    """Parse a definition given as JSON or YAML text; raise DefinitionError in AWS's words if it is not one."""
    stripped = text.strip()
    if not stripped:
        raise DefinitionError([Problem(SCHEMA_VALIDATION_FAILED, NOT_AN_OBJECT, NO_LOCATION)])
    value, json_problem = _read_json(text)
    if json_problem is None:
        return _require_object(value)
    if json_problem is _TOO_DEEP or stripped[0] in "{[":
        # Text that starts like JSON is JSON: a YAML reading of broken JSON only confuses.
        raise DefinitionError([json_problem])
    try:
        value = yaml.load(text, Loader=_DefinitionYamlLoader)  # a SafeLoader subclass, so safe
    except yaml.MarkedYAMLError as error:
        raise DefinitionError([_yaml_problem(text, error)]) from None
    except yaml.YAMLError:
        raise DefinitionError([json_problem]) from None
    except RecursionError:
        raise DefinitionError([_TOO_DEEP]) from None
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


def _read_json(text: str) -> tuple[Any, Problem | None]:
    """The value of `text` read as JSON as AWS reads it, or the problem with it in Jackson's words."""
    try:
        return _parse(text), None
    except json.JSONDecodeError as error:
        return None, jackson_problem(text, error)
    except (_NonStandardTokenError, NumberOutOfRange) as error:
        return None, _token_problem(text, error)
    except RecursionError:
        return None, _TOO_DEEP


def json_problem(text: str) -> str | None:
    """Jackson's words for what makes `text` not JSON as AWS reads it (no NaN or Infinity, numbers
    within a double's range, nesting within its limit), or None when it is JSON."""
    problem = _read_json(text)[1]
    return problem.message if problem is not None else None


def load_json_definition(text: str) -> dict[str, Any]:
    """Parse a definition given as JSON text only, as the Step Functions API takes it (YAML is a
    stateway extension for definition files); raise DefinitionError in AWS's words if it is not one."""
    if not text.strip():
        raise DefinitionError([Problem(SCHEMA_VALIDATION_FAILED, NOT_AN_OBJECT, NO_LOCATION)])
    value, problem = _read_json(text)
    if problem is not None:
        raise DefinitionError([problem])
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
