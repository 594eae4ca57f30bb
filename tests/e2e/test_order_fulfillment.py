"""The order-fulfilment case study end to end: the demo on the durable engine, its carrier process,
the dead-letter tool and `stateway run --in-memory`, all driven as subprocesses."""

from __future__ import annotations

import json
import os
import re
import shlex
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "order_fulfillment"
DEFINITION = EXAMPLE / "order_fulfillment.asl.json"
FUNCTIONS = EXAMPLE / "functions"
DEMO = EXAMPLE / "run_demo.py"
DEAD_LETTERS = EXAMPLE / "dead_letters.py"
SHOP = EXAMPLE / "shop.py"
ORDER_IDS = [f"ORD-{n}" for n in range(1001, 1010)]

HAPPY_PATH = [
    "ValidateOrder",
    "VerifyPayment",
    "StartRestockTracking",
    "ReserveInventory",
    "IsEverythingInStock",
    "PackItems",
    "CreateShippingLabel",
    "CompleteOrder",
    "BuildReceipt",
    "OrderFulfilled",
]
RESTOCK_LOOP = ["ReserveInventory", "IsEverythingInStock", "WaitForRestock", "CountRestockCheck"]
PAYMENT_FAILED_PATH = ["ValidateOrder", "VerifyPayment", "PaymentFailed", "RecordDeadLetter", "OrderFailed"]


def _run(args: list[str], timeout: float = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False,
                          env={**os.environ, **(env or {})})


def _stateway() -> list[str]:
    # The console script sits next to the interpreter in a venv; fall back to the module otherwise.
    script = Path(sys.executable).parent / "stateway"
    return [str(script)] if script.exists() else [sys.executable, "-m", "stateway.cli.main"]


def _order(order_id: str) -> dict[str, Any]:
    scenarios = json.loads((EXAMPLE / "orders.json").read_text(encoding="utf-8"))
    return next(s["order"] for s in scenarios if s["order"]["orderId"] == order_id)


