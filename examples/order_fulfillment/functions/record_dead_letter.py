"""RecordDeadLetter: files an order that failed for good where a person can inspect and retry it.

Writes a `dead_letters` row in shop.db (error, cause, the execution's input and ARN) and gives back
any stock the execution still held. `dead_letters.py list|show|retry` is the person's side.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

_EXAMPLE = str(Path(__file__).resolve().parents[1])
if _EXAMPLE not in sys.path:
    sys.path.insert(0, _EXAMPLE)
import shop  # noqa: E402  (the example's shared shop-database module, one folder up)


def describe_cause(failure: dict[str, Any]) -> str:
    """A one-line cause: Lambda's JSON error payload becomes its message; a missing cause says so."""
    cause = failure.get("Cause")
    if not cause:
        return f"{failure.get('Error', 'unknown error')} (no cause given)"
    try:
        payload = json.loads(cause)
    except (TypeError, ValueError):
        return str(cause)
    if isinstance(payload, dict) and "errorMessage" in payload:
        return str(payload["errorMessage"])
    return str(cause)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failure = event.get("failure") or {}
    error = str(failure.get("Error") or "UnknownError")
    cause = describe_cause(failure)
    execution_arn = event["executionArn"]
    db = shop.for_functions()
    released = shop.release(db, execution_arn)
    dead_letter_id = shop.add_dead_letter(
        db, execution_arn=execution_arn, order_id=str(event.get("orderId") or event.get("executionName")),
        error=error, cause=cause, input_text=json.dumps(event.get("input"), ensure_ascii=False),
    )
    return {"deadLetterId": dead_letter_id, "error": error, "cause": cause, "releasedStock": released}
