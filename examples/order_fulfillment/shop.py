"""The shop's own database (a SQLite file apart from the engine's): stock, reservations, outboxes, dead letters.

The task functions, the carrier/warehouse simulator and the dead-letter tool all share this module.
Every write is one short `BEGIN IMMEDIATE` transaction, so several worker threads and processes can
use the file at once. Reserving stock is a single conditional `UPDATE … WHERE available >= ?` per
line inside one transaction: two orders racing for the last unit cannot both get it.

Also a small command line for people: `python shop.py --run DIR stock|restock SKU QTY`.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Demo runs live under the repository's (git-ignored) .stateway/ folder, one directory per run.
RUNS_DIR = Path(__file__).resolve().parents[2] / ".stateway"

# Where the functions find the shop database; run_demo.py and dead_letters.py set it.
SHOP_DB_ENV = "ORDER_SHOP_DB"
DEFAULT_SHOP_DB = RUNS_DIR / "order-shop.db"

# How long the warehouse asks the state machine to sleep before it looks for stock again.
RESTOCK_CHECK_SECONDS = 2

# sku -> (units on hand, supplier lead time in seconds or None if the supplier will not deliver,
#         units a purchase order brings)
CATALOGUE: dict[str, tuple[int, float | None, int]] = {
    "BOOK-ASL-GUIDE": (120, 3.0, 50),
    "MUG-STATEWAY": (40, 3.0, 20),
    "STICKER-PACK": (500, 3.0, 200),
    "TSHIRT-M": (25, 3.0, 10),
    "HOODIE-L": (1, 3.0, 30),  # the last one: two orders race for it
    "LAMP-RETRO": (0, None, 0),  # discontinued: nothing arrives until a person restocks by hand
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS stock (
    sku TEXT PRIMARY KEY,
    available INTEGER NOT NULL CHECK (available >= 0),
    initial INTEGER NOT NULL,
    lead_seconds REAL,
    restock_quantity INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS reservations (
    reservation_id TEXT NOT NULL,
    execution_arn TEXT NOT NULL,
    order_id TEXT NOT NULL,
    sku TEXT NOT NULL REFERENCES stock (sku),
    quantity INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'HELD',
    created_at REAL NOT NULL,
    PRIMARY KEY (reservation_id, sku)
);
CREATE TABLE IF NOT EXISTS purchase_orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sku TEXT NOT NULL REFERENCES stock (sku),
    quantity INTEGER NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at REAL NOT NULL,
    due_at REAL,
    delivered_at REAL
);
CREATE TABLE IF NOT EXISTS label_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    order_id TEXT NOT NULL,
    execution_arn TEXT NOT NULL,
    task_token TEXT NOT NULL,
    request TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'PENDING',
    answer TEXT,
    created_at REAL NOT NULL,
    answered_at REAL,
    answered_by_pid INTEGER
);
CREATE TABLE IF NOT EXISTS notifications (
    message_id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL,
    template TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS completions (
    order_id TEXT PRIMARY KEY,
    execution_arn TEXT NOT NULL,
    ledger_entry TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_arn TEXT NOT NULL UNIQUE,
    order_id TEXT NOT NULL,
    error TEXT NOT NULL,
    cause TEXT NOT NULL,
    input TEXT NOT NULL,
    failed_at REAL NOT NULL,
    status TEXT NOT NULL DEFAULT 'OPEN',
    retried_as TEXT,
    retried_at REAL
);
"""


class OutOfStock(Exception):
    """Raised inside a reservation transaction to roll it back; carries what was missing."""

    def __init__(self, missing: list[dict[str, Any]]) -> None:
        super().__init__(f"back-ordered: {missing}")
        self.missing = missing


class UnknownSku(Exception):
    """An order line names a SKU the warehouse has never heard of (the task's error name)."""


def shop_path() -> Path:
    """The shop database the functions use: $ORDER_SHOP_DB, else .stateway/order-shop.db."""
    return Path(os.environ.get(SHOP_DB_ENV) or DEFAULT_SHOP_DB)


_local = threading.local()
_initialised: set[str] = set()
_init_lock = threading.Lock()


def for_functions() -> sqlite3.Connection:
    """This thread's connection to the shop database named by $ORDER_SHOP_DB (task functions use it)."""
    path = str(shop_path().resolve())
    cache: dict[str, sqlite3.Connection] = _local.__dict__.setdefault("connections", {})
    if path not in cache:
        cache[path] = connect(path)
    return cache[path]


