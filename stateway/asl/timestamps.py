"""RFC 3339 timestamps as Step Functions reads and writes them, as epoch milliseconds."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache

# 9999-12-31T23:59:59.999Z, the latest instant an RFC 3339 timestamp (and a 64-bit store column) holds:
# a timer due later than that — a Wait of 10^15 seconds, a back-off grown without bound — is due then.
LATEST_MS = 253_402_300_799_999


# The most a task's TimeoutSeconds or HeartbeatSeconds may be, in the definition or through a path.
MAX_SECONDS = 99_999_999


def clamp_ms(ms: int) -> int:
    """`ms`, or `LATEST_MS` if it is later."""
    return ms if ms <= LATEST_MS else LATEST_MS


# AWS requires an explicit offset (Z or ±hh:mm) and accepts an optional fraction of a second.
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)


def parse_timestamp(text: object) -> int | None:
    """Epoch milliseconds of an RFC 3339 date-time with offset, or None when it is not one."""
    if not isinstance(text, str):
        return None
    match = _RFC3339.match(text)
    if not match:
        return None
    fraction = match.group(7) or ""
    offset = match.group(8).upper()
    iso = text[: match.start(7)] if fraction else text[: match.start(8)]
    iso = iso.replace("t", "T") + ("+00:00" if offset == "Z" else offset)
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return None
    millis = int(round(float("0" + fraction) * 1000)) if fraction else 0
    return int(moment.timestamp()) * 1000 + millis


@lru_cache(maxsize=4096)
def format_timestamp(epoch_ms: int) -> str:
    """The form AWS uses in the context object: `2024-01-01T00:00:00.123Z`."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"
