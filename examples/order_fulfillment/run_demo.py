"""Runs every order in orders.json through the order-fulfilment state machine and reports each path taken.

Usage (from the repository root):

    make demo
    .venv/bin/python examples/order_fulfillment/run_demo.py [--order ORD-1004] [--verbose] [--json]

The executions run in memory with `stateway.testing.local.LocalRunner`: the task functions run for
real, while Wait states and retry back-off move a virtual clock, so days of waiting take milliseconds.
Everything this script reports is read from the AWS-shaped execution history, so the same report
works unchanged for executions on the durable runtime.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from stateway.testing.local import ExecutionResult, LocalRunner
from stateway.workers.python import load_functions_dir

HERE = Path(__file__).resolve().parent
DEFINITION = HERE / "order_fulfillment.asl.json"
FUNCTIONS = HERE / "functions"
ORDERS = HERE / "orders.json"
STATE_MACHINE_NAME = "order_fulfillment"

# Task-level failure events carry the error a Retry or Catch saw; execution and iteration failures
# are reported separately.
_TASK_FAILURE_SUFFIXES = ("Failed", "TimedOut")
_NOT_TASK_FAILURES = {
    "ExecutionFailed",
    "ExecutionTimedOut",
    "MapIterationFailed",
    "MapStateFailed",
    "ParallelStateFailed",
}


@dataclass
class OrderReport:
    """What happened to one order, derived from its execution history."""

    order_id: str
    scenario: str
    status: str
    expected_status: str | None
    expected_error: str | None
    output: Any = None
    error: str | None = None
    cause: str | None = None
    path: list[str] = field(default_factory=list)  # top-level states, in the order entered
    inner_states: dict[str, list[str]] = field(default_factory=dict)  # container -> states inside it
    states_entered: list[str] = field(default_factory=list)  # every StateEntered, nested ones included
    retries: dict[str, int] = field(default_factory=dict)  # state -> extra attempts after failures
    task_errors: dict[str, list[str]] = field(default_factory=dict)  # state -> errors its tasks raised
    waits: int = 0
    map_peak_concurrency: dict[str, int] = field(default_factory=dict)
    virtual_seconds: float = 0.0
    real_ms: float = 0.0
    events: list[dict[str, Any]] = field(default_factory=list, repr=False)  # the full history

    @property
    def as_expected(self) -> bool:
        return self.status == self.expected_status and self.error == self.expected_error

    @property
    def total_retries(self) -> int:
        return sum(self.retries.values())


# ---- reading the history -------------------------------------------------------------------


def container_of_states(definition: dict[str, Any]) -> dict[str, str]:
    """Maps each state nested in a Parallel or Map to the top-level state that contains it."""
    owner: dict[str, str] = {}

    def collect(states: dict[str, Any], top: str) -> None:
        for name, state in states.items():
            owner[name] = top
            for nested in _nested_programs(state):
                collect(nested.get("States", {}), top)

    for name, state in definition["States"].items():
        for nested in _nested_programs(state):
            collect(nested.get("States", {}), name)
    return owner


def _nested_programs(state: dict[str, Any]) -> list[dict[str, Any]]:
    if state.get("Type") == "Parallel":
        return list(state.get("Branches", []))
    if state.get("Type") == "Map":
        processor = state.get("ItemProcessor") or state.get("Iterator")
        return [processor] if processor else []
    return []


def _entered_state_of(event: dict[str, Any], by_id: dict[int, dict[str, Any]]) -> str | None:
    """The state an event belongs to: follow previousEventId back to the nearest StateEntered."""
    current: dict[str, Any] | None = event
    while current is not None:
        if current["type"].endswith("StateEntered"):
            return str(current["stateEnteredEventDetails"]["name"])
        current = by_id.get(current["previousEventId"])
    return None


def analyse(events: list[dict[str, Any]], owner: dict[str, str]) -> dict[str, Any]:
    """Path, nested states, retries, task errors, waits and Map concurrency from a history."""
    by_id = {event["id"]: event for event in events}
    path: list[str] = []
    inner: dict[str, list[str]] = {}
    entered: list[str] = []
    entries: Counter[str] = Counter()
    attempts: Counter[str] = Counter()
    errors: dict[str, list[str]] = {}
    running_iterations: Counter[str] = Counter()
    peak: dict[str, int] = {}
    waits = 0
    for event in events:
        kind = event["type"]
        if kind.endswith("StateEntered"):
            name = event["stateEnteredEventDetails"]["name"]
            entered.append(name)
            entries[name] += 1
            if name in owner:
                inner.setdefault(owner[name], []).append(name)
            else:
                path.append(name)
            waits += kind == "WaitStateEntered"
        elif kind.endswith("Scheduled"):
            state = _entered_state_of(event, by_id)
            if state is not None:
                attempts[state] += 1
        elif kind.endswith(_TASK_FAILURE_SUFFIXES) and kind not in _NOT_TASK_FAILURES:
            state = _entered_state_of(event, by_id)
            details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
            if state is not None:
                errors.setdefault(state, []).append(str(details.get("error", "")))
        elif kind == "MapIterationStarted":
            name = event["mapIterationStartedEventDetails"]["name"]
            running_iterations[name] += 1
            peak[name] = max(peak.get(name, 0), running_iterations[name])
        elif kind in ("MapIterationSucceeded", "MapIterationFailed", "MapIterationAborted"):
            details = next(v for k, v in event.items() if k.endswith("EventDetails"))
            running_iterations[details["name"]] -= 1
    # A state scheduled more often than it was entered ran again because of a Retry.
    retries = {
        state: attempts[state] - entries[state] for state in attempts if attempts[state] > entries[state]
    }
    return {
        "path": path,
        "inner_states": inner,
        "states_entered": entered,
        "retries": retries,
        "task_errors": errors,
        "waits": waits,
        "map_peak_concurrency": peak,
    }


# ---- running -------------------------------------------------------------------------------


def run_order(runner: LocalRunner, definition: dict[str, Any], order: dict[str, Any]) -> ExecutionResult:
    """Start one execution named after the order and run it to its end."""
    return runner.run(definition, order, name=order["orderId"], state_machine_name=STATE_MACHINE_NAME)


def run_all(orders: list[dict[str, Any]]) -> list[OrderReport]:
    definition = json.loads(DEFINITION.read_text(encoding="utf-8"))
    owner = container_of_states(definition)
    runner = LocalRunner(load_functions_dir(FUNCTIONS))
    reports = []
    for entry in orders:
        order = entry["order"]
        expect = entry.get("expect", {})
        started = time.perf_counter()
        result = run_order(runner, definition, order)
        real_ms = (time.perf_counter() - started) * 1000
        events = result.events
        virtual = (events[-1]["timestamp"] - events[0]["timestamp"]).total_seconds() if events else 0.0
        reports.append(
            OrderReport(
                order_id=order["orderId"],
                scenario=entry.get("scenario", ""),
                status=result.status,
                expected_status=expect.get("status"),
                expected_error=expect.get("error"),
                output=result.output_value,
                error=result.error,
                cause=result.cause,
                virtual_seconds=virtual,
                real_ms=real_ms,
                events=events,
                **analyse(events, owner),
            )
        )
    return reports


# ---- printing ------------------------------------------------------------------------------


class Style:
    """ANSI colours when writing to a terminal (and NO_COLOR is unset), plain text otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def _wrap(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.enabled else text

    def bold(self, text: str) -> str:
        return self._wrap("1", text)

    def dim(self, text: str) -> str:
        return self._wrap("2", text)

    def green(self, text: str) -> str:
        return self._wrap("32", text)

    def red(self, text: str) -> str:
        return self._wrap("31", text)

    def yellow(self, text: str) -> str:
        return self._wrap("33", text)


def describe_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{days}d" if days else "",
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
        f"{secs}s" if secs or not (days or hours or minutes) else "",
    ]
    return " ".join(p for p in parts if p)


