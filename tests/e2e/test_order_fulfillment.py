"""The order-fulfilment example end to end: the demo script and the `stateway run` CLI as subprocesses."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
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


def _run(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)


def _stateway() -> list[str]:
    # The console script sits next to the interpreter in a venv; fall back to the module otherwise.
    script = Path(sys.executable).parent / "stateway"
    return [str(script)] if script.exists() else [sys.executable, "-m", "stateway.cli.main"]


def _order(order_id: str) -> dict[str, Any]:
    scenarios = json.loads((EXAMPLE / "orders.json").read_text(encoding="utf-8"))
    return next(s["order"] for s in scenarios if s["order"]["orderId"] == order_id)


@pytest.fixture(scope="module")
def reports() -> dict[str, dict[str, Any]]:
    """Every sample order's report from `run_demo.py --json`, keyed by order id."""
    done = _run([sys.executable, str(DEMO), "--json"])
    assert done.returncode == 0, done.stderr or done.stdout
    return {report["order_id"]: report for report in json.loads(done.stdout)}


def test_the_demo_covers_every_sample_order_and_each_ends_as_expected(
    reports: dict[str, dict[str, Any]],
) -> None:
    assert sorted(reports) == ["ORD-1001", "ORD-1002", "ORD-1003", "ORD-1004", "ORD-1005", "ORD-1006"]
    assert all(r["as_expected"] for r in reports.values())


def test_happy_path_visits_every_main_state_once_without_retries(reports: dict[str, dict[str, Any]]) -> None:
    report = reports["ORD-1001"]
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
    assert output["charged"]["amount"] == 44.85
    assert output["charged"]["gatewayAttempts"] == 1
    assert output["parcels"] == 1 and output["restockChecks"] == 0
    assert output["ledgerEntry"]["transactionId"] == output["charged"]["transactionId"]
    assert output["shipment"]["carrier"] == "DHL Paket"


def test_flaky_payment_is_retried_twice_with_exponential_backoff_then_succeeds(
    reports: dict[str, dict[str, Any]],
) -> None:
    report = reports["ORD-1002"]
    assert report["status"] == "SUCCEEDED"
    assert report["path"] == HAPPY_PATH
    assert report["retries"] == {"VerifyPayment": 2}
    assert report["task_errors"] == {"VerifyPayment": ["PaymentTimeout", "PaymentTimeout"]}
    assert report["output"]["charged"]["gatewayAttempts"] == 3
    # IntervalSeconds 2, BackoffRate 2: 2 s then 4 s of virtual back-off.
    assert 6 <= report["virtual_seconds"] < 7


def test_declined_card_is_not_retried_and_cancels_the_order_in_parallel(
    reports: dict[str, dict[str, Any]],
) -> None:
    report = reports["ORD-1003"]
    assert report["status"] == "FAILED"
    assert report["error"] == "PaymentFailed"
    assert "ORD-1003" in report["cause"] and "PaymentDeclined" in report["cause"]
    assert report["path"] == ["ValidateOrder", "VerifyPayment", "PaymentFailed", "OrderCancelled"]
    assert sorted(report["inner_states"]["PaymentFailed"]) == ["CancelOrder", "NotifyPaymentFailure"]
    assert report["task_errors"] == {"VerifyPayment": ["PaymentDeclined"]}
    assert report["retries"] == {}
    assert "ReserveInventory" not in report["states_entered"]
    assert report["output"] is None


def test_back_order_waits_twice_then_ships(reports: dict[str, dict[str, Any]]) -> None:
    report = reports["ORD-1004"]
    assert report["status"] == "SUCCEEDED"
    assert report["waits"] == 2
    assert report["path"] == HAPPY_PATH[:3] + RESTOCK_LOOP * 2 + HAPPY_PATH[3:]
    assert report["output"]["restockChecks"] == 2
    # Two one-day waits on the virtual clock, finished in well under the test's timeout.
    assert 2 * 86_400 <= report["virtual_seconds"] < 2 * 86_400 + 60


def test_back_order_that_never_arrives_escalates_after_three_checks(
    reports: dict[str, dict[str, Any]],
) -> None:
    report = reports["ORD-1005"]
    assert report["status"] == "FAILED"
    assert report["error"] == "BackorderEscalated"
    assert "LAMP-RETRO" in report["cause"] and "3 restock checks" in report["cause"]
    assert report["waits"] == 3
    assert report["path"] == HAPPY_PATH[:3] + RESTOCK_LOOP * 3 + [
        "ReserveInventory",
        "IsEverythingInStock",
        "DescribeEscalation",
        "EscalateBackorder",
    ]
    assert "PackItems" not in report["states_entered"]


