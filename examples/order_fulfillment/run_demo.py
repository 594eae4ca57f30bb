"""Runs every order in orders.json at once on the durable engine (embedded SQLite) and reports what happened.

Usage (from the repository root):

    make demo
    .venv/bin/python examples/order_fulfillment/run_demo.py [--order ORD-1005] [--verbose] [--json] [--run-dir DIR]

Each run gets a fresh directory, `.stateway/demo-<timestamp>/` (or DIR, which must be new or empty),
holding `engine.db` (the engine's store: state machines, executions, history, tasks, timers),
`shop.db` (the shop's own tables: stock, reservations, the carrier outbox, notifications, completions,
dead letters) and `carrier.log`.
The script starts `stateway.engine.Engine` on engine.db with the task functions, starts the
carrier/supplier simulator (`carrier.py`) as a separate process, starts all orders concurrently and
waits for them. Waits and retry back-off are real (seconds), so the whole batch takes about ten
seconds. Everything reported per order is read back from the AWS-shaped execution history and
from shop.db; the script exits 1 if any order ends differently from orders.json or a check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import shop

from stateway.engine import Engine
from stateway.engine.errors import StateMachineAlreadyExists
from stateway.workers.python import load_functions_dir

HERE = Path(__file__).resolve().parent
DEFINITION = HERE / "order_fulfillment.asl.json"
FUNCTIONS = HERE / "functions"
ORDERS = HERE / "orders.json"
CARRIER = HERE / "carrier.py"
STATE_MACHINE_NAME = "order-fulfillment"
WAIT_TIMEOUT_SECONDS = 90.0

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
    """What happened to one order, derived from its execution history and the shop database."""

    order_id: str
    scenario: str
    status: str
    expected_status: str | None
    expected_error: str | None
    execution_arn: str = ""
    race: str | None = None  # orders with the same race compete for the last unit of that SKU
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
    seconds: float = 0.0  # from ExecutionStarted to the last event, on the wall clock
    label: dict[str, Any] | None = None  # the carrier outbox row: status, who answered, the answer
    dead_letter_id: int | None = None
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
            details: dict[str, Any] = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
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


# ---- the running system: engine, functions, carrier -----------------------------------------


def new_run_dir(base: Path | None = None) -> Path:
    """A fresh `.stateway/demo-<timestamp>/` (git-ignored) for this run's databases and logs."""
    root = base or shop.RUNS_DIR
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    run_dir = root / f"demo-{stamp}"
    run_dir.mkdir(parents=True)
    return run_dir


class Stack:
    """The engine on RUN/engine.db with the example's functions, plus the carrier process.

    `with Stack(run_dir) as stack:` starts both and stops both; dead_letters.py uses it too.
    """

    def __init__(self, run_dir: Path, *, workers: int = 16, carrier: bool = True) -> None:
        self.run_dir = run_dir.resolve()
        self.engine_db = self.run_dir / "engine.db"
        self.shop_db = self.run_dir / "shop.db"
        self.db_url = f"sqlite:///{self.engine_db}"
        self.workers = workers
        self.with_carrier = carrier
        self.engine: Engine | None = None
        self.carrier: subprocess.Popen[bytes] | None = None
        self.state_machine_arn = ""

    def __enter__(self) -> Stack:
        # The functions find shop.db through the environment; so does anything they start.
        os.environ[shop.SHOP_DB_ENV] = str(self.shop_db)
        shop.connect(self.shop_db).close()  # create and stock it before anyone races for it
        engine = Engine(self.db_url, functions=load_functions_dir(FUNCTIONS), workers=self.workers)
        self.engine = engine.start()
        definition = json.loads(DEFINITION.read_text(encoding="utf-8"))
        try:
            self.state_machine_arn = engine.service.create_state_machine(STATE_MACHINE_NAME, definition)
        except StateMachineAlreadyExists:
            self.state_machine_arn = (
                f"arn:aws:states:{engine.service.region}:{engine.service.account}:stateMachine:{STATE_MACHINE_NAME}"
            )
            engine.service.update_state_machine(self.state_machine_arn, definition=definition)
        if self.with_carrier:
            log = (self.run_dir / "carrier.log").open("ab")
            self.carrier = subprocess.Popen(
                [sys.executable, str(CARRIER), "--shop", str(self.shop_db), "--db", self.db_url],
                stdout=log, stderr=subprocess.STDOUT, cwd=HERE,
            )
            log.close()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_carrier()
        if self.engine is not None:
            self.engine.stop()

    def stop_carrier(self) -> None:
        """Ask the carrier to stop (it finishes the answers in flight) and wait for it."""
        if self.carrier is None or self.carrier.poll() is not None:
            return
        self.carrier.terminate()
        try:
            self.carrier.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.carrier.kill()
            self.carrier.wait()

    @property
    def carrier_pid(self) -> int | None:
        return self.carrier.pid if self.carrier is not None else None


