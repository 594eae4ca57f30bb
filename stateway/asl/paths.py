"""JSONPath and reference paths evaluated exactly as Step Functions (Jayway JsonPath) evaluates them.

Step Functions evaluates JSONPath with Jayway JsonPath and its default options. What that means in
practice, and what this module reproduces:

* A *definite* path (only single fields and single indexes, e.g. ``$.a.b[0]``, ``$['x']``, ``$.a[-1]``,
  or a leaf union of field names ``$['a','b']`` which Jayway merges into one object) yields one value
  or fails; the failure carries Jayway's message (``Missing property in path $['no']``,
  ``No results for path: $['x']``), which AWS quotes in its causes.
* An *indefinite* path (``[*]``, ``.*``, slices ``[a:b]``, index unions ``[0,2]``, deep scan ``..``,
  filters ``[?(...)]``) yields the list of matches, possibly empty: AWS answers ``[]`` for
  ``$.items[*]`` on ``{}`` (recorded in the corpus), because Jayway only raises while the path is
  still definite and AWS turns that into an empty result for indefinite paths.
* ``$$...`` evaluates the rest of the path against the context object; ``$name...`` against the
  workflow variable ``name``.
* Quoted names in brackets keep backslashes as written (``$['a\\"b']`` names the key ``a\\"b``; the
  corpus records this); a backslash only stops the next character from closing the quote.

ResultPath uses :func:`set_reference_path`. The ``*_failure`` helpers build the AWS failures for
paths that select nothing; each documents the field(s) its wording belongs to. They return the cause
without the ``An error occurred while executing the state 'S' (entered at the event id #N). ``
prefix, which the interpreter adds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from stateway.asl.errors import ErrorName, FailureError, StatewayError
from stateway.asl.jsontext import dumps

__all__ = [
    "PathNotFound",
    "PathSyntaxError",
    "evaluate_path",
    "field_path_failure",
    "input_path_failure",
    "invalid_path_failure",
    "is_definite_path",
    "is_reference_path",
    "is_valid_path",
    "items_path_not_array_failure",
    "result_path_failure",
    "set_reference_path",
    "wait_path_failure",
]


class PathNotFound(StatewayError):
    """A path selected nothing; `detail` is Jayway's message, which AWS quotes in its causes."""

    def __init__(self, path: str, detail: str) -> None:
        super().__init__(f"Invalid path '{path}' : {detail}")
        self.path = path
        self.detail = detail


class PathSyntaxError(StatewayError, ValueError):
    """A string that is not a JSONPath Step Functions accepts."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"Invalid JSONPath '{path}': {reason}")
        self.path = path
        self.reason = reason


# --------------------------------------------------------------------------------------------------
# Compiled form
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Field:
    """`.name`, `['name']`, or the union `['a','b']` (merged into one object when it is the leaf)."""

    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Index:
    """`[n]` or the union `[n,m,...]`; negative indexes count from the end."""

    indexes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class _Slice:
    """`[a:b]`, `[a:]`, `[:b]` with Jayway's bounds rules."""

    start: int | None
    stop: int | None


@dataclass(frozen=True, slots=True)
class _Wildcard:
    """`[*]` or `.*`: every element of an array or every value of an object."""


@dataclass(frozen=True, slots=True)
class _Scan:
    """`..`: the following token applied at every depth."""


@dataclass(frozen=True, slots=True)
class _Filter:
    """`[?(expr)]`: the elements of an array (or the object itself) for which expr holds."""

    predicate: _Predicate
    text: str


_Token = _Field | _Index | _Slice | _Wildcard | _Scan | _Filter


@dataclass(frozen=True, slots=True)
class _Path:
    """A parsed path: its root (`$` data, `$$` context, `$name` variable) and its tokens."""

    text: str
    root: str  # "data", "context" or "variable"
    variable: str | None
    tokens: tuple[_Token, ...]
    definite: bool
    # For definite paths of single fields/indexes only: the plain keys, walked by a tight loop.
    simple_keys: tuple[str | int, ...] | None
    reference: bool


_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _token_definite(tokens: tuple[_Token, ...], i: int) -> bool:
    token = tokens[i]
    if isinstance(token, _Field):
        # Jayway: one property, or several on the leaf (merged into one object), is definite.
        return len(token.names) == 1 or i == len(tokens) - 1
    if isinstance(token, _Index):
        return len(token.indexes) == 1
    return False


