"""ValidateOrder: checks that an order is complete and prices it (subtotal, shipping, total)."""

from __future__ import annotations

from typing import Any

# Orders at or above this subtotal ship free; below it a flat fee applies.
FREE_SHIPPING_FROM = 50.0
SHIPPING_FEE = 4.95


class InvalidOrder(Exception):
    """The order cannot be fulfilled as submitted; Step Functions sees the error name `InvalidOrder`."""


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    order_id = event.get("orderId")
    if not order_id:
        raise InvalidOrder("the order has no orderId")
    if not (event.get("customer") or {}).get("email"):
        raise InvalidOrder(f"order {order_id} has no customer email to send updates to")
    if not event.get("shippingAddress"):
        raise InvalidOrder(f"order {order_id} has no shipping address")
    lines = event.get("lines") or []
    if not lines:
        raise InvalidOrder(f"order {order_id} has no lines")
    subtotal = 0.0
    for number, line in enumerate(lines, start=1):
        quantity = line.get("quantity", 0)
        if not line.get("sku") or not isinstance(quantity, int) or quantity <= 0:
            raise InvalidOrder(f"order {order_id} line {number} needs a sku and a positive whole quantity")
        subtotal += quantity * float(line.get("unitPrice", 0))
    shipping = 0.0 if subtotal >= FREE_SHIPPING_FROM else SHIPPING_FEE
    return {
        "orderId": order_id,
        "itemCount": sum(line["quantity"] for line in lines),
        "subtotal": round(subtotal, 2),
        "shipping": shipping,
        "total": round(subtotal + shipping, 2),
        "currency": event.get("currency", "EUR"),
    }