def test_multi_line_order_packs_each_line_with_at_most_two_at_a_time(
    reports: dict[str, dict[str, Any]],
) -> None:
    report = reports["ORD-1006"]
    assert report["status"] == "SUCCEEDED"
    assert report["path"] == HAPPY_PATH
    assert Counter(report["states_entered"])["PackLine"] == 4
    assert report["map_peak_concurrency"] == {"PackItems": 2}
    output = report["output"]
    assert output["parcels"] == 4
    # 2 books (650 g) + 1 mug (420 g) + 2 shirts (220 g) + 5 sticker packs (30 g).
    assert output["shipment"]["weightGrams"] == 2 * 650 + 420 + 2 * 220 + 5 * 30
    assert output["shipment"]["carrier"] == "UPS Worldwide"


def test_the_human_readable_demo_prints_each_order_and_a_summary() -> None:
    done = _run([sys.executable, str(DEMO)])
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for order_id in ("ORD-1001", "ORD-1002", "ORD-1003", "ORD-1004", "ORD-1005", "ORD-1006"):
        assert re.search(rf"^── {order_id} · ", out, re.MULTILINE), order_id
        assert re.search(rf"^{order_id}\s+\S", out, re.MULTILINE), f"{order_id} missing from the summary"
    assert "VerifyPayment: PaymentTimeout, PaymentTimeout → retried 2×, then succeeded" in out
    assert "VerifyPayment: PaymentDeclined → caught → PaymentFailed" in out
    assert "6/6 orders ended as expected" in out
    assert "\033[" not in out  # no colour codes when stdout is not a terminal


def test_every_task_resource_has_a_function_and_the_definition_validates() -> None:
    definition = json.loads(DEFINITION.read_text(encoding="utf-8"))
    resources = set(re.findall(r"function:([A-Za-z0-9_]+)", json.dumps(definition)))
    assert resources == {path.stem for path in FUNCTIONS.glob("*.py")}
    done = _run([*_stateway(), "validate", str(DEFINITION)])
    assert done.returncode == 0 and "OK" in done.stdout, done.stdout + done.stderr


def _cli_run(order_id: str) -> dict[str, Any]:
    database = Path(tempfile.mkdtemp(prefix="stateway-e2e-")) / "cli.db"
    done = _run(
        [
            *_stateway(),
            "run",
            str(DEFINITION),
            "--db",
            f"sqlite:///{database}",
            "--functions",
            str(FUNCTIONS),
            "--name",
            order_id,
            "--input",
            json.dumps(_order(order_id)),
            "--json",
        ]
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_cli_run_json_describes_a_retried_order_like_describe_execution() -> None:
    body = _cli_run("ORD-1002")
    assert body["status"] == "SUCCEEDED"
    assert body["name"] == "ORD-1002"
    assert body["stateMachineArn"] == "arn:aws:states:us-east-1:123456789012:stateMachine:order_fulfillment"
    assert (
        body["executionArn"] == "arn:aws:states:us-east-1:123456789012:execution:order_fulfillment:ORD-1002"
    )
    assert json.loads(body["input"]) == _order("ORD-1002")
    assert body["inputDetails"] == {"included": True} and body["outputDetails"] == {"included": True}
    assert "error" not in body and "cause" not in body
    assert body["startDate"] <= body["stopDate"]
    output = json.loads(body["output"])
    assert output["orderId"] == "ORD-1002" and output["charged"]["gatewayAttempts"] == 3

    events = body["events"]
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "ExecutionStarted" and events[-1]["type"] == "ExecutionSucceeded"
    failures = [e for e in events if e["type"] == "LambdaFunctionFailed"]
    assert [e["lambdaFunctionFailedEventDetails"]["error"] for e in failures] == ["PaymentTimeout"] * 2
    cause = json.loads(failures[0]["lambdaFunctionFailedEventDetails"]["cause"])
    assert cause["errorType"] == "PaymentTimeout" and "did not answer" in cause["errorMessage"]
    scheduled = [e for e in events if e["type"] == "LambdaFunctionScheduled"]
    payment_calls = [
        e
        for e in scheduled
        if e["lambdaFunctionScheduledEventDetails"]["resource"].endswith(":verify_payment")
    ]
    assert [
        json.loads(e["lambdaFunctionScheduledEventDetails"]["input"])["attempt"] for e in payment_calls
    ] == [
        0,
        1,
        2,
    ]


def test_cli_run_json_reports_a_failed_order_with_error_and_cause() -> None:
    body = _cli_run("ORD-1003")
    assert body["status"] == "FAILED"
    assert body["error"] == "PaymentFailed"
    assert body["cause"] == "Order ORD-1003 was cancelled: payment failed with PaymentDeclined"
    assert "output" not in body
    events = body["events"]
    assert events[-1]["type"] == "ExecutionFailed"
    assert events[-1]["executionFailedEventDetails"] == {"error": body["error"], "cause": body["cause"]}
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]
    assert {"NotifyPaymentFailure", "CancelOrder"} <= set(entered)
    assert entered[-1] == "OrderCancelled"