@lru_cache(maxsize=4096)
def _compile(path: str) -> _Path:
    if not isinstance(path, str) or not path.startswith("$"):
        raise PathSyntaxError(str(path), "a path must begin with '$'")
    if path.startswith("$$"):
        root, variable, pos = "context", None, 2
    elif len(path) > 1 and path[1] not in ".[":
        match = _VARIABLE_NAME.match(path, 1)
        if match is None:
            raise PathSyntaxError(path, "invalid variable name")
        root, variable, pos = "variable", match.group(), match.end()
    else:
        root, variable, pos = "data", None, 1
    tokens = tuple(_Parser(path, pos).tokens())
    definite = all(_token_definite(tokens, i) for i in range(len(tokens)))
    keys: list[str | int] = []
    for token in tokens:
        if isinstance(token, _Field) and len(token.names) == 1:
            keys.append(token.names[0])
        elif isinstance(token, _Index) and len(token.indexes) == 1:
            keys.append(token.indexes[0])
        else:
            break
    simple = keys if len(keys) == len(tokens) else None
    return _Path(
        text=path,
        root=root,
        variable=variable,
        tokens=tokens,
        definite=definite,
        simple_keys=tuple(simple) if simple is not None else None,
        reference=simple is not None,
    )


# --------------------------------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------------------------------


class _Parser:
    """Reads the tokens after the root, following Jayway's PathCompiler rules."""

    def __init__(self, text: str, pos: int) -> None:
        self.text = text
        self.pos = pos

    def fail(self, reason: str) -> PathSyntaxError:
        return PathSyntaxError(self.text, f"{reason} at position {self.pos}")

    def tokens(self) -> list[_Token]:
        text = self.text
        out: list[_Token] = []
        while self.pos < len(text):
            c = text[self.pos]
            if c == ".":
                if text.startswith("..", self.pos):
                    self.pos += 2
                    out.append(_Scan())
                    if self.pos >= len(text):
                        raise self.fail("path must not end with '..'")
                    if text[self.pos] == "[":
                        out.append(self.bracket())
                    elif text[self.pos] == "*":
                        self.pos += 1
                        out.append(_Wildcard())
                    else:
                        out.append(self.dot_property())
                    continue
                self.pos += 1
                if self.pos >= len(text):
                    raise self.fail("path must not end with '.'")
                if text[self.pos] == "*":
                    self.pos += 1
                    out.append(_Wildcard())
                elif text[self.pos] == "[":
                    raise self.fail("unexpected '[' after '.'")
                else:
                    out.append(self.dot_property())
            elif c == "[":
                out.append(self.bracket())
            else:
                raise self.fail(f"unexpected character {c!r}")
        return out

    def dot_property(self) -> _Field:
        text, start = self.text, self.pos
        end = start
        while end < len(text) and text[end] not in ".[":
            if text[end] == " ":
                raise self.fail("use bracket notation ['my prop'] for names with blanks")
            end += 1
        if end == start:
            raise self.fail("empty property name")
        self.pos = end
        # Jayway functions such as `.length()` are not evaluated by Step Functions: AWS answers
        # "Property ['length()'] not found", i.e. the text is taken as a plain property name.
        return _Field((text[start:end],))

    def bracket(self) -> _Token:
        text = self.text
        self.pos += 1  # past '['
        self.skip_blanks()
        if self.pos >= len(text):
            raise self.fail("unclosed '['")
        c = text[self.pos]
        if c in "'\"":
            return self.quoted_names()
        if c == "?":
            return self.filter()
        if c == "*":
            self.pos += 1
            self.expect_close()
            return _Wildcard()
        return self.indexes()

    def skip_blanks(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] == " ":
            self.pos += 1

    def expect_close(self) -> None:
        self.skip_blanks()
        if self.pos >= len(self.text) or self.text[self.pos] != "]":
            raise self.fail("expected ']'")
        self.pos += 1

    def quoted_names(self) -> _Field:
        text, names = self.text, []
        while True:
            self.skip_blanks()
            if self.pos >= len(text) or text[self.pos] not in "'\"":
                raise self.fail("expected a quoted name")
            quote = text[self.pos]
            start = end = self.pos + 1
            while end < len(text) and text[end] != quote:
                # A backslash only protects the next character; it stays in the name (as on AWS).
                end += 2 if text[end] == "\\" else 1
            if end >= len(text):
                raise self.fail("unterminated quoted name")
            names.append(text[start:end])
            self.pos = end + 1
            self.skip_blanks()
            if self.pos < len(text) and text[self.pos] == ",":
                self.pos += 1
                continue
            self.expect_close()
            return _Field(tuple(names))

    def indexes(self) -> _Index | _Slice:
        text = self.text
        end = text.find("]", self.pos)
        if end < 0:
            raise self.fail("unclosed '['")
        body = text[self.pos : end].replace(" ", "")
        self.pos = end + 1
        try:
            if ":" in body:
                parts = body.split(":")
                # Jayway reads `from:to` and ignores anything after a second colon (no step).
                start = int(parts[0]) if parts[0] else None
                stop = int(parts[1]) if parts[1] else None
                if start is None and stop is None:
                    raise ValueError
                return _Slice(start, stop)
            return _Index(tuple(int(part) for part in body.split(",")))
        except ValueError:
            raise PathSyntaxError(text, f"invalid array index or slice '[{body}]'") from None

    def filter(self) -> _Filter:
        text = self.text
        self.pos += 1  # past '?'
        self.skip_blanks()
        if self.pos >= len(text) or text[self.pos] != "(":
            raise self.fail("expected '(' after '?'")
        start = self.pos
        i = _closing(text, start, "(", ")")
        if i < 0:
            raise self.fail("unbalanced parentheses in filter")
        expr_text = text[start + 1 : i]
        self.pos = i + 1
        self.expect_close()
        predicate = _ExprParser(expr_text, text).parse()
        return _Filter(predicate, f"[?({expr_text})]")