def seconds_between(events: list[dict[str, Any]]) -> float:
    if not events:
        return 0.0
    return float((events[-1]["timestamp"] - events[0]["timestamp"]).total_seconds())


def build_report(stack: Stack, entry: dict[str, Any], execution_arn: str, owner: dict[str, str]) -> OrderReport:
    """Describe an ended (or timed-out) execution from its history and from shop.db."""
    assert stack.engine is not None
    service = stack.engine.service
    order, expect = entry["order"], entry.get("expect", {})
    description = service.describe_execution(execution_arn)
    events = service.get_execution_history(execution_arn)
    db = shop.connect(stack.shop_db)
    try:
        label_row = db.execute(
            "SELECT id, status, answer, answered_by_pid, created_at, answered_at FROM label_requests "
            "WHERE execution_arn = ? ORDER BY id DESC", (execution_arn,)).fetchone()
        dead = db.execute("SELECT id FROM dead_letters WHERE execution_arn = ?", (execution_arn,)).fetchone()
    finally:
        db.close()
    label = None
    if label_row is not None:
        label = dict(label_row)
        label["answer"] = json.loads(label["answer"]) if label["answer"] else None
    output = json.loads(description["output"]) if description.get("output") else None
    return OrderReport(
        order_id=order["orderId"],
        scenario=entry.get("scenario", ""),
        status=description["status"],
        expected_status=expect.get("status"),
        expected_error=expect.get("error"),
        race=expect.get("race"),
        execution_arn=execution_arn,
        output=output,
        error=description.get("error"),
        cause=description.get("cause"),
        seconds=seconds_between(events),
        label=label,
        dead_letter_id=dead["id"] if dead is not None else None,
        events=events,
        **analyse(events, owner),
    )


def run_all(stack: Stack, orders: list[dict[str, Any]]) -> list[OrderReport]:
    """Start every order at once (one execution each, named after the order), then wait for all."""
    assert stack.engine is not None
    definition = json.loads(DEFINITION.read_text(encoding="utf-8"))
    owner = container_of_states(definition)
    service = stack.engine.service
    started = [
        (entry, service.start_execution(stack.state_machine_arn, entry["order"], name=entry["order"]["orderId"]))
        for entry in orders
    ]
    deadline = time.monotonic() + WAIT_TIMEOUT_SECONDS
    for _, arn in started:
        stack.engine.wait(arn, timeout=max(0.1, deadline - time.monotonic()))
    stack.stop_carrier()  # its outbox bookkeeping is complete once it has exited
    return [build_report(stack, entry, arn, owner) for entry, arn in started]


# ---- checks across orders -------------------------------------------------------------------


@dataclass
class Check:
    """One property of the whole batch: its name, whether it held and what was seen."""

    name: str
    ok: bool
    detail: str


def batch_checks(reports: list[OrderReport], stock: list[dict[str, Any]], carrier_pid: int | None) -> list[Check]:
    """Races won by exactly one order, stock that adds up and never oversold, callbacks from elsewhere."""
    checks = []
    races: dict[str, list[OrderReport]] = {}
    for report in reports:
        if report.race:
            races.setdefault(report.race, []).append(report)
    for sku, racers in races.items():
        if len(racers) < 2:
            continue
        winners = [r for r in racers if r.waits == 0]
        losers = [r for r in racers if r.waits > 0]
        detail = (
            f"{', '.join(r.order_id for r in winners) or 'nobody'} got the last {sku} at once; "
            + ", ".join(f"{r.order_id} waited {r.waits}× for the supplier" for r in losers)
        )
        checks.append(Check(f"race for the last {sku}", len(winners) == 1, detail))
    unbalanced = [row["sku"] for row in stock if not row["balanced"]]
    oversold = [row["sku"] for row in stock if row["held"] > row["initial"] + row["delivered"]]
    checks.append(Check(
        "no oversell", not unbalanced and not oversold,
        "for every SKU: initial + delivered − held = available ≥ 0"
        if not unbalanced and not oversold else f"unbalanced: {unbalanced}, oversold: {oversold}",
    ))
    labels = [r.label for r in reports if r.label is not None]
    answered = [label for label in labels if label["status"] in ("ANSWERED", "REJECTED")]
    elsewhere = [label for label in answered if label["answered_by_pid"] not in (None, os.getpid())]
    pids = sorted({label["answered_by_pid"] for label in elsewhere})
    checks.append(Check(
        "callbacks from another process",
        len(elsewhere) == len(labels) and (carrier_pid is None or pids in ([], [carrier_pid])),
        f"{len(labels)} label requests; {sum(lb['status'] == 'ANSWERED' for lb in labels)} answered with "
        f"SendTaskSuccess and {sum(lb['status'] == 'REJECTED' for lb in labels)} with SendTaskFailure by "
        f"the carrier process (pid {', '.join(map(str, pids)) or '–'}; this process is {os.getpid()})",
    ))
    return checks


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


