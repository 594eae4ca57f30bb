"""The person's side of the dead-letter table: list, inspect and retry orders that failed for good.

    python dead_letters.py [--run DIR] list
    python dead_letters.py [--run DIR] show ID
    python dead_letters.py [--run DIR] retry ID [--no-wait] [--timeout SECONDS]

DIR is a demo run directory (default: the newest `.stateway/demo-*`), holding `shop.db` (where
RecordDeadLetter files each failed order) and `engine.db` (the engine's store). `retry` starts a
fresh execution of the same state machine with the dead letter's input under a new name
(`ORD-1007-retry-1`), on the same engine database, and marks the dead letter RETRIED. By default it
then runs the engine and the carrier until that execution ends and prints the outcome; with
`--no-wait` it only stores the new execution for a running engine to pick up. A retry that fails
again is filed as a new dead letter, and that one is retried next: a dead letter is retried once.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import shop
from run_demo import STATE_MACHINE_NAME, Stack

from stateway.engine.errors import ApiError
from stateway.engine.service import Service
from stateway.store.sqlite import open_store


def _when(stamp: float | None) -> str:
    return datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M:%S") if stamp else "–"


def _row(db: Any, dead_letter_id: int) -> dict[str, Any] | None:
    row = db.execute("SELECT * FROM dead_letters WHERE id = ?", (dead_letter_id,)).fetchone()
    return dict(row) if row is not None else None


def cmd_list(run_dir: Path, as_json: bool) -> int:
    """One line per dead letter, oldest first."""
    db = shop.connect(run_dir / "shop.db")
    rows = shop.dead_letters(db)
    if as_json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    if not rows:
        print(f"no dead letters in {run_dir / 'shop.db'}")
        return 0
    print(f"{'#':>3}  {'status':<8}{'order':<18}{'error':<20}{'failed at':<21}retried as")
    for r in rows:
        retried = r["retried_as"].rsplit(":", 1)[-1] if r["retried_as"] else "–"
        print(f"{r['id']:>3}  {r['status']:<8}{r['order_id']:<18}{r['error']:<20}{_when(r['failed_at']):<21}{retried}")
    return 0


def cmd_show(run_dir: Path, dead_letter_id: int, as_json: bool) -> int:
    """Everything about one dead letter, with the failed execution's status from the engine."""
    db = shop.connect(run_dir / "shop.db")
    row = _row(db, dead_letter_id)
    if row is None:
        print(f"no dead letter #{dead_letter_id} in {run_dir / 'shop.db'}", file=sys.stderr)
        return 2
    row["input"] = json.loads(row["input"])
    service = Service(open_store(f"sqlite:///{run_dir / 'engine.db'}"))
    try:
        description = service.describe_execution(row["execution_arn"])
        row["execution_status"] = description["status"]
    except ApiError as exc:
        row["execution_status"] = f"unknown ({exc})"
    if as_json:
        print(json.dumps(row, indent=2, ensure_ascii=False))
        return 0
    print(f"dead letter #{row['id']} · {row['status']}")
    print(f"  order       {row['order_id']}")
    print(f"  error       {row['error']}")
    print(f"  cause       {row['cause']}")
    print(f"  failed at   {_when(row['failed_at'])}")
    print(f"  execution   {row['execution_arn']} ({row['execution_status']})")
    if row["retried_as"]:
        print(f"  retried as  {row['retried_as']} at {_when(row['retried_at'])}")
    print("  input       " + json.dumps(row["input"], indent=2, ensure_ascii=False).replace("\n", "\n              "))
    print(f"\n  history: stateway executions history '{row['execution_arn']}' --db sqlite:///{run_dir / 'engine.db'}")
    return 0


def retry_name(service: Service, state_machine_arn: str, order_id: str) -> str:
    """`ORD-1007-retry-N`, N one more than the retries of this order so far."""
    items, _ = service.list_executions(state_machine_arn, max_results=1000)
    taken = {item["name"] for item in items}
    number = 1
    while f"{order_id}-retry-{number}" in taken:
        number += 1
    return f"{order_id}-retry-{number}"


def claim(db: Any, dead_letter_id: int) -> bool:
    """Mark the dead letter RETRIED if it is still OPEN, before its retry starts: of two retries of one dead
    letter — the same command run twice, or two people at once — only one starts an execution, so an
    order is not fulfilled (and charged) twice."""
    with shop.transaction(db):
        return db.execute("UPDATE dead_letters SET status = 'RETRIED', retried_at = ? WHERE id = ? AND status = 'OPEN'",
                          (time.time(), dead_letter_id)).rowcount == 1


def release(db: Any, dead_letter_id: int) -> None:
    """OPEN again: its retry could not be started."""
    with shop.transaction(db):
        db.execute("UPDATE dead_letters SET status = 'OPEN', retried_at = NULL WHERE id = ? AND retried_as IS NULL",
                   (dead_letter_id,))


def mark_retried(db: Any, dead_letter_id: int, execution_arn: str) -> None:
    with shop.transaction(db):
        db.execute("UPDATE dead_letters SET retried_as = ? WHERE id = ?", (execution_arn, dead_letter_id))