# --------------------------------------------------------------------------------------------------
# Filter expressions: Jayway's predicate language
# --------------------------------------------------------------------------------------------------

_UNDEFINED = object()  # what a relative path that selects nothing evaluates to inside a filter


@dataclass(frozen=True, slots=True)
class _Regex:
    pattern: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class _Operand:
    """A literal value, or a path relative to the current item (`@`) or the root (`$`)."""

    literal: Any = None
    path: _Path | None = None
    relative: bool = True

    def value(self, item: Any, root: Any) -> Any:
        if self.path is None:
            return self.literal
        try:
            return _evaluate(self.path, item if self.relative else root)
        except PathNotFound:
            return _UNDEFINED


@dataclass(frozen=True, slots=True)
class _Predicate:
    """A node of the filter expression tree; `kind` is an operator or `exists`/`and`/`or`/`not`."""

    kind: str
    left: Any = None
    right: Any = None

    def holds(self, item: Any, root: Any) -> bool:
        kind = self.kind
        if kind == "and":
            return self.left.holds(item, root) and self.right.holds(item, root)
        if kind == "or":
            return self.left.holds(item, root) or self.right.holds(item, root)
        if kind == "not":
            return not self.left.holds(item, root)
        if kind == "exists":
            # Jayway's existence check: the path selects something, whatever the value (even null).
            operand: _Operand = self.left
            if operand.path is None:
                return operand.literal is not None and operand.literal is not False
            value = operand.value(item, root)
            if value is _UNDEFINED:
                return False
            return not (isinstance(value, list) and not operand.path.definite and not value)
        left = self.left.value(item, root)
        right = self.right.value(item, root) if isinstance(self.right, _Operand) else self.right
        return _COMPARATORS[kind](left, right)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _to_decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(value) if isinstance(value, str) else Decimal(repr(value))
    except (InvalidOperation, ValueError):
        return None


def _number_text(value: int | float) -> str:
    return str(value) if isinstance(value, int) else repr(value)


def _equals(left: Any, right: Any) -> bool:
    # Jayway compares number and string nodes across types (`1 == '1'`), the left side deciding how.
    if left is _UNDEFINED or right is _UNDEFINED:
        return False
    if _is_number(left):
        if _is_number(right):
            return bool(left == right)
        if isinstance(right, str):
            parsed = _to_decimal(right)
            return parsed is not None and _to_decimal(left) == parsed
        return False
    if isinstance(left, str):
        if isinstance(right, str):
            return left == right
        if _is_number(right):
            return left == _number_text(right)
        return False
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if left is None or right is None:
        return left is None and right is None
    return _json_equal(left, right)


