"""CancelOrder: marks an order cancelled in the order system and says why."""

from __future__ import annotations

from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"orderId": event["orderId"], "status": "CANCELLED", "reason": event.get("reason", "unknown")}
