"""NotifyCustomer: sends the customer an email from a template (simulated: nothing leaves the machine)."""

from __future__ import annotations

import hashlib
from typing import Any

SUBJECTS = {
    "order-shipped": "Your order {orderId} is on its way",
    "payment-failed": "We could not take payment for order {orderId}",
}


class UnknownTemplate(Exception):
    """The state machine asked for an email template that does not exist."""


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    template = event["template"]
    if template not in SUBJECTS:
        raise UnknownTemplate(f"no email template named {template!r}")
    subject = SUBJECTS[template].format(orderId=event["orderId"])
    # A stable message id per (order, template): a repeated send is recognisable as a duplicate.
    digest = hashlib.sha256(f"{event['orderId']}:{template}".encode()).hexdigest()
    return {"messageId": f"msg-{digest[:10]}", "channel": "email", "to": event["to"], "subject": subject}