def describe_label(label: dict[str, Any]) -> str:
    """`answered by the carrier (pid 123) with SendTaskSuccess 0.6 s after the request`."""
    after = ""
    if label.get("answered_at") and label.get("created_at"):
        after = f" {label['answered_at'] - label['created_at']:.1f} s after the request"
    if label["status"] == "ANSWERED":
        return f"label #{label['id']} answered by the carrier (pid {label['answered_by_pid']}) with SendTaskSuccess{after}"
    if label["status"] == "REJECTED":
        return (f"label #{label['id']} rejected by the carrier (pid {label['answered_by_pid']}) with "
                f"SendTaskFailure{after}")
    return f"label #{label['id']} {label['status'].lower()}"


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


def print_report(report: OrderReport, definition_states: dict[str, Any], style: Style, verbose: bool) -> None:
    width = 110
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
    print(f"{label}{'status':<9}{coloured}  {verdict}  " + style.dim(f"· {report.seconds:.1f} s"))
    indent = label + " " * 9
    for i, line in enumerate(wrap_path(path_steps(report, definition_states), width, indent)):
        print(f"{label}{'path':<9}{line}" if i == 0 else f"{indent}{line}")
    for state, errors in report.task_errors.items():
        print(f"{label}{'errors':<9}{state}: {', '.join(errors)} → {style.yellow(how_handled(report, state))}")
    if report.waits:
        print(f"{label}{'waits':<9}{report.waits}× WaitForRestock before the stock question was settled")
    if report.label is not None:
        print(f"{label}{'label':<9}{describe_label(report.label)}")
    if report.status == "SUCCEEDED":
        print(f"{label}{'receipt':<9}{describe_output(report.output)}")
    else:
        print(f"{label}{'error':<9}{style.red(report.error or '')}")
        print(f"{label}{'cause':<9}{report.cause or ''}")
    if report.dead_letter_id is not None:
        print(f"{label}{'filed':<9}dead letter #{report.dead_letter_id}")
    if verbose:
        from stateway.cli.timeline import render_timeline

        if report.output is not None:
            print(f"{label}{'output':<9}"
                  + json.dumps(report.output, indent=2, ensure_ascii=False).replace("\n", "\n" + indent))
        print(f"{label}timeline")
        for line in render_timeline(report.events).splitlines():
            print(f"{indent}{line}")
    print()


def print_table(rows: list[tuple[str, ...]], style: Style) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        line = "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
        print(style.bold(line) if index == 0 else line)
        if index == 0:
            print(style.dim("  ".join("─" * w for w in widths)))


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def print_batch(reports: list[OrderReport], stock: list[dict[str, Any]], dead: list[dict[str, Any]],
                checks: list[Check], style: Style, elapsed: float) -> None:
    print(style.bold("Warehouse (shop.db: stock)"))
    print_table([("SKU", "initial", "delivered", "held", "available")]
                + [(r["sku"], str(r["initial"]), str(r["delivered"]), str(r["held"]), str(r["available"]))
                   for r in stock], style)
    print()
    print(style.bold("Dead letters (shop.db: dead_letters)"))
    if dead:
        print_table([("#", "Order", "Error", "Cause", "Status")]
                    + [(str(d["id"]), d["order_id"], d["error"], shorten(d["cause"], 64), d["status"]) for d in dead],
                    style)
    else:
        print("(none)")
    print()
    print(style.bold("Summary"))
    rows: list[tuple[str, ...]] = [("Order", "Scenario", "Status", "Error", "Retries", "Waits", "Seconds", "OK")]
    for r in reports:
        rows.append((r.order_id, r.scenario.split(":")[0], r.status, r.error or "–", str(r.total_retries),
                     str(r.waits), f"{r.seconds:.1f}", "✔" if r.as_expected else "✘"))
    print_table(rows, style)
    print()
    for check in checks:
        mark = style.green("✔") if check.ok else style.red("✘")
        print(f"{mark} {check.name}: {check.detail}")
    matched = sum(r.as_expected for r in reports)
    verdict = f"{matched}/{len(reports)} orders ended as expected"
    print(style.green(verdict) if matched == len(reports) else style.red(verdict), end="")
    print(style.dim(f" · {elapsed:.1f} s for the batch"))


