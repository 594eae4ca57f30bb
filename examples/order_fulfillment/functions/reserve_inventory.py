"""ReserveInventory: reserves every order line in the shop's warehouse (shop.db), or reports what is back-ordered.

Stock lives in a real SQLite table. Each line is taken with one conditional
`UPDATE stock SET available = available - ? WHERE sku = ? AND available >= ?` and all lines of an
order in one transaction, so two orders racing for the last unit cannot both get it: the loser is
told BACKORDERED, the warehouse raises a purchase order, and the state machine waits and asks again.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

_EXAMPLE = str(Path(__file__).resolve().parents[1])
if _EXAMPLE not in sys.path:
    sys.path.insert(0, _EXAMPLE)
import shop  # noqa: E402  (the example's shared shop-database module, one folder up)

# Raised for an unknown SKU; re-exported so that the error name is `UnknownSku`.
UnknownSku = shop.UnknownSku


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    order_id = event["orderId"]
    execution_arn = str(event.get("executionArn") or order_id)
    # One reservation per execution: a re-run of the task after a crash finds it instead of taking
    # the stock twice, and a retried order (a new execution) reserves afresh.
    reservation_id = f"rsv-{order_id}-{hashlib.sha256(execution_arn.encode()).hexdigest()[:8]}"
    try:
        reserved = shop.reserve(shop.for_functions(), reservation_id=reservation_id, execution_arn=execution_arn,
                                order_id=order_id, lines=event["lines"])
    except shop.OutOfStock as short:
        return {
            "status": "BACKORDERED",
            "backordered": short.missing,
            # The warehouse says when to look again; WaitForRestock reads it with SecondsPath.
            "retryAfterSeconds": shop.RESTOCK_CHECK_SECONDS,
        }
    return {"status": "RESERVED", "reservationId": reservation_id, "reserved": reserved}
