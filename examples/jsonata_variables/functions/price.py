"""A price list standing in for a pricing service."""

PRICES = {"MUG": 12.5, "TEE": 25.0, "HOODIE": 60.0}


def handler(event, context):
    return {"sku": event["sku"], "price": PRICES[event["sku"]], "currency": event["currency"]}
