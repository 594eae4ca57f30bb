"""PackLine: packs one order line into a parcel and weighs it (one Map iteration per line)."""

from __future__ import annotations

from typing import Any

# Grams per unit, packaging included; unknown SKUs get a conservative default.
UNIT_WEIGHT_GRAMS = {
    "BOOK-ASL-GUIDE": 650,
    "MUG-STATEWAY": 420,
    "STICKER-PACK": 30,
    "TSHIRT-M": 220,
    "HOODIE-L": 780,
    "LAMP-RETRO": 2100,
}
DEFAULT_WEIGHT_GRAMS = 500


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    line_number = event["lineIndex"] + 1
    quantity = event["quantity"]
    return {
        "parcelId": f"{event['orderId']}-P{line_number}",
        "sku": event["sku"],
        "quantity": quantity,
        "weightGrams": UNIT_WEIGHT_GRAMS.get(event["sku"], DEFAULT_WEIGHT_GRAMS) * quantity,
        "reservationId": event["reservationId"],
    }
