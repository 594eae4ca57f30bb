"""ReserveInventory: reserves every order line in a simulated warehouse, or reports what is back-ordered.

Stock is a fixed catalogue. A back-ordered SKU arrives after a set number of restock checks (the
state machine counts them and passes the count in as `check`), or never, for a discontinued one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# How long the state machine should sleep before asking again: one day.
RESTOCK_CHECK_INTERVAL_SECONDS = 86_400


@dataclass(frozen=True)
class Stock:
    on_hand: int
    arrives_after_checks: int | None = None  # None: the supplier will never deliver
    incoming: int = 0


CATALOGUE: dict[str, Stock] = {
    "BOOK-ASL-GUIDE": Stock(on_hand=120),
    "MUG-STATEWAY": Stock(on_hand=40),
    "STICKER-PACK": Stock(on_hand=500),
    "TSHIRT-M": Stock(on_hand=25),
    "HOODIE-L": Stock(on_hand=0, arrives_after_checks=2, incoming=30),
    "LAMP-RETRO": Stock(on_hand=0, arrives_after_checks=None),
}


class UnknownSku(Exception):
    """An order line names a SKU the warehouse has never heard of."""


def available(sku: str, check: int) -> int:
    stock = CATALOGUE.get(sku)
    if stock is None:
        raise UnknownSku(f"no such SKU: {sku}")
    if stock.arrives_after_checks is not None and check >= stock.arrives_after_checks:
        return stock.on_hand + stock.incoming
    return stock.on_hand


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    order_id = event["orderId"]
    check = int(event.get("check", 0))
    missing = []
    for line in event["lines"]:
        shortfall = line["quantity"] - available(line["sku"], check)
        if shortfall > 0:
            missing.append({"sku": line["sku"], "missing": shortfall})
    if missing:
        return {
            "status": "BACKORDERED",
            "backordered": missing,
            "retryAfterSeconds": RESTOCK_CHECK_INTERVAL_SECONDS,
        }
    return {
        "status": "RESERVED",
        "reservationId": f"rsv-{order_id}",
        "reserved": [{"sku": line["sku"], "quantity": line["quantity"]} for line in event["lines"]],
    }