def connect(path: str | Path | None = None) -> sqlite3.Connection:
    """Open (creating and stocking on first use) the shop database; autocommit, WAL, 30 s busy timeout."""
    file = Path(path) if path is not None else shop_path()
    file.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(file, timeout=30.0, isolation_level=None, check_same_thread=False)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA busy_timeout=30000")
    db.execute("PRAGMA foreign_keys=ON")
    with _init_lock:
        key = str(file.resolve())
        if key not in _initialised:
            with transaction(db):
                for statement in filter(str.strip, SCHEMA.split(";")):
                    db.execute(statement)
                db.executemany(
                    "INSERT OR IGNORE INTO stock (sku, available, initial, lead_seconds, restock_quantity) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [(sku, on_hand, on_hand, lead, qty) for sku, (on_hand, lead, qty) in CATALOGUE.items()],
                )
            _initialised.add(key)
    return db


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """`BEGIN IMMEDIATE` … `COMMIT`, rolled back on any exception: one writer at a time, never a lost update."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


# ---- inventory ---------------------------------------------------------------------------------


def reserve(db: sqlite3.Connection, *, reservation_id: str, execution_arn: str, order_id: str,
            lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Reserve every line or none: returns the reserved lines, raises OutOfStock with the shortfall.

    A re-run of the same attempt (same reservation id) finds its reservation and does not take
    stock twice. When something is missing, a purchase order goes to the supplier (once per SKU
    while one is open) — outside the rolled-back transaction.
    """
    missing: list[dict[str, Any]] = []
    try:
        with transaction(db):
            held = db.execute(
                "SELECT sku, quantity FROM reservations WHERE reservation_id = ? AND status = 'HELD'",
                (reservation_id,),
            ).fetchall()
            if held:
                return [{"sku": r["sku"], "quantity": r["quantity"]} for r in held]
            for line in lines:
                sku, quantity = line["sku"], int(line["quantity"])
                taken = db.execute(
                    "UPDATE stock SET available = available - ? WHERE sku = ? AND available >= ?",
                    (quantity, sku, quantity),
                ).rowcount
                if taken == 1:
                    db.execute(
                        "INSERT INTO reservations (reservation_id, execution_arn, order_id, sku, quantity, "
                        "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                        (reservation_id, execution_arn, order_id, sku, quantity, time.time()),
                    )
                    continue
                row = db.execute("SELECT available FROM stock WHERE sku = ?", (sku,)).fetchone()
                if row is None:
                    raise UnknownSku(f"no such SKU: {sku}")
                missing.append({"sku": sku, "missing": quantity - int(row["available"])})
            if missing:
                raise OutOfStock(missing)
    except OutOfStock:
        request_restock(db, [m["sku"] for m in missing], requested_by=order_id)
        raise
    return [{"sku": line["sku"], "quantity": int(line["quantity"])} for line in lines]


def request_restock(db: sqlite3.Connection, skus: list[str], *, requested_by: str) -> None:
    """Order from the supplier the SKUs that ran out, unless a purchase order is already open."""
    now = time.time()
    with transaction(db):
        for sku in skus:
            stock = db.execute("SELECT lead_seconds, restock_quantity FROM stock WHERE sku = ?",
                               (sku,)).fetchone()
            open_order = db.execute(
                "SELECT 1 FROM purchase_orders WHERE sku = ? AND delivered_at IS NULL", (sku,)
            ).fetchone()
            if stock is None or open_order is not None:
                continue
            lead = stock["lead_seconds"]
            db.execute(
                "INSERT INTO purchase_orders (sku, quantity, requested_by, requested_at, due_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (sku, stock["restock_quantity"], requested_by, now, None if lead is None else now + lead),
            )


def deliver_due_purchase_orders(db: sqlite3.Connection) -> list[tuple[str, int]]:
    """The warehouse receives every purchase order that is due: (sku, quantity) for each delivery."""
    delivered = []
    with transaction(db):
        due = db.execute(
            "SELECT id, sku, quantity FROM purchase_orders WHERE delivered_at IS NULL AND due_at IS NOT NULL "
            "AND due_at <= ?",
            (time.time(),),
        ).fetchall()
        for row in due:
            db.execute("UPDATE stock SET available = available + ? WHERE sku = ?", (row["quantity"], row["sku"]))
            db.execute("UPDATE purchase_orders SET delivered_at = ? WHERE id = ?", (time.time(), row["id"]))
            delivered.append((str(row["sku"]), int(row["quantity"])))
    return delivered


def restock(db: sqlite3.Connection, sku: str, quantity: int) -> int:
    """A person books goods in by hand; returns the new available count."""
    with transaction(db):
        changed = db.execute("UPDATE stock SET available = available + ? WHERE sku = ?", (quantity, sku)).rowcount
        if changed != 1:
            raise UnknownSku(f"no such SKU: {sku}")
        db.execute(
            "INSERT INTO purchase_orders (sku, quantity, requested_by, requested_at, due_at, delivered_at) "
            "VALUES (?, ?, 'manual', ?, ?, ?)",
            (sku, quantity, time.time(), time.time(), time.time()),
        )
        return int(db.execute("SELECT available FROM stock WHERE sku = ?", (sku,)).fetchone()[0])


