"""RecordCompletion: books the fulfilled sale in the shop's completion records (once per order)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

_EXAMPLE = str(Path(__file__).resolve().parents[1])
if _EXAMPLE not in sys.path:
    sys.path.insert(0, _EXAMPLE)
import shop  # noqa: E402  (the example's shared shop-database module, one folder up)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    entry = {
        "orderId": event["orderId"],
        "customerId": event["customerId"],
        "transactionId": event["transactionId"],
        "amount": event["amount"],
        "currency": event["currency"],
        "trackingNumber": event["trackingNumber"],
    }
    db = shop.for_functions()
    with shop.transaction(db):
        # At-least-once delivery of this task must not book the sale twice: the order id is the key.
        db.execute(
            "INSERT OR IGNORE INTO completions (order_id, execution_arn, ledger_entry, created_at) VALUES (?, ?, ?, ?)",
            (event["orderId"], str(event.get("executionArn", "")), json.dumps(entry), time.time()),
        )
    return {"recorded": True, "ledgerEntry": entry}