def _json_equal(left: Any, right: Any) -> bool:
    """Structural JSON equality where booleans never equal numbers."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if _is_number(left) and _is_number(right):
        return bool(left == right)
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_json_equal(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(_json_equal(a, b) for a, b in zip(left, right, strict=True))
    return type(left) is type(right) and left == right


def _ordered(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(left: Any, right: Any) -> bool:
        # Only number-number and string-string are ordered; anything else is simply false.
        if _is_number(left) and _is_number(right):
            return op(left, right)
        if isinstance(left, str) and isinstance(right, str):
            return op(left, right)
        return False

    return compare


def _regex_match(left: Any, right: Any) -> bool:
    if not isinstance(right, _Regex) or not isinstance(left, str):
        return False
    return right.pattern.fullmatch(left) is not None


def _member(left: Any, right: Any) -> bool:
    return isinstance(right, list) and any(_equals(left, item) for item in right)


def _subset(left: Any, right: Any) -> bool:
    return isinstance(left, list) and isinstance(right, list) and all(_member(x, right) for x in left)


def _any_of(left: Any, right: Any) -> bool:
    return isinstance(left, list) and isinstance(right, list) and any(_member(x, right) for x in left)


def _none_of(left: Any, right: Any) -> bool:
    return isinstance(left, list) and isinstance(right, list) and not any(_member(x, right) for x in left)


def _size(left: Any, right: Any) -> bool:
    return isinstance(left, list | str) and _is_number(right) and len(left) == right


def _empty(left: Any, right: Any) -> bool:
    return isinstance(left, list | str) and isinstance(right, bool) and (len(left) == 0) == right


_COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "==": _equals,
    "!=": lambda left, right: not _equals(left, right),
    "<": _ordered(lambda a, b: a < b),
    "<=": _ordered(lambda a, b: a <= b),
    ">": _ordered(lambda a, b: a > b),
    ">=": _ordered(lambda a, b: a >= b),
    "=~": _regex_match,
    "in": _member,
    "nin": lambda left, right: isinstance(right, list) and not _member(left, right),
    "subsetof": _subset,
    "anyof": _any_of,
    "noneof": _none_of,
    "size": _size,
    "empty": _empty,
}

_SYMBOL_OPERATORS = ("==", "!=", "<=", ">=", "=~", "<", ">")
_WORD_OPERATORS = ("subsetof", "anyof", "noneof", "nin", "in", "size", "empty")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")


class _ExprParser:
    """Recursive descent over `a || b`, `a && b`, `!a`, `(a)`, `x op y` and bare existence checks."""

    def __init__(self, text: str, whole: str) -> None:
        self.text = text
        self.whole = whole
        self.pos = 0

    def fail(self, reason: str) -> PathSyntaxError:
        return PathSyntaxError(self.whole, f"{reason} in filter '{self.text}'")

    def blank(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\n\r":
            self.pos += 1

    def parse(self) -> _Predicate:
        predicate = self.disjunction()
        self.blank()
        if self.pos != len(self.text):
            raise self.fail(f"unexpected text {self.text[self.pos :]!r}")
        return predicate

    def disjunction(self) -> _Predicate:
        left = self.conjunction()
        while True:
            self.blank()
            if self.text.startswith("||", self.pos):
                self.pos += 2
                left = _Predicate("or", left, self.conjunction())
            else:
                return left

    def conjunction(self) -> _Predicate:
        left = self.unary()
        while True:
            self.blank()
            if self.text.startswith("&&", self.pos):
                self.pos += 2
                left = _Predicate("and", left, self.unary())
            else:
                return left

    def unary(self) -> _Predicate:
        self.blank()
        if self.text.startswith("!", self.pos) and not self.text.startswith("!=", self.pos):
            self.pos += 1
            return _Predicate("not", self.unary())
        if self.text.startswith("(", self.pos):
            self.pos += 1
            inner = self.disjunction()
            self.blank()
            if not self.text.startswith(")", self.pos):
                raise self.fail("expected ')'")
            self.pos += 1
            return inner
        left = self.operand()
        self.blank()
        for op in _SYMBOL_OPERATORS:
            if self.text.startswith(op, self.pos):
                self.pos += len(op)
                return _Predicate(op, left, self.operand(regex=op == "=~"))
        for op in _WORD_OPERATORS:
            end = self.pos + len(op)
            if self.text.startswith(op, self.pos) and (end == len(self.text) or not self.text[end].isalnum()):
                self.pos = end
                return _Predicate(op, left, self.operand())
        return _Predicate("exists", left)

    def operand(self, regex: bool = False) -> _Operand | _Regex:
        self.blank()
        text, pos = self.text, self.pos
        if pos >= len(text):
            raise self.fail("missing operand")
        c = text[pos]
        if c in "@$":
            end = self.path_end(pos)
            self.pos = end
            path_text = "$" + text[pos + 1 : end] if c == "@" else text[pos:end]
            return _Operand(path=_compile(path_text), relative=c == "@")
        if c in "'\"":
            end = pos + 1
            while end < len(text) and text[end] != c:
                end += 2 if text[end] == "\\" else 1
            if end >= len(text):
                raise self.fail("unterminated string")
            self.pos = end + 1
            return _Operand(literal=_unescape(text[pos + 1 : end]))
        if c == "/" and regex:
            end = pos + 1
            while end < len(text) and text[end] != "/":
                end += 2 if text[end] == "\\" else 1
            if end >= len(text):
                raise self.fail("unterminated regular expression")
            flags_end = end + 1
            while flags_end < len(text) and text[flags_end].isalpha():
                flags_end += 1
            flags = 0
            for flag in text[end + 1 : flags_end]:
                flags |= {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}.get(flag, 0)
            self.pos = flags_end
            try:
                return _Regex(re.compile(text[pos + 1 : end], flags))
            except re.error as exc:
                raise self.fail(f"invalid regular expression ({exc})") from None
        if c in "[{":
            return _Operand(literal=self.json_literal())
        number = _NUMBER.match(text, pos)
        if number:
            self.pos = number.end()
            literal = number.group()
            return _Operand(literal=float(literal) if number.group(1) or number.group(2) else int(literal))
        for word, value in (("true", True), ("false", False), ("null", None)):
            if text.startswith(word, pos):
                self.pos = pos + len(word)
                return _Operand(literal=value)
        raise self.fail(f"unexpected {text[pos:]!r}")

    def path_end(self, pos: int) -> int:
        """End of a path operand: stops at a blank, an operator or an unbalanced ')'."""
        depth = 0
        for i, ch in _unquoted(self.text, pos + 1):
            if ch == "[":
                depth += 1
            elif ch == "]":
                depth -= 1
            elif depth == 0 and ch in " )!=<>&|~":
                return i
        return len(self.text)

    def json_literal(self) -> Any:
        from stateway.asl.jsontext import loads

        decoder_end = _json_literal_end(self.text, self.pos)
        if decoder_end < 0:
            raise self.fail("unterminated JSON literal")
        literal = self.text[self.pos : decoder_end]
        self.pos = decoder_end
        try:
            return loads(literal.replace("'", '"'))
        except ValueError:
            raise self.fail(f"invalid JSON literal {literal!r}") from None


def _json_literal_end(text: str, pos: int) -> int:
    end = _closing(text, pos, "[{", "]}")
    return end + 1 if end >= 0 else -1


def _unquoted(text: str, pos: int) -> Iterator[tuple[int, str]]:
    """(index, character) of each character from `pos` on that stands outside a quoted string."""
    quote, i = "", pos
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1  # an escaped character never ends the string
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        else:
            yield i, ch
        i += 1


def _closing(text: str, pos: int, opens: str, closes: str) -> int:
    """Index of the bracket that closes the one at `pos` (brackets in strings do not count), or -1."""
    depth = 0
    for i, ch in _unquoted(text, pos):
        if ch in opens:
            depth += 1
        elif ch in closes:
            depth -= 1
            if depth == 0:
                return i
    return -1


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "\\": "\\", "'": "'", '"': '"', "/": "/"}


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "u" and i + 5 < len(text):
                out.append(chr(int(text[i + 2 : i + 6], 16)))
                i += 6
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


# --------------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------------


def _render_names(names: tuple[str, ...]) -> str:
    return "[" + ",".join(f"'{name}'" for name in names) + "]"


def _render(tokens: tuple[_Token, ...]) -> str:
    """Jayway's canonical form of a definite prefix, as quoted in its messages: `$['a'][0]`."""
    parts = ["$"]
    for token in tokens:
        if isinstance(token, _Field):
            parts.append(_render_names(token.names))
        elif isinstance(token, _Index):
            parts.append("[" + ",".join(str(i) for i in token.indexes) + "]")
        elif isinstance(token, _Slice):
            start = "" if token.start is None else str(token.start)
            stop = "" if token.stop is None else str(token.stop)
            parts.append(f"[{start}:{stop}]")
        elif isinstance(token, _Wildcard):
            parts.append("[*]")
        elif isinstance(token, _Scan):
            parts.append("..")
        else:
            parts.append(token.text)
    return "".join(parts)


