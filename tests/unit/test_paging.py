"""Pagination tokens: what a listing wrote reads back for 24 hours; anything else is InvalidToken, never
another error — a position made by hand, a token signed with another key, an expired one."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from stateway.engine import errors as api
from stateway.engine.paging import TOKEN_LIFETIME_MS, PageTokens

KEY = bytes(range(32))
NOW = 1_700_000_000_000


def _tokens(key: bytes = KEY, now: int = NOW) -> PageTokens:
    return PageTokens(key, clock=lambda: now)


def _b64(text: bytes) -> str:
    return base64.urlsafe_b64encode(text).decode()


def _readers(tokens: PageTokens) -> list[Callable[[str], Any]]:
    return [tokens.name_position, tokens.number_position, tokens.start_position]


def test_positions_read_back() -> None:
    tokens = _tokens()
    assert tokens.name_position(tokens.token("machine-é")) == "machine-é"
    assert tokens.number_position(tokens.token(42)) == 42
    assert tokens.start_position(tokens.token([1700000000000, "arn:aws:states:x"])) == (
        1700000000000, "arn:aws:states:x")


def test_a_token_of_the_longest_name_fits_the_apis_limit() -> None:
    """PageToken is at most 1,024 characters; a name is up to 80 characters of up to 4 UTF-8 bytes."""
    name = "\U0001f600" * 80
    token = _tokens().token(name)
    assert len(token) <= 1024 and _tokens().name_position(token) == name


# Never a token: not base64, or base64 of anything but a signature and what it signs.
MALFORMED = ["", "!!!", "a", "é", "\ud800", _b64(b"\xff\xfe"), _b64(b"not json"), _b64(b"[" * 5000 + b"]" * 5000),
             _b64(b"1e400"), _b64(b"null"), _b64(b"{}"), _b64(b"-1"), _b64(b"[1]"), _b64(bytes(32)),
             _b64(bytes(32) + b"[0,1]")]
# Positions of each shape as they were written before tokens were signed: valid shapes, made by hand.
HAND_MADE = [_b64(b'"abc"'), _b64(b"3"), _b64(b'[1700000000000, "arn"]'), _b64(json.dumps([NOW, "abc"]).encode())]


@pytest.mark.parametrize("token", MALFORMED + HAND_MADE)
def test_anything_not_signed_is_invalid_token(token: str) -> None:
    for read in _readers(_tokens()):
        with pytest.raises(api.InvalidToken) as caught:
            read(token)
        assert caught.value.message == f"Invalid Token: '{token}'"


def test_a_changed_position_is_invalid_token() -> None:
    """The signature covers the position: a token edited to start elsewhere does not verify."""
    tokens = _tokens()
    signed = base64.urlsafe_b64decode(tokens.token("abc"))
    edited = _b64(signed.replace(b'"abc"', b'"abd"'))
    with pytest.raises(api.InvalidToken):
        tokens.name_position(edited)
    noisy = tokens.token(7)[:4] + "$" + tokens.token(7)[4:]  # not base64: refused, not read past the `$`
    with pytest.raises(api.InvalidToken):
        tokens.number_position(noisy)


def test_a_token_signed_with_another_key_is_invalid_token() -> None:
    other = _tokens(key=bytes(32))
    for position, read in [("abc", other.name_position), (3, other.number_position),
                           ([NOW, "arn"], other.start_position)]:
        with pytest.raises(api.InvalidToken):
            read(_tokens().token(position))


def test_a_token_expires_after_24_hours() -> None:
    """AWS: "Each pagination token expires after 24 hours. Using an expired pagination token will return
    an HTTP 400 InvalidToken error.\""""
    token = _tokens(now=NOW).token(5)
    assert _tokens(now=NOW + TOKEN_LIFETIME_MS).number_position(token) == 5
    with pytest.raises(api.InvalidToken):
        _tokens(now=NOW + TOKEN_LIFETIME_MS + 1).number_position(token)
    assert _tokens(now=NOW - 60_000).number_position(token) == 5, "a clock set back leaves it good"


def test_a_position_of_another_shape_is_invalid_token() -> None:
    """A real token of one listing given to a listing of another kind."""
    tokens = _tokens()
    with pytest.raises(api.InvalidToken):
        tokens.number_position(tokens.token("name"))
    with pytest.raises(api.InvalidToken):
        tokens.name_position(tokens.token(7))
    with pytest.raises(api.InvalidToken):
        tokens.start_position(tokens.token("name"))
    with pytest.raises(api.InvalidToken):
        tokens.start_position(tokens.token(["1", "a"]))

