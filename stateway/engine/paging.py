"""Pagination tokens: the position where a page ended, as base64 JSON; a token that is not one is InvalidToken.

Tokens are opaque to clients but not signed, so anything can come back: every token is decoded and
its position checked for the shape the listing wrote here, never trusted (AWS answers a malformed
`nextToken` with InvalidToken, 400).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from stateway.engine import errors as api

# Positions are SQLite integers (event ids, version numbers, epoch milliseconds): keep them in range.
_MAX_POSITION = 2**62


def page_token(position: Any) -> str:
    """The token for a page that ended at `position` (a name, a number or a [start ms, ARN] pair)."""
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


def name_position(token: str) -> str:
    """The name a page of a listing by name ended at."""
    position = _position(token)
    if not _is_text(position):
        raise _invalid(token)
    return str(position)


def number_position(token: str) -> int:
    """The number (event id, version) a page ended at."""
    position = _position(token)
    if not _is_number(position):
        raise _invalid(token)
    return int(position)


def start_position(token: str) -> tuple[int, str]:
    """The (start ms, ARN) a page of a listing by start date ended at."""
    position = _position(token)
    if not (isinstance(position, list) and len(position) == 2 and _is_number(position[0])
            and _is_text(position[1])):
        raise _invalid(token)
    return int(position[0]), str(position[1])


def _position(token: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, RecursionError):  # not base64, not UTF-8, not JSON, or nested past the parser
        raise _invalid(token) from None


def _is_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_POSITION


def _is_text(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:  # a lone surrogate from a `\ud800` escape is no text the store can compare
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _invalid(token: str) -> api.ApiError:
    return api.InvalidToken(f"Invalid Token: '{token}'")