def _java_type(value: Any) -> str:
    # Jayway names the Java class it found where it expected an object.
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "java.lang.Boolean"
    if isinstance(value, int):
        return "java.lang.Integer"
    if isinstance(value, float):
        return "java.lang.Double"
    if isinstance(value, str):
        return "java.lang.String"
    if isinstance(value, list):
        return "net.minidev.json.JSONArray"
    return "java.util.LinkedHashMap"


class _NotFound(Exception):
    """Raised while the path is still definite; carries Jayway's message."""


class _Walker:
    """One evaluation of a general path: Jayway's token-by-token walk, collecting matches."""

    __slots__ = ("tokens", "root", "out", "last")

    def __init__(self, tokens: tuple[_Token, ...], root: Any) -> None:
        self.tokens = tokens
        self.root = root
        self.out: list[Any] = []
        self.last = len(tokens) - 1

    def walk(self, i: int, node: Any, definite: bool) -> None:
        if i > self.last:
            self.out.append(node)
            return
        token = self.tokens[i]
        if isinstance(token, _Field):
            self.field(i, token, node, definite)
        elif isinstance(token, _Index):
            self.index(i, token, node, definite)
        elif isinstance(token, _Slice):
            self.slice(i, token, node, definite)
        elif isinstance(token, _Wildcard):
            if isinstance(node, dict):
                for value in node.values():
                    self.walk(i + 1, value, False)
            elif isinstance(node, list):
                for value in node:
                    self.walk(i + 1, value, False)
        elif isinstance(token, _Scan):
            self.scan(i + 1, node)
        else:
            self.filter(i, token, node)

    def field(self, i: int, token: _Field, node: Any, definite: bool) -> None:
        if not isinstance(node, dict):
            if definite:
                raise _NotFound(
                    f"Expected to find an object with property {_render_names(token.names)} in path "
                    f"{_render(self.tokens[:i])} but found '{_java_type(node)}'. This is not a json object "
                    "according to the JsonProvider: 'com.jayway.jsonpath.spi.json.JsonSmartJsonProvider'."
                )
            return
        leaf = i == self.last
        names = token.names
        if len(names) > 1 and leaf:
            # Jayway merges a leaf union of names into one object of the names that exist.
            self.out.append({name: node[name] for name in names if name in node})
            return
        step_definite = definite and len(names) == 1
        for name in names:
            if name in node:
                self.walk(i + 1, node[name], step_definite)
            elif not leaf and step_definite:
                raise _NotFound(f"Missing property in path {_render(self.tokens[: i + 1])}")

    def index(self, i: int, token: _Index, node: Any, definite: bool) -> None:
        if not self.array_model(i, token, node, definite):
            return
        step_definite = definite and len(token.indexes) == 1
        length = len(node)
        for index in token.indexes:
            effective = index + length if index < 0 else index
            if 0 <= effective < length:
                self.walk(i + 1, node[effective], step_definite)

    def slice(self, i: int, token: _Slice, node: Any, definite: bool) -> None:
        if not self.array_model(i, token, node, definite):
            return
        length = len(node)
        start, stop = token.start, token.stop
        if length == 0:
            return
        if stop is None:  # [a:]
            first = start or 0
            indexes = range(max(0, first + length if first < 0 else first), length)
        elif start is None:  # [:b]
            indexes = range(0, min(length, stop + length if stop < 0 else stop))
        else:  # [a:b]: Jayway does not wrap negatives here; each index is then resolved like [n]
            indexes = range(start, min(length, stop))
        for index in indexes:
            effective = index + length if index < 0 else index
            if 0 <= effective < length:
                self.walk(i + 1, node[effective], False)

    def array_model(self, i: int, token: _Token, node: Any, definite: bool) -> bool:
        if isinstance(node, list):
            return True
        if definite:
            if node is None:
                raise _NotFound(f"The path {_render(self.tokens[:i])} is null")
            raise _NotFound(
                f"Filter: {_render((token,))[1:]} can only be applied to arrays. Current context is: {dumps(node)}"
            )
        return False

    def filter(self, i: int, token: _Filter, node: Any) -> None:
        predicate, root = token.predicate, self.root
        if isinstance(node, dict):
            if predicate.holds(node, root):
                self.walk(i + 1, node, False)
        elif isinstance(node, list):
            for item in node:
                if predicate.holds(item, root):
                    self.walk(i + 1, item, False)

    def scan(self, i: int, node: Any) -> None:
        """Deep scan: the token at i applied to `node` and every container below it, pre-order."""
        token = self.tokens[i]
        if isinstance(node, dict):
            if isinstance(token, _Field | _Wildcard | _Filter):
                self.walk(i, node, False)
            for value in node.values():
                if isinstance(value, dict | list):
                    self.scan(i, value)
        elif isinstance(node, list):
            if isinstance(token, _Index | _Slice | _Wildcard):
                self.walk(i, node, False)
            elif isinstance(token, _Filter):
                # Jayway tests the array itself as a filter target (never true for `@.x` tests).
                pass
            for value in node:
                if isinstance(value, dict | list):
                    self.scan(i, value)


