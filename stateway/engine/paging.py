"""Pagination tokens: the position where a page ended, signed and dated; any other token is InvalidToken.

A token is the base64 of an HMAC-SHA256 of its text, then the text: `[issued ms, position]` as JSON. The
key is a random secret the store keeps (created with the first token), so a token is good across
restarts on the same file and nowhere else, and a position made by hand (a name, an event id) is
refused: only positions a listing wrote here are places to start a page. As on AWS, a token expires
after 24 hours (InvalidToken, 400, like a malformed one).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

from stateway.engine import errors as api
from stateway.store.sqlite import SqliteStore

# AWS: "Each pagination token expires after 24 hours. Using an expired pagination token will return an
# HTTP 400 InvalidToken error."
TOKEN_LIFETIME_MS = 24 * 60 * 60 * 1000
KEY_SETTING = "page_token_key"
_MAC_BYTES = hashlib.sha256().digest_size


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class PageTokens:
    """Writes the nextToken of a page that ended at a position, and reads back only tokens it wrote."""

    def __init__(self, key: bytes, clock: Callable[[], int] = _now_ms) -> None:
        self._key = key
        self._clock = clock

    @classmethod
    def of(cls, store: SqliteStore) -> PageTokens:
        """The tokens of one store, signed with its key (a new store gets a random one)."""
        return cls(bytes.fromhex(store.setting(KEY_SETTING, lambda: secrets.token_hex(32))))

    def token(self, position: Any) -> str:
        """The token for a page that ended at `position` (a name, a number or a [start ms, ARN] pair)."""
        # Not ASCII-escaped: a name of 80 four-byte characters stays within the API's 1,024 characters.
        text = json.dumps([self._clock(), position], ensure_ascii=False, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(self._mac(text) + text).decode()

    def name_position(self, token: str) -> str:
        """The name a page of a listing by name ended at."""
        position = self._position(token)
        if not isinstance(position, str):
            raise _invalid(token)
        return position

    def number_position(self, token: str) -> int:
        """The number (event id, version) a page ended at."""
        position = self._position(token)
        if not isinstance(position, int):
            raise _invalid(token)
        return position

    def start_position(self, token: str) -> tuple[int, str]:
        """The (start ms, ARN) a page of a listing by start date ended at."""
        position = self._position(token)
        if not (isinstance(position, list) and len(position) == 2 and isinstance(position[0], int)
                and isinstance(position[1], str)):
            raise _invalid(token)
        return position[0], position[1]

    def key_position(self, token: str, length: int) -> tuple[int, ...]:
        """The key (`length` integers, its start ms first) a page of a listing by start date ended at."""
        position = self._position(token)
        if not (isinstance(position, list) and len(position) == length
                and all(type(part) is int for part in position)):
            raise _invalid(token)
        return tuple(position)

    def _position(self, token: str) -> Any:
        """The position a token holds, if this store's key signed it less than 24 hours ago."""
        try:
            signed = base64.b64decode(token.encode(), altchars=b"-_", validate=True)
        except ValueError:  # not base64 (or not even ASCII)
            raise _invalid(token) from None
        mac, text = signed[:_MAC_BYTES], signed[_MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(text)):
            raise _invalid(token)
        issued, position = json.loads(text)  # signed with our key: text we wrote
        if self._clock() - issued > TOKEN_LIFETIME_MS:
            raise _invalid(token)
        return position

    def _mac(self, text: bytes) -> bytes:
        return hmac.new(self._key, text, hashlib.sha256).digest()


def _invalid(token: str) -> api.ApiError:
    return api.InvalidToken(f"Invalid Token: '{token}'")
