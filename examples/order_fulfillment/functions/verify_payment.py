"""VerifyPayment: authorises the order total with a simulated card gateway.

The gateway's behaviour is driven by the payment method so that every branch can be shown:
`declined-card` is refused, `flaky-card` times out on its first two attempts, `gateway-down` never
answers, and any other method is authorised.
"""

from __future__ import annotations

import hashlib
from typing import Any

# A flaky card fails this many attempts before the gateway answers.
FLAKY_FAILURES = 2


class PaymentTimeout(Exception):
    """The gateway did not answer in time: worth retrying."""


class PaymentGatewayError(Exception):
    """The gateway answered with a server error: worth retrying."""


class PaymentDeclined(Exception):
    """The issuer refused the charge: retrying will not help."""


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    method = event.get("method")
    # The attempt number comes from the state machine ($$.State.RetryCount) rather than from a
    # module-level counter, so the simulation stays deterministic whichever worker process runs it.
    attempt = int(event.get("attempt", 0))
    order_id = event["orderId"]
    if method == "declined-card":
        raise PaymentDeclined(
            f"card ending {str(event.get('cardToken', ''))[-4:]} declined by issuer: insufficient funds"
        )
    if method == "gateway-down":
        raise PaymentGatewayError("payment gateway answered 503 Service Unavailable")
    if method == "flaky-card" and attempt < FLAKY_FAILURES:
        raise PaymentTimeout(f"payment gateway did not answer within 5s (attempt {attempt + 1})")
    # The same idempotency key always yields the same transaction: a repeated call cannot charge twice.
    digest = hashlib.sha256(str(event.get("idempotencyKey", order_id)).encode()).hexdigest()
    return {
        "transactionId": f"txn_{digest[:12]}",
        "status": "AUTHORIZED",
        "amount": event["amount"],
        "currency": event["currency"],
        "gatewayAttempt": attempt + 1,
    }
