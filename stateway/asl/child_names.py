"""The names and ARNs of a distributed Map's child executions, made from their Map Run and item index."""

from __future__ import annotations

import functools
import hashlib
import re

# A child's name: NAME_PREFIX_LENGTH characters that its Map Run (and attempt) make, then 12 hex digits of its index.
NAME_PREFIX_LENGTH = 24
CHILD_NAME = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def child_execution_name(map_run_arn: str, index: int, attempt: int = 0) -> str:
    """The name of a Map Run's child execution, laid out as a UUID: its first 20 hex digits are made from
    the Map Run and — for an EXPRESS child, which a redrive of the Map Run starts anew as another
    execution — the Map Run's redrive count (the child's `attempt`); its last 12 are the index of its
    item (or batch). The same after a crash recomputes a round, or the engine restarts; and the shell
    finds a child's row from its name alone (`name_prefix`, `name_index`)."""
    return f"{name_prefix(map_run_arn, attempt)}{index:012x}"


@functools.lru_cache(maxsize=256)
def name_prefix(map_run_arn: str, attempt: int = 0) -> str:
    """What the names of one Map Run attempt's children start with: 24 characters, up to their index."""
    digest = hashlib.sha1(f"{map_run_arn}/{attempt}".encode()).hexdigest()
    variant = "89ab"[int(digest[16], 16) & 3]  # laid out as a name-based (version 5) UUID
    return f"{digest[:8]}-{digest[8:12]}-5{digest[13:16]}-{variant}{digest[17:20]}-"


def name_index(name: str) -> int | None:
    """The index of the item (or batch) a child's name ends in, or None for a name no Map Run gives."""
    return int(name[NAME_PREFIX_LENGTH:], 16) if CHILD_NAME.fullmatch(name) else None


def child_execution_arn(map_run_arn: str, name: str, express: bool) -> str:
    """A child execution's ARN, under the Map Run's state machine (`MACHINE/LABEL`):
    `…:execution:MACHINE/LABEL:NAME`, or for an EXPRESS child `…:express:MACHINE/LABEL:NAME:UUID` (the
    Map Run's UUID), as Express executions' ARNs end in a UUID."""
    before, after = _arn_parts(map_run_arn, express)
    return f"{before}{name}{after}"


@functools.lru_cache(maxsize=256)
def _arn_parts(map_run_arn: str, express: bool) -> tuple[str, str]:
    parts = map_run_arn.split(":")  # arn:aws:states:REGION:ACCOUNT:mapRun:MACHINE/LABEL:UUID
    if express:
        return ":".join([*parts[:5], "express", parts[6], ""]), f":{parts[7]}"
    return ":".join([*parts[:5], "execution", parts[6], ""]), ""


def child_state_machine_arn(map_run_arn: str) -> str:
    """`…:mapRun:MACHINE/LABEL:UUID` → `…:stateMachine:MACHINE/LABEL`: the state machine a Map Run's
    child executions run, as AWS names it."""
    parts = map_run_arn.split(":")
    return ":".join([*parts[:5], "stateMachine", parts[6]])