def _evaluate(compiled: _Path, value: Any) -> Any:
    """Apply a compiled path's tokens to the value its root designates."""
    keys = compiled.simple_keys
    if keys is not None:
        # Hot path: plain fields and indexes. Any miss is re-walked slowly for Jayway's message.
        node = value
        try:
            for key in keys:
                if type(key) is str:
                    if type(node) is not dict:
                        raise LookupError
                    node = node[key]
                else:
                    if type(node) is not list or type(key) is not int:
                        raise LookupError
                    # Python's negative indexes count from the end exactly as Jayway's do.
                    node = node[key]
            return node
        except (LookupError, TypeError):
            pass
    walker = _Walker(compiled.tokens, value)
    try:
        walker.walk(0, value, True)
    except _NotFound as exc:
        if compiled.definite:
            raise PathNotFound(compiled.text, str(exc)) from None
        return []
    if compiled.definite:
        if not walker.out:
            raise PathNotFound(compiled.text, f"No results for path: {_render(compiled.tokens)}")
        return walker.out[0]
    return walker.out


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------


def evaluate_path(
    path: str,
    data: Any,
    context: Any = None,
    variables: Mapping[str, Any] | None = None,
) -> Any:
    """Evaluate a Step Functions JSONPath.

    `$...` reads `data`, `$$...` the context object, `$name...` the workflow variable `name`.
    A definite path returns its single value or raises PathNotFound; an indefinite path returns
    the list of its matches (possibly empty). Raises PathSyntaxError for a malformed path.
    """
    compiled = _compile(path)
    if compiled.root == "data":
        if not compiled.tokens:
            return data
        return _evaluate(compiled, data)
    if compiled.root == "context":
        if not compiled.tokens:
            return context
        return _evaluate(compiled, context)
    name = compiled.variable
    if variables is None or name not in variables:
        raise PathNotFound(path, f"Variable '{name}' is not defined")
    value = variables[name]  # type: ignore[index]
    return _evaluate(compiled, value) if compiled.tokens else value


