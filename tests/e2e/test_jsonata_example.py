"""The JSONata-with-variables example from docs/jsonata.md runs and prices the order as documented."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "jsonata_variables"


def test_invoice_example_prices_the_order() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "stateway.cli.main", "run", str(EXAMPLE / "invoice.asl.json"),
         "--input-file", str(EXAMPLE / "input.json"), "--functions", str(EXAMPLE / "functions"),
         "--in-memory", "--name", "order-7f3a9c21", "--json"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["status"] == "SUCCEEDED"
    output = json.loads(body["output"])
    assert output["subtotal"] == 135 and output["discount"] == 13.5 and output["total"] == 121.5
    assert output["reference"] == "INV-ORDER-7F" and output["currency"] == "EUR"
    assert [line["line"] for line in output["lines"]] == [1, 2, 3]
    assigned = [e["stateExitedEventDetails"].get("assignedVariables") for e in body["events"]
                if e["type"] == "ChoiceStateExited"]
    assert assigned == [{"discount": "13.5"}]


def test_a_silver_customer_gets_no_discount(tmp_path: Path) -> None:
    order = json.loads((EXAMPLE / "input.json").read_text())
    order["customer"]["tier"] = "silver"
    done = subprocess.run(
        [sys.executable, "-m", "stateway.cli.main", "run", str(EXAMPLE / "invoice.asl.json"),
         "--input", json.dumps(order), "--functions", str(EXAMPLE / "functions"), "--in-memory", "--json"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    output = json.loads(json.loads(done.stdout)["output"])
    assert output["discount"] == 0 and output["total"] == 135
