"""Request members' constraints as the Step Functions API reference lists them, refused in AWS's words.

`1 validation error detected: Value 'x' at 'name' failed to satisfy constraint: Member must have length
less than or equal to 80` — the API layer checks whole requests against a table of `Member`s, the
service the members its Python callers pass too.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from stateway.engine import errors as api

_TAG_PATTERN = r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$"


@dataclass(frozen=True)
class Member:
    """A request member's constraints. `sensitive` members are not quoted back, as AWS hides them."""

    required: bool = False
    min_length: int | None = None
    max_length: int | None = None
    enum: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    sensitive: bool = False
    tag_text: bool = False  # AWS's tag pattern: letters, digits, spaces and _ . : / = + - @
    bits: int = 64  # an integer member's width: AWS's Integer is 32 bits, its Long 64


def check(at: str, value: Any, member: Member) -> None:
    """Refuse one member that breaks its constraints."""
    refuse(problems(at, value, member))


def refuse(found: list[str]) -> None:
    """One ValidationException for every broken constraint found, as AWS counts them; none: nothing."""
    if found:
        count = f"{len(found)} validation error{'s' if len(found) > 1 else ''} detected"
        raise api.ValidationException(f"{count}: {'; '.join(found)}")


def problems(at: str, value: Any, member: Member) -> list[str]:
    """How `value`, the request member at `at`, breaks `member`'s constraints, in AWS's words (a value of
    the wrong JSON type is a SerializationException, as AWS's deserializer answers it)."""
    if value is None:
        return [f"Value null at '{at}' failed to satisfy constraint: Member must not be null"] if member.required else []
    if member.minimum is not None:
        if isinstance(value, bool) or not isinstance(value, int):  # `true` is no integer, as for the top level
            raise api.SerializationException(f"Unexpected value for '{at}': expected integer")
        if not -(2 ** (member.bits - 1)) <= value < 2 ** (member.bits - 1):  # AWS cannot read it as its type
            raise api.SerializationException(
                f"Unexpected value for '{at}': {value} does not fit a {member.bits}-bit integer")
        return _failed(at, value, member, [
            (value < member.minimum, f"Member must have value greater than or equal to {member.minimum}"),
            (member.maximum is not None and value > member.maximum,
             f"Member must have value less than or equal to {member.maximum}")])
    if not isinstance(value, str):
        raise api.SerializationException(f"Unexpected value for '{at}': expected string")
    return _failed(at, value, member, [
        (member.min_length is not None and len(value) < member.min_length,
         f"Member must have length greater than or equal to {member.min_length}"),
        (member.max_length is not None and len(value) > member.max_length,
         f"Member must have length less than or equal to {member.max_length}"),
        (bool(member.enum) and value not in member.enum,
         f"Member must satisfy enum value set: [{', '.join(member.enum)}]"),
        (member.tag_text and not all(_tag_character(c) for c in value),
         f"Member must satisfy regular expression pattern: {_TAG_PATTERN}")])


def _tag_character(c: str) -> bool:
    """A character `_TAG_PATTERN` allows (Python's `re` has no `\\p{…}` classes)."""
    return unicodedata.category(c)[0] in "LZN" or c in "_.:/=+-@"


def _failed(at: str, value: Any, member: Member, checks: list[tuple[bool, str]]) -> list[str]:
    shown = f"Value at '{at}'" if member.sensitive else f"Value '{value}' at '{at}'"
    return [f"{shown} failed to satisfy constraint: {text}" for broken, text in checks if broken]