def shown(path: Path) -> str:
    """A path relative to the current directory when it lies below it (shorter to copy), else absolute."""
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# ---- main ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the order-fulfilment example on the durable engine.")
    parser.add_argument("--orders", type=Path, default=ORDERS, help="JSON list of scenarios (default: orders.json)")
    parser.add_argument("--order", action="append", metavar="ORDER_ID", help="run only this order (repeatable)")
    parser.add_argument("--run-dir", type=Path, metavar="DIR",
                        help="use DIR, which must be new or empty, instead of .stateway/demo-<timestamp>")
    parser.add_argument("--verbose", action="store_true", help="also print each full output and timeline")
    parser.add_argument("--json", action="store_true", help="print the reports as JSON, for scripts and tests")
    args = parser.parse_args(argv)

    orders = json.loads(args.orders.read_text(encoding="utf-8"))
    if args.order:
        orders = [o for o in orders if o["order"]["orderId"] in set(args.order)]
        if not orders:
            print(f"no order named {', '.join(args.order)} in {args.orders}", file=sys.stderr)
            return 2
    if args.run_dir is not None:
        # A run's stock, orders and dead letters are its own: a second batch on them would start
        # executions named like the first's and find the stock the first took.
        if args.run_dir.exists() and (not args.run_dir.is_dir() or any(args.run_dir.iterdir())):
            print(f"--run-dir {args.run_dir} is not a new or empty directory: each run needs its own",
                  file=sys.stderr)
            return 2
        args.run_dir.mkdir(parents=True, exist_ok=True)
        run_dir = args.run_dir.resolve()
    else:
        run_dir = new_run_dir()
    style = Style(sys.stdout.isatty() and "NO_COLOR" not in os.environ and not args.json)
    if not args.json:
        print(style.bold("stateway · order fulfilment on the durable engine"))
        print(style.dim(f"{len(orders)} orders at once through {DEFINITION.relative_to(HERE.parent.parent)}; "
                        f"engine and shop databases in {run_dir}\n"))
    began = time.monotonic()
    with Stack(run_dir) as stack:
        reports = run_all(stack, orders)
        carrier_pid = stack.carrier_pid
    elapsed = time.monotonic() - began
    db = shop.connect(run_dir / "shop.db")
    stock = shop.stock_ledger(db)
    dead = shop.dead_letters(db)
    db.close()
    checks = batch_checks(reports, stock, carrier_pid)
    ok = all(r.as_expected for r in reports) and all(c.ok for c in checks)

    if args.json:
        body = {
            "run_dir": str(run_dir),
            "engine_db": f"sqlite:///{run_dir / 'engine.db'}",
            "demo_pid": os.getpid(),
            "carrier_pid": carrier_pid,
            "seconds": elapsed,
            "orders": [
                {**{k: v for k, v in asdict(r).items() if k != "events"},
                 "as_expected": r.as_expected, "total_retries": r.total_retries}
                for r in reports
            ],
            "stock": stock,
            "dead_letters": dead,
            "checks": [asdict(c) for c in checks],
            "ok": ok,
        }
        print(json.dumps(body, indent=2, ensure_ascii=False))
        return 0 if ok else 1

    definition_states = json.loads(DEFINITION.read_text(encoding="utf-8"))["States"]
    for report in reports:
        print_report(report, definition_states, style, args.verbose)
    print_batch(reports, stock, dead, checks, style, elapsed)
    python, tool = shown(Path(sys.executable)), shown(HERE / "dead_letters.py")
    # `--run` always: dead_letters.py's default is the newest .stateway/demo-*, which is not this run's
    # directory when --run-dir named another, nor once a later run has started.
    print(style.dim(f"\nInspect and retry the dead letters of this run: {python} {tool} --run {shown(run_dir)} "
                    "list | show ID | retry ID"))
    print(style.dim(f"Run directory: {shown(run_dir)}"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
