"""RecordCompletion: books the fulfilled sale in the ledger."""

from __future__ import annotations

from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {
        "recorded": True,
        "ledgerEntry": {
            "orderId": event["orderId"],
            "customerId": event["customerId"],
            "transactionId": event["transactionId"],
            "amount": event["amount"],
            "currency": event["currency"],
            "trackingNumber": event["trackingNumber"],
        },
    }
