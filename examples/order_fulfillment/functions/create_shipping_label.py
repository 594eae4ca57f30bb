"""CreateShippingLabel: asks the carrier for a label and hands it the task token to answer with.

The state machine calls this through `arn:aws:states:::lambda:invoke.waitForTaskToken`: the function
only writes the request, with `$$.Task.Token`, to the carrier outbox in shop.db and returns. The
execution then waits, holding no worker, until the carrier (`carrier.py`, another process) answers
with SendTaskSuccess — the label — or SendTaskFailure.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

_EXAMPLE = str(Path(__file__).resolve().parents[1])
if _EXAMPLE not in sys.path:
    sys.path.insert(0, _EXAMPLE)
import shop  # noqa: E402  (the example's shared shop-database module, one folder up)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = {"orderId": event["orderId"], "address": event.get("address") or {}, "parcels": event["parcels"]}
    request_id = shop.add_label_request(
        shop.for_functions(),
        # Stable across a crash-and-rerun of this attempt: the carrier sees one request, not two.
        idempotency_key=getattr(context, "idempotency_key", "") or event["taskToken"],
        order_id=event["orderId"],
        execution_arn=str(event.get("executionArn", "")),
        task_token=event["taskToken"],
        request=request,
    )
    return {"labelRequestId": request_id, "status": "QUEUED"}
