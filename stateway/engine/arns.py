"""Step Functions ARNs and names: building, parsing and AWS's naming rules."""

from __future__ import annotations

import re

# AWS: 1-80 characters, no whitespace, brackets, wildcards, special or control characters.
_INVALID_NAME = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")


def valid_name(name: str) -> bool:
    return 0 < len(name) <= 80 and not _INVALID_NAME.search(name)


def state_machine_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:states:{region}:{account}:stateMachine:{name}"


def execution_arn(region: str, account: str, machine_name: str, name: str, express: bool = False) -> str:
    kind = "express" if express else "execution"
    return f"arn:aws:states:{region}:{account}:{kind}:{machine_name}:{name}"


def activity_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:states:{region}:{account}:activity:{name}"


def split(arn: str) -> list[str]:
    """`arn:aws:states:r:a:kind:name[:more]` → its colon-separated parts (at least 7), or []."""
    parts = arn.split(":")
    if len(parts) < 7 or parts[0] != "arn" or parts[2] != "states":
        return []
    return parts


def machine_of_version(arn: str) -> tuple[str, int | None]:
    """A version ARN `…:stateMachine:NAME:3` → (the state machine ARN, 3); plain ARN → (arn, None)."""
    parts = split(arn)
    if len(parts) == 8 and parts[5] == "stateMachine" and parts[7].isdigit():
        return ":".join(parts[:7]), int(parts[7])
    return arn, None