def path_steps(report: OrderReport, definition_states: dict[str, Any]) -> list[str]:
    """Top-level states with what ran inside containers: `PackItems [4× PackLine, ≤2 at a time]`."""
    steps = []
    for name in report.path:
        inner = report.inner_states.get(name)
        if not inner:
            steps.append(name)
            continue
        counts = Counter(inner)
        if definition_states.get(name, {}).get("Type") == "Map":
            body = ", ".join(f"{n}× {state}" for state, n in counts.items())
            peak = report.map_peak_concurrency.get(name)
            # Concurrency only says something when there was more than one item to share out.
            if peak and len(inner) > 1:
                body += f", ≤{peak} at a time"
        else:
            body = " ‖ ".join(state if n == 1 else f"{n}× {state}" for state, n in counts.items())
        steps.append(f"{name} [{body}]")
    return steps


def wrap_path(steps: list[str], width: int, indent: str) -> list[str]:
    lines: list[str] = []
    line = ""
    for step in steps:
        piece = step if not line else f" → {step}"
        if line and len(indent) + len(line) + len(piece) > width:
            lines.append(line)
            line = f"→ {step}"
        else:
            line += piece
    if line:
        lines.append(line)
    return lines


def describe_output(output: Any) -> str:
    """One line for this machine's receipt; plain JSON for anything else."""
    try:
        charged, shipment = output["charged"], output["shipment"]
        attempts = charged["gatewayAttempts"]
        parcels = output["parcels"]
        return (
            f"{charged['currency']} {charged['amount']:.2f} charged ({charged['transactionId']}, "
            f"{attempts} gateway attempt{'s' if attempts != 1 else ''}) · {parcels} parcel"
            f"{'s' if parcels != 1 else ''}, {shipment['weightGrams']} g · {shipment['carrier']} "
            f"{shipment['trackingNumber']}"
        )
    except (KeyError, TypeError, ValueError):
        return json.dumps(output, ensure_ascii=False)


