"""A readable, one-line-per-event timeline of an execution's history."""

from __future__ import annotations

from typing import Any


def _detail(event: dict[str, Any]) -> str:
    for key, value in event.items():
        if not key.endswith("EventDetails") or not isinstance(value, dict):
            continue
        parts = []
        if "name" in value:
            parts.append(str(value["name"]))
        if "index" in value:
            parts.append(f"#{value['index']}")
        if "resource" in value:
            parts.append(str(value["resource"]))
        if "error" in value:
            parts.append(f"error={value['error']}")
        if "cause" in value:
            cause = str(value["cause"])
            parts.append("cause=" + (cause[:80] + "…" if len(cause) > 80 else cause))
        if "output" in value and "name" in value:
            output = str(value["output"])
            parts.append("→ " + (output[:60] + "…" if len(output) > 60 else output))
        return "  ".join(parts)
    return ""


def render_timeline(events: list[dict[str, Any]]) -> str:
    """`  3  +12ms  TaskStateEntered  ChargeCard` lines, offsets from the first event."""
    if not events:
        return "(no events)"
    start = events[0]["timestamp"]
    lines = []
    for event in events:
        offset_ms = int((event["timestamp"] - start).total_seconds() * 1000)
        lines.append(f"{event['id']:>4}  +{offset_ms:>6}ms  {event['type']:<28} {_detail(event)}".rstrip())
    return "\n".join(lines)