def is_valid_path(path: str) -> bool:
    """True when `path` is a JSONPath Step Functions accepts ($, $$ or $variable roots)."""
    try:
        _compile(path)
    except PathSyntaxError:
        return False
    return True


def is_definite_path(path: str) -> bool:
    """True when the (valid) path selects at most one node, so evaluation returns a value, not a list."""
    return _compile(path).definite


def is_reference_path(path: str, *, allow_context: bool = True, allow_variables: bool = True) -> bool:
    """True for a reference path: a root then only `.name`, `['name']` and `[index]` steps.

    ItemsPath, SecondsPath and friends may address `$$` and variables; ResultPath may not, so the
    validator calls this with `allow_context=False, allow_variables=False` for ResultPath.
    """
    try:
        compiled = _compile(path)
    except PathSyntaxError:
        return False
    if compiled.root == "context" and not allow_context:
        return False
    if compiled.root == "variable" and not allow_variables:
        return False
    return compiled.reference


def set_reference_path(data: Any, path: str, value: Any) -> Any:
    """Apply ResultPath: a new structure with `value` placed at `path` in `data`.

    `data` is never mutated: the objects and arrays along the path are copied, everything else is
    shared. `$` replaces the whole input; missing object fields on the way are created as `{}`.
    Raises FailureError(States.ResultPathMatchFailure) where the path cannot be applied: a field
    step through a value that is not an object, or an index step through a value that is not an
    array or past its end.
    """
    compiled = _compile(path)
    if compiled.root != "data" or not compiled.reference:
        raise PathSyntaxError(path, "ResultPath must be a reference path rooted at '$'")
    keys = compiled.simple_keys or ()
    if not keys:
        return value

    def place(node: Any, depth: int, present: bool) -> Any:
        if depth == len(keys):
            return value
        key = keys[depth]
        if isinstance(key, str):
            if not present:
                node = {}
            elif not isinstance(node, dict):
                raise result_path_failure(path, data)
            copy = dict(node)
            copy[key] = place(node.get(key), depth + 1, key in node)
            return copy
        if not present or not isinstance(node, list):
            raise result_path_failure(path, data)
        effective = key + len(node) if key < 0 else key
        if not 0 <= effective < len(node):
            raise result_path_failure(path, data)
        items = list(node)
        items[effective] = place(node[effective], depth + 1, True)
        return items

    return place(data, 0, True)