def print_report(report: OrderReport, definition_states: dict[str, Any], style: Style, verbose: bool) -> None:
    width = 100
    label = "  "
    print(style.bold(f"── {report.order_id} · {report.scenario}"))
    status = report.status
    coloured = style.green(status) if status == "SUCCEEDED" else style.red(status)
    verdict = (
        style.green("✔ as expected")
        if report.as_expected
        else style.red(
            f"✘ expected {report.expected_status}"
            + (f" ({report.expected_error})" if report.expected_error else "")
        )
    )
    print(
        f"{label}{'status':<9}{coloured}  {verdict}  "
        + style.dim(f"· {describe_duration(report.virtual_seconds)} virtual, {report.real_ms:.0f} ms real")
    )
    indent = label + " " * 9
    for i, line in enumerate(wrap_path(path_steps(report, definition_states), width, indent)):
        print(f"{label}{'path':<9}{line}" if i == 0 else f"{indent}{line}")
    for state, errors in report.task_errors.items():
        print(
            f"{label}{'errors':<9}{state}: {', '.join(errors)} → {style.yellow(how_handled(report, state))}"
        )
    if report.waits:
        print(f"{label}{'waits':<9}{report.waits}× WaitForRestock before the stock question was settled")
    if report.status == "SUCCEEDED":
        print(f"{label}{'receipt':<9}{describe_output(report.output)}")
    else:
        print(f"{label}{'error':<9}{style.red(report.error or '')}")
        print(f"{label}{'cause':<9}{report.cause or ''}")
    if verbose:
        from stateway.cli.timeline import render_timeline

        if report.output is not None:
            print(
                f"{label}{'output':<9}"
                + json.dumps(report.output, indent=2, ensure_ascii=False).replace("\n", "\n" + indent)
            )
        print(f"{label}timeline")
        for line in render_timeline(report.events).splitlines():
            print(f"{indent}{line}")
    print()