def release(db: sqlite3.Connection, execution_arn: str) -> list[dict[str, Any]]:
    """Give back the stock an execution still holds (its order failed for good)."""
    with transaction(db):
        held = db.execute(
            "SELECT reservation_id, sku, quantity FROM reservations WHERE execution_arn = ? AND status = 'HELD'",
            (execution_arn,),
        ).fetchall()
        for row in held:
            db.execute("UPDATE stock SET available = available + ? WHERE sku = ?", (row["quantity"], row["sku"]))
            db.execute("UPDATE reservations SET status = 'RELEASED' WHERE reservation_id = ? AND sku = ?",
                       (row["reservation_id"], row["sku"]))
    return [{"sku": r["sku"], "quantity": r["quantity"]} for r in held]


def stock_ledger(db: sqlite3.Connection) -> list[dict[str, Any]]:
    """Per SKU: initial, delivered, held by reservations, available — and whether they add up."""
    rows = []
    for stock in db.execute("SELECT * FROM stock ORDER BY sku").fetchall():
        sku = stock["sku"]
        delivered = db.execute(
            "SELECT COALESCE(SUM(quantity), 0) FROM purchase_orders WHERE sku = ? AND delivered_at IS NOT NULL",
            (sku,),
        ).fetchone()[0]
        held = db.execute(
            "SELECT COALESCE(SUM(quantity), 0) FROM reservations WHERE sku = ? AND status = 'HELD'", (sku,)
        ).fetchone()[0]
        available = int(stock["available"])
        rows.append({
            "sku": sku, "initial": int(stock["initial"]), "delivered": int(delivered), "held": int(held),
            "available": available,
            "balanced": available >= 0 and stock["initial"] + delivered - held == available,
        })
    return rows


# ---- outboxes and records -----------------------------------------------------------------------


def add_label_request(db: sqlite3.Connection, *, idempotency_key: str, order_id: str, execution_arn: str,
                      task_token: str, request: dict[str, Any]) -> int:
    """Queue a label request for the carrier; a re-run of the same attempt keeps its one row."""
    with transaction(db):
        db.execute(
            "INSERT INTO label_requests (idempotency_key, order_id, execution_arn, task_token, request, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO UPDATE SET task_token = excluded.task_token",
            (idempotency_key, order_id, execution_arn, task_token, json.dumps(request), time.time()),
        )
        return int(db.execute("SELECT id FROM label_requests WHERE idempotency_key = ?",
                              (idempotency_key,)).fetchone()[0])


def add_dead_letter(db: sqlite3.Connection, *, execution_arn: str, order_id: str, error: str, cause: str,
                    input_text: str) -> int:
    """Record an order that failed for good; recording the same execution twice keeps one row."""
    with transaction(db):
        db.execute(
            "INSERT OR IGNORE INTO dead_letters (execution_arn, order_id, error, cause, input, failed_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (execution_arn, order_id, error, cause, input_text, time.time()),
        )
        return int(db.execute("SELECT id FROM dead_letters WHERE execution_arn = ?",
                              (execution_arn,)).fetchone()[0])


def dead_letters(db: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every dead letter, oldest first."""
    return [dict(row) for row in db.execute("SELECT * FROM dead_letters ORDER BY id").fetchall()]


# ---- command line ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """`shop.py [--run DIR | --db FILE] stock` prints the stock ledger; `restock SKU QTY` books goods in."""
    parser = argparse.ArgumentParser(description="Look at and restock the example shop's warehouse.")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--run", type=Path, help="a demo run directory (default: the latest .stateway/demo-*)")
    where.add_argument("--db", type=Path, help="the shop database file")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("stock", help="print the stock ledger")
    restock_cmd = commands.add_parser("restock", help="book goods in by hand")
    restock_cmd.add_argument("sku")
    restock_cmd.add_argument("quantity", type=int)
    args = parser.parse_args(argv)
    path = args.db or (args.run or latest_run()) / "shop.db"
    if not path.exists():
        print(f"no shop database at {path}; run `make demo` first", file=sys.stderr)
        return 2
    db = connect(path)
    if args.command == "restock":
        try:
            available = restock(db, args.sku, args.quantity)
        except UnknownSku as exc:
            print(exc, file=sys.stderr)
            return 2
        print(f"{args.sku}: {args.quantity} booked in, {available} available")
        return 0
    print(f"{'SKU':<16}{'initial':>8}{'delivered':>10}{'held':>6}{'available':>10}")
    for row in stock_ledger(db):
        print(f"{row['sku']:<16}{row['initial']:>8}{row['delivered']:>10}{row['held']:>6}{row['available']:>10}")
    return 0


def latest_run(base: Path | None = None) -> Path:
    """The newest `demo-*` run directory in the repository's `.stateway/` (or in `base`)."""
    root = base or RUNS_DIR
    runs = sorted(root.glob("demo-*"))
    return runs[-1] if runs else root / "demo-none"


if __name__ == "__main__":
    sys.exit(main())
