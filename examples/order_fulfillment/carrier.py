"""The carrier and the warehouse's supplier, simulated in a process of their own.

    python carrier.py --shop RUN/shop.db --db sqlite:///RUN/engine.db

The carrier polls the label outbox in shop.db (where CreateShippingLabel left each request with its
task token), "prints" a label after a short delay and answers the waiting execution from this
process, as a real carrier's webhook would: `stateway send-task-success --task-token … --output …
--db …`, or `stateway send-task-failure` for an address it cannot deliver to. The supplier delivers
purchase orders (raised when an order was back-ordered) once their lead time has passed.
run_demo.py starts this script with subprocess and stops it at the end; it also stops by itself
when its parent goes away.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import shop

# Domestic parcels go with the national post; everything else with an international courier.
HOME_COUNTRY = "DE"
# What the carrier checks before it accepts a parcel: the postal code's shape per country.
POSTAL_CODES = {
    "DE": (r"\d{5}", "German postal codes have five digits"),
    "FR": (r"\d{5}", "French postal codes have five digits"),
    "NL": (r"\d{4} ?[A-Z]{2}", "Dutch postal codes are four digits and two letters"),
}


def stateway_command() -> list[str]:
    """The `stateway` console script next to this interpreter, or the module if there is none."""
    script = Path(sys.executable).parent / "stateway"
    return [str(script)] if script.exists() else [sys.executable, "-m", "stateway.cli.main"]


def rejection(address: dict[str, Any]) -> str | None:
    """Why the carrier cannot take the parcel, or None if it can."""
    country, postal_code = address.get("country"), str(address.get("postalCode") or "")
    if not country or not postal_code:
        return "the address needs a postal code and a country"
    rule = POSTAL_CODES.get(country)
    if rule is not None and not re.fullmatch(rule[0], postal_code):
        return f"cannot deliver to postal code {postal_code!r} in {country}: {rule[1]}"
    return None


def label_for(request: dict[str, Any]) -> dict[str, Any]:
    """The label the carrier sends back: carrier, tracking number, label URL and the weighed total."""
    address = request["address"]
    carrier = "DHL Paket" if address["country"] == HOME_COUNTRY else "UPS Worldwide"
    digest = hashlib.sha256(f"{request['orderId']}:{carrier}".encode()).hexdigest()
    tracking = f"{carrier.split()[0].upper()}{int(digest[:10], 16) % 10**10:010d}"
    return {
        "carrier": carrier,
        "trackingNumber": tracking,
        "labelUrl": f"https://labels.example.com/{tracking}.pdf",
        "totalWeightGrams": sum(parcel["weightGrams"] for parcel in request["parcels"]),
        "labelledBy": {"process": "carrier", "pid": os.getpid()},
    }


class Carrier:
    """Polls shop.db; answers label requests through the stateway CLI; delivers purchase orders."""

    def __init__(self, shop_db: Path, engine_db: str, label_delay: float, poll: float) -> None:
        self.shop_db = shop_db
        self.db = shop.connect(shop_db)  # the polling thread's connection
        self.engine_db = engine_db
        self.label_delay = label_delay
        self.poll = poll
        self.parent = os.getppid()
        self.stopping = threading.Event()
        self.answering: list[threading.Thread] = []

    def log(self, message: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} carrier[{os.getpid()}] {message}", flush=True)

    def run(self) -> None:
        self.log(f"polling {self.db.execute('PRAGMA database_list').fetchone()['file']}")
        while not self.stopping.is_set() and os.getppid() == self.parent:
            for sku, quantity in shop.deliver_due_purchase_orders(self.db):
                self.log(f"supplier delivered {quantity} × {sku}")
            for row in self._claim_due_requests():
                thread = threading.Thread(target=self._answer, args=(dict(row),), daemon=True)
                thread.start()
                self.answering.append(thread)
            self.answering = [t for t in self.answering if t.is_alive()]
            self.stopping.wait(self.poll)
        for thread in self.answering:  # finish the answers in flight, so the outbox tells the truth
            thread.join(timeout=30)

    def _claim_due_requests(self) -> list[Any]:
        with shop.transaction(self.db):
            rows = self.db.execute(
                "SELECT * FROM label_requests WHERE status = 'PENDING' AND created_at <= ? ORDER BY id",
                (time.time() - self.label_delay,),
            ).fetchall()
            self.db.executemany("UPDATE label_requests SET status = 'PRINTING' WHERE id = ?",
                                [(row["id"],) for row in rows])
        return list(rows)

    def _record(self, request_id: int, status: str, answer: dict[str, Any]) -> None:
        db = shop.connect(self.shop_db)  # a connection of this answering thread's own
        with shop.transaction(db):
            db.execute(
                "UPDATE label_requests SET status = ?, answer = ?, answered_at = ?, answered_by_pid = ? WHERE id = ?",
                (status, json.dumps(answer), time.time(), os.getpid(), request_id),
            )
        db.close()

    def _answer(self, row: dict[str, Any]) -> None:
        request = json.loads(row["request"])
        reason = rejection(request.get("address") or {})
        base = [*stateway_command()]
        if reason is None:
            answer: dict[str, Any] = label_for(request)
            command = [*base, "send-task-success", "--task-token", row["task_token"],
                       "--output", json.dumps(answer), "--db", self.engine_db]
            status = "ANSWERED"
        else:
            answer = {"error": "AddressRejected", "cause": reason}
            command = [*base, "send-task-failure", "--task-token", row["task_token"],
                       "--error", "AddressRejected", "--cause", reason, "--db", self.engine_db]
            status = "REJECTED"
        # Record the answer first: once the engine has it, the order may end before we write again.
        self._record(row["id"], status, answer)
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            status = "ERROR"
            answer = {"error": "CliFailed", "cause": (done.stderr or done.stdout).strip()}
            self._record(row["id"], status, answer)
        what = answer.get("trackingNumber") if status == "ANSWERED" else answer.get("cause")
        self.log(f"label request #{row['id']} for {row['order_id']}: {status} ({what})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Simulated carrier (label callbacks) and supplier.")
    parser.add_argument("--shop", type=Path, required=True, help="the shop database (shop.db)")
    parser.add_argument("--db", required=True, help="the engine's database URL, for send-task-success")
    parser.add_argument("--label-delay", type=float, default=0.5, help="seconds to print a label")
    parser.add_argument("--poll", type=float, default=0.1, help="seconds between polls")
    args = parser.parse_args(argv)
    carrier = Carrier(args.shop, args.db, args.label_delay, args.poll)
    signal.signal(signal.SIGTERM, lambda *_: carrier.stopping.set())
    with contextlib.suppress(KeyboardInterrupt):
        carrier.run()
    carrier.log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