def _retried_already(db: Any, row: dict[str, Any]) -> str:
    """Why a dead letter that is not OPEN is not retried again, and what to retry instead."""
    if not row["retried_as"]:
        return f"dead letter #{row['id']} is being retried already"
    said = f"dead letter #{row['id']} was retried already as {row['retried_as'].rsplit(':', 1)[-1]}"
    again = db.execute("SELECT id FROM dead_letters WHERE execution_arn = ?", (row["retried_as"],)).fetchone()
    if again is not None:
        return f"{said}, which failed too: retry its dead letter #{again['id']}"
    return f"{said} (`show {row['id']}` says how it went)"


@contextmanager
def _released_unless_started(db: Any, dead_letter_id: int) -> Iterator[None]:
    """A claimed dead letter whose retry fails to start (or is interrupted first) is OPEN again."""
    try:
        yield
    except BaseException:
        release(db, dead_letter_id)
        raise


def cmd_retry(run_dir: Path, dead_letter_id: int, wait: bool, timeout: float, as_json: bool) -> int:
    """Start a fresh execution with the dead letter's input and a new name; optionally run it to its end."""
    db = shop.connect(run_dir / "shop.db")
    row = _row(db, dead_letter_id)
    if row is None:
        print(f"no dead letter #{dead_letter_id} in {run_dir / 'shop.db'}", file=sys.stderr)
        return 2
    if not claim(db, dead_letter_id):
        print(_retried_already(db, _row(db, dead_letter_id) or row), file=sys.stderr)
        return 2
    if not wait:
        # Store the new execution only: whichever engine runs on this database next picks it up.
        service = Service(open_store(f"sqlite:///{run_dir / 'engine.db'}"))
        machine_arn = f"arn:aws:states:{service.region}:{service.account}:stateMachine:{STATE_MACHINE_NAME}"
        with _released_unless_started(db, dead_letter_id):
            name = retry_name(service, machine_arn, row["order_id"])
            arn = service.start_execution(machine_arn, input_text=row["input"], name=name)
        mark_retried(db, dead_letter_id, arn)
        print(json.dumps({"executionArn": arn, "status": "RUNNING"}) if as_json
              else f"dead letter #{dead_letter_id} retried as {arn} (stored; not waiting)")
        return 0
    # Waiting needs the engine and the carrier running, as in the demo.
    with _released_unless_started(db, dead_letter_id), Stack(run_dir) as stack:
        assert stack.engine is not None
        service = stack.engine.service
        name = retry_name(service, stack.state_machine_arn, row["order_id"])
        arn = service.start_execution(stack.state_machine_arn, input_text=row["input"], name=name)
        mark_retried(db, dead_letter_id, arn)
        description = stack.engine.wait(arn, timeout=timeout)
    again = db.execute("SELECT id FROM dead_letters WHERE execution_arn = ?", (arn,)).fetchone()
    result = {
        "deadLetterId": dead_letter_id, "executionArn": arn, "name": name, "status": description["status"],
        "error": description.get("error"), "cause": description.get("cause"),
        "output": json.loads(description["output"]) if description.get("output") else None,
        "newDeadLetterId": again["id"] if again is not None else None,
    }
    if as_json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        print(f"dead letter #{dead_letter_id} ({row['order_id']}, {row['error']}) retried as {name}: "
              f"{description['status']}")
        if result["output"] is not None:
            print("  output " + json.dumps(result["output"], ensure_ascii=False))
        if result["error"]:
            print(f"  error  {result['error']}: {result['cause']}")
            if result["newDeadLetterId"] is not None:
                print(f"  filed again as dead letter #{result['newDeadLetterId']}")
    return 0 if description["status"] == "SUCCEEDED" else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Inspect and retry the order-fulfilment dead letters.")
    parser.add_argument("--run", type=Path, help="a demo run directory (default: the newest .stateway/demo-*)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="every dead letter, oldest first")
    show = commands.add_parser("show", help="one dead letter in full")
    show.add_argument("id", type=int)
    retry = commands.add_parser("retry", help="start a fresh execution with the same input")
    retry.add_argument("id", type=int)
    retry.add_argument("--no-wait", action="store_true", help="only store the new execution")
    retry.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the end (default 120)")
    args = parser.parse_args(argv)
    run_dir = (args.run or shop.latest_run()).resolve()
    # A demo run holds both databases: a directory without them must not be given an empty one.
    missing = [name for name in ("shop.db", "engine.db") if not (run_dir / name).exists()]
    if missing:
        print(f"no demo run at {run_dir} (no {' or '.join(missing)}); run `make demo` first", file=sys.stderr)
        return 2
    if args.command == "list":
        return cmd_list(run_dir, args.json)
    if args.command == "show":
        return cmd_show(run_dir, args.id, args.json)
    return cmd_retry(run_dir, args.id, not args.no_wait, args.timeout, args.json)


if __name__ == "__main__":
    sys.exit(main())