# --------------------------------------------------------------------------------------------------
# AWS failure texts for paths that select nothing
# --------------------------------------------------------------------------------------------------


def invalid_path_failure(path: str, detail: str) -> FailureError:
    """InputPath, OutputPath (recorded in the corpus) and ItemsPath selecting nothing.

    `States.Runtime`: "Invalid path '$.no.such.result.path' : Missing property in path $['no']",
    where `detail` is PathNotFound.detail (Jayway's message).
    """
    return FailureError(ErrorName.RUNTIME, f"Invalid path '{path}' : {detail}")


def field_path_failure(field: str, path: str, data: Any) -> FailureError:
    """A `.$` payload-template field (Parameters, ResultSelector, ItemSelector, Arguments' paths), or
    ErrorPath/CausePath, selecting nothing.

    `States.Runtime`: "The JSONPath '$.JobName' specified for the field 'JobName.$' could not be found
    in the input '{}'". Pass the template key with its `.$` (`JobName.$`), or `ErrorPath`/`CausePath`;
    `data` is the value the path was applied to (the effective input, or the context object).
    """
    return FailureError(
        ErrorName.RUNTIME,
        f"The JSONPath '{path}' specified for the field '{field}' could not be found in the input '{dumps(data)}'",
    )


def wait_path_failure(field: str, path: str) -> FailureError:
    """A Wait state's SecondsPath/TimestampPath selecting nothing (recorded in the corpus).

    `States.Runtime`: "The SecondsPath parameter does not reference an input value: $.input.waitSeconds".
    """
    return FailureError(ErrorName.RUNTIME, f"The {field} parameter does not reference an input value: {path}")


def items_path_not_array_failure(path: str) -> FailureError:
    """ItemsPath resolving to something that is not an array (recorded in the corpus).

    `States.Runtime`: 'Reference path "$.Execution.Input" must point to array.' For a `$$` path AWS
    shows it relative to the context object (one `$` dropped), as recorded.
    """
    shown = path[1:] if path.startswith("$$") else path
    return FailureError(ErrorName.RUNTIME, f'Reference path "{shown}" must point to array.')


def result_path_failure(path: str, data: Any) -> FailureError:
    """ResultPath that cannot be applied to the state input.

    `States.ResultPathMatchFailure`: "Unable to apply ReplacementPath '$.a.b' to input '\"text\"'".
    The corpus records no such case; the wording follows AWS's published examples as best known.
    """
    return FailureError(
        ErrorName.RESULT_PATH_MATCH_FAILURE,
        f"Unable to apply ReplacementPath '{path}' to input '{dumps(data)}'",
    )


_FIELD_WORDING = {"InputPath", "OutputPath", "ItemsPath"}
_WAIT_FIELDS = {"SecondsPath", "TimestampPath"}


def input_path_failure(
    field: str,
    path: str,
    data: Any,
    context: Any = None,
    variables: Mapping[str, Any] | None = None,
    *,
    error: PathNotFound | None = None,
) -> FailureError:
    """The AWS failure for `path` in `field` selecting nothing in `data`, in that field's wording.

    `field` is `InputPath`, `OutputPath`, `ItemsPath` (→ invalid_path_failure), `SecondsPath`,
    `TimestampPath` (→ wait_path_failure), or anything else — a `.$` template key such as
    `FunctionName.$`, `ErrorPath`, `CausePath` (→ field_path_failure). `data`, `context` and
    `variables` are what the path was evaluated against; pass the caught PathNotFound as `error` to
    skip re-evaluating the path for Jayway's message.
    """
    if field in _WAIT_FIELDS:
        return wait_path_failure(field, path)
    if field in _FIELD_WORDING:
        if error is None:
            try:
                evaluate_path(path, data, context, variables)
            except PathNotFound as exc:
                error = exc
        if error is not None:
            return invalid_path_failure(path, error.detail)
        # The caller judged that the path selects nothing (e.g. an empty indefinite result).
        return invalid_path_failure(path, f"No results for path: {_render(_compile(path).tokens)}")
    subject = context if path.startswith("$$") else data
    return field_path_failure(field, path, subject)