def _shop(run_dir: Path) -> sqlite3.Connection:
    db = sqlite3.connect(run_dir / "shop.db")
    db.row_factory = sqlite3.Row
    return db


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One run of `run_demo.py --json` on a fresh run directory; the human-readable run goes alongside."""
    run_dir = tmp_path_factory.mktemp("demo") / "run"
    text_dir = tmp_path_factory.mktemp("demo-text") / "run"
    # The two runs are independent (own databases, own carrier), so they share the wall-clock time.
    text: dict[str, subprocess.CompletedProcess[str]] = {}
    thread = threading.Thread(target=lambda: text.update(done=_run([sys.executable, str(DEMO), "--run-dir",
                                                                    str(text_dir)])))
    thread.start()
    done = _run([sys.executable, str(DEMO), "--json", "--run-dir", str(run_dir)])
    thread.join()
    assert done.returncode == 0, done.stderr or done.stdout
    body = json.loads(done.stdout)
    body["reports"] = {report["order_id"]: report for report in body["orders"]}
    body["run_path"] = Path(body["run_dir"])
    body["text"] = text["done"]
    body["text_dir"] = text_dir
    return body


def test_every_order_ends_as_orders_json_says_and_every_batch_check_holds(demo: dict[str, Any]) -> None:
    assert list(demo["reports"]) == ORDER_IDS
    assert all(r["as_expected"] for r in demo["reports"].values())
    assert demo["ok"] is True
    assert {c["name"]: c["ok"] for c in demo["checks"]} == {
        "race for the last HOODIE-L": True,
        "no oversell": True,
        "callbacks from another process": True,
    }
    # Real seconds of Waits and back-off, yet the whole batch stays well under a minute.
    assert demo["seconds"] < 45
    assert (demo["run_path"] / "engine.db").is_file() and (demo["run_path"] / "shop.db").is_file()


def test_happy_path_visits_every_main_state_once_and_the_carrier_labels_it(demo: dict[str, Any]) -> None:
    report = demo["reports"]["ORD-1001"]
    assert report["status"] == "SUCCEEDED"
    assert report["path"] == HAPPY_PATH
    assert report["inner_states"] == {
        "PackItems": ["PackLine"],
        "CompleteOrder": ["NotifyCustomerShipped", "RecordCompletion"],
    }
    assert report["retries"] == {} and report["task_errors"] == {} and report["waits"] == 0
    output = report["output"]
    assert output["status"] == "FULFILLED"
    # 39.90 is under the free-shipping threshold, so the 4.95 fee is charged.
    assert output["charged"]["amount"] == 44.85 and output["charged"]["gatewayAttempts"] == 1
    assert output["ledgerEntry"]["transactionId"] == output["charged"]["transactionId"]
    assert output["shipment"]["carrier"] == "DHL Paket"
    assert report["label"]["status"] == "ANSWERED"
    assert report["label"]["answer"]["trackingNumber"] == output["shipment"]["trackingNumber"]
    with _shop(demo["run_path"]) as db:
        completion = db.execute("SELECT * FROM completions WHERE order_id = 'ORD-1001'").fetchone()
        templates = [r[0] for r in db.execute("SELECT template FROM notifications WHERE order_id = 'ORD-1001'")]
    assert completion["execution_arn"] == report["execution_arn"]
    assert templates == ["order-shipped"]


def test_a_hanging_gateway_is_a_timeout_retried_with_backoff_then_authorised(demo: dict[str, Any]) -> None:
    report = demo["reports"]["ORD-1002"]
    assert report["status"] == "SUCCEEDED" and report["path"] == HAPPY_PATH
    assert report["task_errors"] == {"VerifyPayment": ["States.Timeout", "States.Timeout"]}
    assert report["retries"] == {"VerifyPayment": 2}
    assert report["output"]["charged"]["gatewayAttempts"] == 3
    # Two 2 s timeouts plus 1 s and 2 s of back-off, measured on the wall clock.
    assert report["seconds"] >= 6.5


def test_a_declined_card_is_not_retried_and_is_cancelled_notified_and_filed(demo: dict[str, Any]) -> None:
    report = demo["reports"]["ORD-1003"]
    assert report["status"] == "FAILED" and report["error"] == "PaymentFailed"
    assert report["cause"] == "Order ORD-1003 was cancelled: payment failed with PaymentDeclined"
    assert report["path"] == PAYMENT_FAILED_PATH
    assert sorted(report["inner_states"]["PaymentFailed"]) == ["CancelOrder", "NotifyPaymentFailure"]
    assert report["task_errors"] == {"VerifyPayment": ["PaymentDeclined"]} and report["retries"] == {}
    assert report["dead_letter_id"] is not None and report["label"] is None


def test_a_gateway_that_keeps_failing_goes_to_payment_failed_after_three_failures(demo: dict[str, Any]) -> None:
    report = demo["reports"]["ORD-1004"]
    assert report["status"] == "FAILED" and report["error"] == "PaymentFailed"
    assert report["task_errors"] == {"VerifyPayment": ["States.Timeout", "PaymentGatewayError", "PaymentGatewayError"]}
    assert report["retries"] == {"VerifyPayment": 2}
    assert report["path"] == PAYMENT_FAILED_PATH
    assert "PaymentGatewayError" in report["cause"]
    assert report["dead_letter_id"] is not None


def test_two_orders_race_for_the_last_hoodie_and_exactly_one_gets_it(demo: dict[str, Any]) -> None:
    racers = [demo["reports"]["ORD-1005"], demo["reports"]["ORD-1006"]]
    assert all(r["status"] == "SUCCEEDED" for r in racers)
    winner = next(r for r in racers if r["waits"] == 0)
    loser = next(r for r in racers if r["waits"] > 0)
    assert winner["path"] == HAPPY_PATH
    assert loser["path"] == HAPPY_PATH[:3] + RESTOCK_LOOP * loser["waits"] + HAPPY_PATH[3:]
    assert loser["output"]["restockChecks"] == loser["waits"]
    with _shop(demo["run_path"]) as db:
        reservations = db.execute(
            "SELECT order_id, created_at FROM reservations WHERE sku = 'HOODIE-L' ORDER BY created_at").fetchall()
        purchase = db.execute("SELECT * FROM purchase_orders WHERE sku = 'HOODIE-L'").fetchall()
    # The winner took the one unit; the loser was back-ordered, which raised the purchase order, and
    # got a unit only after the supplier (the carrier process) delivered.
    assert [r["order_id"] for r in reservations] == [winner["order_id"], loser["order_id"]]
    assert len(purchase) == 1 and purchase[0]["requested_by"] == loser["order_id"]
    assert reservations[0]["created_at"] < purchase[0]["delivered_at"] < reservations[1]["created_at"]
    hoodie = next(row for row in demo["stock"] if row["sku"] == "HOODIE-L")
    assert hoodie == {"sku": "HOODIE-L", "initial": 1, "delivered": 30, "held": 2, "available": 29, "balanced": True}
    assert all(row["balanced"] and row["available"] >= 0 for row in demo["stock"])


def test_the_conditional_update_never_oversells_under_many_threads(tmp_path: Path) -> None:
    """Thirty buyers on thirty connections race for five units: exactly five reservations succeed."""
    sys.path.insert(0, str(EXAMPLE))
    try:
        import shop
    finally:
        sys.path.remove(str(EXAMPLE))
    path = tmp_path / "shop.db"
    db = shop.connect(path)
    db.execute("UPDATE stock SET available = 5, initial = 5 WHERE sku = 'LAMP-RETRO'")
    outcomes: list[str] = []
    barrier = threading.Barrier(30)

    def buyer(n: int) -> None:
        mine = shop.connect(path)
        barrier.wait()
        try:
            shop.reserve(mine, reservation_id=f"r{n}", execution_arn=f"x{n}", order_id=f"o{n}",
                         lines=[{"sku": "LAMP-RETRO", "quantity": 1}])
            outcomes.append("reserved")
        except shop.OutOfStock:
            outcomes.append("backordered")

    threads = [threading.Thread(target=buyer, args=(n,)) for n in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Counter(outcomes) == {"reserved": 5, "backordered": 25}
    assert db.execute("SELECT available FROM stock WHERE sku = 'LAMP-RETRO'").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM reservations").fetchone()[0] == 5


def test_a_back_order_that_never_arrives_escalates_and_holds_nothing(demo: dict[str, Any]) -> None:
    report = demo["reports"]["ORD-1007"]
    assert report["status"] == "FAILED" and report["error"] == "BackorderEscalated"
    assert "LAMP-RETRO" in report["cause"] and "3 restock checks" in report["cause"]
    assert report["waits"] == 3
    assert report["path"] == HAPPY_PATH[:3] + RESTOCK_LOOP * 3 + [
        "ReserveInventory", "IsEverythingInStock", "DescribeEscalation", "RecordDeadLetter", "OrderFailed"]
    with _shop(demo["run_path"]) as db:
        # The sticker line fitted, but all lines go in one transaction: nothing was kept.
        assert db.execute("SELECT COUNT(*) FROM reservations WHERE order_id = 'ORD-1007'").fetchone()[0] == 0


def test_a_big_basket_packs_each_line_with_at_most_two_at_a_time(demo: dict[str, Any]) -> None:
    report = demo["reports"]["ORD-1008"]
    assert report["status"] == "SUCCEEDED" and report["path"] == HAPPY_PATH
    assert Counter(report["states_entered"])["PackLine"] == 4
    assert report["map_peak_concurrency"] == {"PackItems": 2}
    output = report["output"]
    assert output["parcels"] == 4
    # 2 books (650 g) + 1 mug (420 g) + 2 shirts (220 g) + 5 sticker packs (30 g), weighed by the carrier.
    assert output["shipment"]["weightGrams"] == 2 * 650 + 420 + 2 * 220 + 5 * 30
    assert output["shipment"]["carrier"] == "UPS Worldwide"


def test_a_label_the_carrier_rejects_goes_down_the_error_path_and_releases_the_stock(demo: dict[str, Any]) -> None:
    report = demo["reports"]["ORD-1009"]
    assert report["status"] == "FAILED" and report["error"] == "AddressRejected"
    assert "1446" in report["cause"]
    assert report["task_errors"] == {"CreateShippingLabel": ["AddressRejected"]}
    assert report["path"] == HAPPY_PATH[:7] + ["RecordDeadLetter", "OrderFailed"]
    assert report["label"]["status"] == "REJECTED"
    with _shop(demo["run_path"]) as db:
        statuses = [r[0] for r in db.execute("SELECT status FROM reservations WHERE order_id = 'ORD-1009'")]
    assert statuses == ["RELEASED"]


def test_labels_are_answered_from_the_carrier_process_through_the_cli(demo: dict[str, Any]) -> None:
    carrier_pid, demo_pid = demo["carrier_pid"], demo["demo_pid"]
    assert carrier_pid and carrier_pid != demo_pid
    labels = [r["label"] for r in demo["reports"].values() if r["label"] is not None]
    assert len(labels) == 6
    assert {label["answered_by_pid"] for label in labels} == {carrier_pid}
    log = (demo["run_path"] / "carrier.log").read_text(encoding="utf-8")
    assert log.count(": ANSWERED") == 5 and log.count(": REJECTED") == 1
    assert "supplier delivered 30 × HOODIE-L" in log

    arn = demo["reports"]["ORD-1001"]["execution_arn"]
    done = _run([*_stateway(), "executions", "history", arn, "--db", demo["engine_db"], "--json"])
    assert done.returncode == 0, done.stderr
    events = json.loads(done.stdout)["events"]
    # Only the label task is a service integration (Task* events); the rest are Lambda ARNs.
    label_events = [e for e in events if e["type"].startswith("Task") and not e["type"].startswith("TaskState")]
    assert [e["type"] for e in label_events] == ["TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded"]
    scheduled = label_events[0]["taskScheduledEventDetails"]
    assert (scheduled["resourceType"], scheduled["resource"]) == ("lambda", "invoke.waitForTaskToken")
    answer = json.loads(label_events[-1]["taskSucceededEventDetails"]["output"])
    assert answer["labelledBy"] == {"process": "carrier", "pid": carrier_pid}


def test_dead_letters_refuse_a_run_directory_without_both_databases(tmp_path: Path) -> None:
    """A directory that holds the shop's database but not the engine's is no demo run: the tool says so
    and leaves no empty engine database behind."""
    (tmp_path / "shop.db").write_bytes(b"")
    for command in (["show", "1"], ["retry", "1", "--no-wait"]):
        done = _run([sys.executable, str(DEAD_LETTERS), "--run", str(tmp_path), *command])
        assert done.returncode == 2 and "no engine.db" in done.stderr, done.stderr
    assert not (tmp_path / "engine.db").exists()


def test_dead_letters_can_be_listed_shown_and_retried(demo: dict[str, Any]) -> None:
    run = ["--run", str(demo["run_path"])]
    listed = _run([sys.executable, str(DEAD_LETTERS), *run, "--json", "list"])
    assert listed.returncode == 0, listed.stderr
    letters = {row["order_id"]: row for row in json.loads(listed.stdout)}
    assert {k: v["error"] for k, v in letters.items()} == {
        "ORD-1003": "PaymentFailed", "ORD-1004": "PaymentFailed",
        "ORD-1007": "BackorderEscalated", "ORD-1009": "AddressRejected"}
    for order_id, row in letters.items():
        assert row["status"] == "OPEN"
        assert row["execution_arn"] == demo["reports"][order_id]["execution_arn"]
        assert row["cause"] == demo["reports"][order_id]["cause"]
        assert json.loads(row["input"]) == _order(order_id)

    lamp = letters["ORD-1007"]["id"]
    shown = _run([sys.executable, str(DEAD_LETTERS), *run, "show", str(lamp)])
    assert shown.returncode == 0 and "BackorderEscalated" in shown.stdout and "(FAILED)" in shown.stdout

    # The lamps arrive; a person books them in and retries the order: it now ships.
    restocked = _run([sys.executable, str(SHOP), *run, "restock", "LAMP-RETRO", "1"])
    assert restocked.returncode == 0 and "1 available" in restocked.stdout
    retried = _run([sys.executable, str(DEAD_LETTERS), *run, "--json", "retry", str(lamp)])
    assert retried.returncode == 0, retried.stderr + retried.stdout
    result = json.loads(retried.stdout)
    assert result["status"] == "SUCCEEDED" and result["name"] == "ORD-1007-retry-1"
    assert result["executionArn"].endswith(":order-fulfillment:ORD-1007-retry-1")
    assert result["output"]["parcels"] == 2 and result["newDeadLetterId"] is None
    # The order has shipped: retrying its dead letter again would ship (and charge) it twice, so it is refused.
    twice = _run([sys.executable, str(DEAD_LETTERS), *run, "retry", str(lamp), "--no-wait"])
    assert twice.returncode == 2 and twice.stdout == ""
    assert twice.stderr == (f"dead letter #{lamp} was retried already as ORD-1007-retry-1 (`show {lamp}` says how "
                            "it went)\n")

    # A declined card stays declined: the retry fails again and is filed as a new dead letter.
    declined = letters["ORD-1003"]["id"]
    again = _run([sys.executable, str(DEAD_LETTERS), *run, "--json", "retry", str(declined)])
    assert again.returncode == 1
    filed = json.loads(again.stdout)["newDeadLetterId"]
    assert filed is not None
    twice = _run([sys.executable, str(DEAD_LETTERS), *run, "retry", str(declined)])
    assert twice.returncode == 2 and twice.stderr == (f"dead letter #{declined} was retried already as "
                                                      f"ORD-1003-retry-1, which failed too: retry its dead letter "
                                                      f"#{filed}\n")

    after = json.loads(_run([sys.executable, str(DEAD_LETTERS), *run, "--json", "list"]).stdout)
    by_id = {row["id"]: row for row in after}
    assert by_id[lamp]["status"] == "RETRIED" and by_id[lamp]["retried_as"] == result["executionArn"]
    assert len(after) == 5 and after[-1]["execution_arn"].endswith(":ORD-1003-retry-1")


def test_the_human_readable_demo_prints_each_order_the_tables_and_a_summary(demo: dict[str, Any]) -> None:
    done = demo["text"]
    assert done.returncode == 0, done.stderr + done.stdout
    out = done.stdout
    for order_id in ORDER_IDS:
        assert re.search(rf"^── {order_id} · ", out, re.MULTILINE), order_id
        assert re.search(rf"^{order_id}\s+\S", out, re.MULTILINE), f"{order_id} missing from the summary"
    assert "VerifyPayment: States.Timeout, States.Timeout → retried 2×, then succeeded" in out
    assert "VerifyPayment: PaymentDeclined → caught → PaymentFailed" in out
    assert "CreateShippingLabel: AddressRejected → caught → RecordDeadLetter" in out
    assert "with SendTaskSuccess" in out and "rejected by the carrier" in out
    assert "Dead letters (shop.db: dead_letters)" in out and "Warehouse (shop.db: stock)" in out
    assert "✔ no oversell" in out and "✔ race for the last HOODIE-L" in out
    assert "9/9 orders ended as expected" in out
    assert "\033[" not in out  # no colour codes when stdout is not a terminal
    # The dead-letter command it prints lists this run's dead letters, wherever --run-dir put them.
    hint = re.search(r"^Inspect and retry the dead letters of this run: (.*) list \| show ID \| retry ID$", out,
                     re.MULTILINE)
    assert hint is not None, out
    listed = _run([*shlex.split(hint.group(1)), "--json", "list"])
    assert listed.returncode == 0, listed.stderr
    assert {row["order_id"] for row in json.loads(listed.stdout)} == {"ORD-1003", "ORD-1004", "ORD-1007", "ORD-1009"}


def test_every_task_resource_has_a_function_and_the_definition_validates() -> None:
    definition = json.loads(DEFINITION.read_text(encoding="utf-8"))
    resources = set(re.findall(r"function:([A-Za-z0-9_]+)", json.dumps(definition)))
    assert resources == {path.stem for path in FUNCTIONS.glob("*.py")}
    done = _run([*_stateway(), "validate", str(DEFINITION)])
    assert done.returncode == 0 and "OK" in done.stdout, done.stdout + done.stderr


def test_cli_run_in_memory_json_reports_a_declined_order_and_files_it(tmp_path: Path) -> None:
    shop_db = tmp_path / "shop.db"
    done = _run(
        [*_stateway(), "run", str(DEFINITION), "--in-memory", "--functions", str(FUNCTIONS),
         "--name", "ORD-1003", "--input", json.dumps(_order("ORD-1003")), "--json"],
        env={"ORDER_SHOP_DB": str(shop_db)},
    )
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["status"] == "FAILED" and body["name"] == "ORD-1003"
    assert body["error"] == "PaymentFailed"
    assert body["cause"] == "Order ORD-1003 was cancelled: payment failed with PaymentDeclined"
    assert "output" not in body
    events = body["events"]
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["type"] == "ExecutionFailed"
    assert events[-1]["executionFailedEventDetails"] == {"error": body["error"], "cause": body["cause"]}
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]
    assert {"NotifyPaymentFailure", "CancelOrder"} <= set(entered)
    assert entered[-2:] == ["RecordDeadLetter", "OrderFailed"]
    with sqlite3.connect(shop_db) as db:
        rows = db.execute("SELECT order_id, error, execution_arn FROM dead_letters").fetchall()
    assert rows == [("ORD-1003", "PaymentFailed", body["executionArn"])]


def test_the_demo_takes_a_new_or_empty_run_dir_and_refuses_one_that_holds_a_run(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    first = _run([sys.executable, str(DEMO), "--json", "--order", "ORD-1003", "--run-dir", str(run_dir)])
    assert first.returncode == 0, first.stderr or first.stdout
    assert json.loads(first.stdout)["orders"][0]["status"] == "FAILED"
    held = sorted((path.name, path.stat().st_mtime_ns) for path in run_dir.iterdir())
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    for taken in (run_dir, a_file):
        again = _run([sys.executable, str(DEMO), "--json", "--order", "ORD-1003", "--run-dir", str(taken)])
        assert (again.returncode, again.stdout) == (2, "")
        assert again.stderr == f"--run-dir {taken} is not a new or empty directory: each run needs its own\n"
    assert sorted((path.name, path.stat().st_mtime_ns) for path in run_dir.iterdir()) == held
    assert a_file.read_text() == "mine"
