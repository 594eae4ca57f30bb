"""ItemBatcher: a distributed Map's items grouped into the inputs of its child executions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stateway.asl import jsontext
from stateway.asl.errors import ErrorName, FailureError
from stateway.asl.model import UNSET

# AWS's largest batch (MaxInputBytesPerBatch), which is also its payload quota: 256 KiB.
MAX_BATCH_BYTES = 262144


def batch_input(items: list[Any], shared: Any = UNSET) -> dict[str, Any]:
    """One child execution's input: `{"BatchInput": …, "Items": […]}`, without BatchInput if none is set."""
    return {"Items": items} if shared is UNSET else {"BatchInput": shared, "Items": items}


def group(items: Sequence[Any], max_items: int | None, max_bytes: int, shared: Any = UNSET) -> list[dict[str, Any]]:
    """The items in order, as few batches as fit: at most `max_items` each (no limit when None) and at
    most `max_bytes` of serialized batch input each (the UTF-8 JSON text of the whole child input,
    BatchInput included, as the child execution receives it). An item too large to fit a batch on its
    own fails the Map Run."""
    empty = len(jsontext.dumps(batch_input([], shared)).encode("utf-8"))
    batches: list[dict[str, Any]] = []
    current: list[Any] = []
    size = empty
    for item in items:
        item_bytes = len(jsontext.dumps(item).encode("utf-8"))
        if empty + item_bytes > max_bytes:
            raise FailureError(ErrorName.ITEM_READER_FAILED.value,
                               f"An item is larger than the batch limit of {max_bytes} bytes "
                               f"(MaxInputBytesPerBatch): {empty + item_bytes} bytes in a batch of its own")
        added = item_bytes + (1 if current else 0)  # the comma between items
        if current and ((max_items is not None and len(current) >= max_items) or size + added > max_bytes):
            batches.append(batch_input(current, shared))
            current, size, added = [], empty, item_bytes
        current.append(item)
        size += added
    if current:
        batches.append(batch_input(current, shared))
    return batches