def how_handled(report: OrderReport, state: str) -> str:
    """`retried 2×, then succeeded`, `caught → PaymentFailed`: what became of a state's task errors."""
    retried = report.retries.get(state, 0)
    failures = len(report.task_errors.get(state, []))
    words = [f"retried {retried}×"] if retried else []
    if failures <= retried:
        words.append("then succeeded" if words else "succeeded")
        return ", ".join(words)
    # More failures than retries: the last one was either caught (the execution moved on) or fatal.
    if state in report.path:
        position = len(report.path) - 1 - report.path[::-1].index(state)
        if position < len(report.path) - 1:
            words.append(f"caught → {report.path[position + 1]}")
            return ", then ".join(words) if len(words) > 1 else words[0]
    words.append("not handled")
    return ", then ".join(words) if len(words) > 1 else words[0]


def print_summary(reports: list[OrderReport], style: Style) -> None:
    rows = [("Order", "Scenario", "Status", "Error", "Retries", "Waits", "Virtual time", "OK")]
    for r in reports:
        rows.append(
            (
                r.order_id,
                r.scenario.split(":")[0],
                r.status,
                r.error or "–",
                str(r.total_retries),
                str(r.waits),
                describe_duration(r.virtual_seconds),
                "✔" if r.as_expected else "✘",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row)]
        line = "  ".join(cells).rstrip()
        if index == 0:
            print(style.bold(line))
            print(style.dim("  ".join("─" * w for w in widths)))
        else:
            status_cell = cells[2]
            cells[2] = style.green(status_cell) if row[2] == "SUCCEEDED" else style.red(status_cell)
            cells[7] = style.green(row[7]) if row[7] == "✔" else style.red(row[7])
            print("  ".join(cells).rstrip())
    matched = sum(r.as_expected for r in reports)
    print()
    verdict = f"{matched}/{len(reports)} orders ended as expected"
    print(style.green(verdict) if matched == len(reports) else style.red(verdict))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the order-fulfilment example on sample orders.")
    parser.add_argument(
        "--orders", type=Path, default=ORDERS, help="JSON list of scenarios (default: orders.json)"
    )
    parser.add_argument(
        "--order", action="append", metavar="ORDER_ID", help="run only this order (repeatable)"
    )
    parser.add_argument("--verbose", action="store_true", help="also print each full output and timeline")
    parser.add_argument(
        "--json", action="store_true", help="print the reports as JSON, for scripts and tests"
    )
    args = parser.parse_args(argv)

    orders = json.loads(args.orders.read_text(encoding="utf-8"))
    if args.order:
        orders = [o for o in orders if o["order"]["orderId"] in set(args.order)]
        if not orders:
            print(f"no order named {', '.join(args.order)} in {args.orders}", file=sys.stderr)
            return 2
    reports = run_all(orders)

    if args.json:
        body = [
            {
                **{k: v for k, v in asdict(r).items() if k != "events"},
                "as_expected": r.as_expected,
                "total_retries": r.total_retries,
            }
            for r in reports
        ]
        print(json.dumps(body, indent=2, ensure_ascii=False))
        return 0 if all(r.as_expected for r in reports) else 1

    style = Style(sys.stdout.isatty() and "NO_COLOR" not in os.environ)
    definition_states = json.loads(DEFINITION.read_text(encoding="utf-8"))["States"]
    print(style.bold("stateway · order fulfilment"))
    print(
        style.dim(
            f"{len(reports)} order{'s' if len(reports) != 1 else ''} through {DEFINITION.relative_to(HERE.parent.parent)} "
            "in memory, on a virtual clock\n"
        )
    )
    for report in reports:
        print_report(report, definition_states, style, args.verbose)
    print_summary(reports, style)
    return 0 if all(r.as_expected for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
