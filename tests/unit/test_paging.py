"""Pagination tokens: what a listing wrote reads back; anything else is InvalidToken, never another error."""

from __future__ import annotations

import base64

import pytest

from stateway.engine import errors as api
from stateway.engine import paging


def _b64(text: bytes) -> str:
    return base64.urlsafe_b64encode(text).decode()


def test_positions_read_back() -> None:
    assert paging.name_position(paging.page_token("machine-é")) == "machine-é"
    assert paging.number_position(paging.page_token(42)) == 42
    assert paging.start_position(paging.page_token([1700000000000, "arn:aws:states:x"])) == (
        1700000000000, "arn:aws:states:x")


FORGED = ["", "!!!", "a", _b64(b"\xff\xfe"), _b64(b"not json"), _b64(b"[" * 5000 + b"]" * 5000), _b64(b"1e400"),
          _b64(b"null"), _b64(b"true"), _b64(b"{}"), _b64(b'"\\ud800"'), _b64(b"-1"), _b64(b"1.0"),
          _b64(str(2**70).encode()), _b64(b"[1]"), _b64(b'[1, "a", 2]'), _b64(b'["1", "a"]'), _b64(b"[true, \"a\"]")]


@pytest.mark.parametrize("token", FORGED)
@pytest.mark.parametrize("read", [paging.name_position, paging.number_position, paging.start_position])
def test_anything_else_is_invalid_token(read: object, token: str) -> None:
    with pytest.raises(api.InvalidToken) as caught:
        read(token)  # type: ignore[operator]
    assert caught.value.message == f"Invalid Token: '{token}'"


def test_a_position_of_another_shape_is_invalid_token() -> None:
    with pytest.raises(api.InvalidToken):
        paging.number_position(paging.page_token("name"))
    with pytest.raises(api.InvalidToken):
        paging.name_position(paging.page_token(7))
    with pytest.raises(api.InvalidToken):
        paging.start_position(paging.page_token("name"))
