"""NotifyCustomer: queues an email from a template in the shop's notification outbox (nothing is sent)."""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path
from typing import Any

_EXAMPLE = str(Path(__file__).resolve().parents[1])
if _EXAMPLE not in sys.path:
    sys.path.insert(0, _EXAMPLE)
import shop  # noqa: E402  (the example's shared shop-database module, one folder up)

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
    # A stable message id per (order, template): a repeated send is recognised and stored once.
    digest = hashlib.sha256(f"{event['orderId']}:{template}".encode()).hexdigest()
    message_id = f"msg-{digest[:10]}"
    db = shop.for_functions()
    with shop.transaction(db):
        db.execute(
            "INSERT OR IGNORE INTO notifications (message_id, order_id, template, recipient, subject, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (message_id, event["orderId"], template, event["to"], subject, time.time()),
        )
    return {"messageId": message_id, "channel": "email", "to": event["to"], "subject": subject}
