"""VerifyPayment: authorises the order total with a simulated card gateway.

The gateway's behaviour is driven by the payment method so that every branch can be shown:
`declined-card` is refused; `flaky-card` hangs on its first two attempts (longer than the state's
TimeoutSeconds, so the engine reports States.Timeout and the Retry tries again), then answers;
`gateway-down` hangs once and then answers 503 twice, so after three failures the order goes to
PaymentFailed; any other method is authorised.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

# A flaky card's gateway hangs on this many attempts before it answers.
FLAKY_FAILURES = 2
# Longer than VerifyPayment's TimeoutSeconds (2): the engine gives up on the call first.
HANG_SECONDS = 4.0


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
    if (method == "flaky-card" and attempt < FLAKY_FAILURES) or (method == "gateway-down" and attempt == 0):
        time.sleep(HANG_SECONDS)  # the gateway never answers in time; this late answer is never read
    if method == "gateway-down":
        raise PaymentGatewayError("payment gateway answered 503 Service Unavailable")
    # The same idempotency key always yields the same transaction: a repeated call cannot charge twice.
    digest = hashlib.sha256(str(event.get("idempotencyKey", order_id)).encode()).hexdigest()
    return {
        "transactionId": f"txn_{digest[:12]}",
        "status": "AUTHORIZED",
        "amount": event["amount"],
        "currency": event["currency"],
        "gatewayAttempt": attempt + 1,
    }
