"""The writer thread: rounds are stored in order, acknowledged only once durable, and a failed
transaction makes the decider start again from the store without losing or doubling anything."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support import wait_for

from stateway.api.actions import StepFunctionsApi
from stateway.api.app import StepFunctionsApp
from stateway.engine import Engine
from stateway.engine.writer import Writer
from stateway.store.sqlite import SqliteStore

pytestmark = pytest.mark.integration

FN = "arn:aws:lambda:us-east-1:123456789012:function:"
CHAIN = {"StartAt": "A", "States": {
    "A": {"Type": "Task", "Resource": FN + "count", "Next": "B"},
    "B": {"Type": "Task", "Resource": FN + "count", "Next": "C"},
    "C": {"Type": "Task", "Resource": FN + "count", "End": True}}}


def _types(engine: Engine, arn: str) -> list[str]:
    return [e["type"] for e in engine.service.get_execution_history(arn)]


def test_a_failed_transaction_is_recomputed_and_every_execution_finishes_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: Counter[str] = Counter()
    lock = threading.Lock()

    def count(event: Any, context: Any) -> Any:
        with lock:
            calls[context.idempotency_key] += 1
        return event

    real_write = Engine._write
    writes = {"n": 0}

    def failing_write(self: Engine, db: Any, batch: Any) -> None:
        writes["n"] += 1
        if writes["n"] in (5, 12):  # two transactions fail, with whatever rounds they carry
            raise sqlite3.OperationalError("disk I/O error (injected)")
        real_write(self, db, batch)

    monkeypatch.setattr(Engine, "_write", failing_write)
    engine = Engine(f"sqlite:///{tmp_path / 'w.db'}", functions={"count": count}, poll_interval=0.05)
    with engine.start():
        machine = engine.service.create_state_machine("chain", CHAIN)
        started, refused = [], 0
        for i in range(30):
            try:
                started.append(engine.service.start_execution(machine, {"n": i}, name=f"e{i}"))
            except sqlite3.OperationalError:
                refused += 1  # its round was not stored: the start is refused, as the API would answer
        for arn in started:
            assert engine.wait(arn, timeout=20)["status"] == "SUCCEEDED"
            types = _types(engine, arn)
            assert types.count("TaskStateEntered") == 3 and types[-1] == "ExecutionSucceeded", types
            assert len(types) == len(set((e["id"]) for e in engine.service.get_execution_history(arn)))
        listed, _ = engine.service.list_executions(machine, max_results=100)
        assert {e["name"] for e in listed} == {arn.rsplit(":", 1)[1] for arn in started}
    assert writes["n"] > 12  # both injected failures happened (every start is written on its own or in a savepoint)
    assert len(started) + refused == 30
    # Every task of a stored execution ran, possibly again after a failure, always under one key.
    assert all(key.rsplit("/", 3)[0] in started for key in calls if calls[key] > 1)


class _CountingStore(SqliteStore):
    """A real store that numbers its write transactions."""

    transactions = 0

    def write(self) -> Any:
        self.transactions += 1
        return super().write()


class _Held:
    """A batch write that holds the transaction holding item 0 open until `gate` is set (`inside`
    says it is there), then writes each item with `write_one`."""

    def __init__(self, write_one: Callable[[Any, int], None]) -> None:
        self.inside, self.gate = threading.Event(), threading.Event()
        self.write_one = write_one

    def __call__(self, db: Any, batch: list[int]) -> None:
        for n in batch:
            if n == 0:
                self.inside.set()
                self.gate.wait(5)
            self.write_one(db, n)


def _held_open(path: Path, size: Callable[[int], int] = lambda n: 0) -> tuple[_CountingStore, _Held, Writer[int]]:
    """A writer whose first item (0) records its transaction number and is being written, held open."""
    store = _CountingStore(path)
    store._writer.execute("CREATE TABLE t (n INTEGER, tx INTEGER)")
    write = _Held(lambda db, n: db.execute("INSERT INTO t VALUES (?, ?)", (n, store.transactions)))
    writer: Writer[int] = Writer(store, write, lambda batch, error: None, size=size)
    writer.submit(0)
    assert write.inside.wait(5)
    return store, write, writer


def test_rounds_queued_during_a_commit_share_the_next_transaction(tmp_path: Path) -> None:
    store, write, writer = _held_open(tmp_path / "batch.db")
    for n in range(1, 5):  # queued while the first transaction is held open
        writer.submit(n)
    write.gate.set()
    writer.wait_below(1, timeout=5)
    finished = writer.finished()
    writer.close()
    assert finished == [(0, None), (1, None), (2, None), (3, None), (4, None)]
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT n, tx FROM t ORDER BY rowid").fetchall() == [(0, 1), (1, 2), (2, 2), (3, 2), (4, 2)]


def test_waiting_below_a_size_waits_for_the_items_that_hold_it(tmp_path: Path) -> None:
    store, write, writer = _held_open(tmp_path / "size.db", size=lambda n: n * 100)
    for n in range(1, 5):
        writer.submit(n)
    assert (writer.pending, writer.pending_size) == (5, 1000)
    writer.wait_below(64, timeout=0.2, size=500)
    assert writer.pending == 5, "items holding 1,000 characters are not below 500 until written"
    write.gate.set()
    writer.wait_below(64, timeout=5, size=500)
    assert writer.pending_size < 500
    writer.wait_below(1, timeout=5)
    assert (writer.pending, writer.pending_size) == (0, 0)
    writer.close()


def test_one_item_larger_than_the_size_does_not_hold_back_the_next(tmp_path: Path) -> None:
    _, write, writer = _held_open(tmp_path / "one.db", size=lambda n: 900)
    waiting = threading.Thread(target=writer.wait_below, args=(64,), kwargs={"size": 500})
    waiting.start()
    waiting.join(4)  # the one item is held in its transaction all along (up to 5 s)
    assert not waiting.is_alive(), "a wait for less than 500 characters returns while one item holds 900"
    assert (writer.pending, writer.pending_size) == (1, 900)
    write.gate.set()
    writer.close()


def test_a_wide_map_waits_for_the_writer_beyond_the_characters_it_may_hold(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from stateway.engine import runtime

    monkeypatch.setattr(runtime, "MAX_UNWRITTEN_CHARS", 1)  # every round waits for the one before
    before: list[int] = []
    submit = Writer.submit

    def recording_submit(self: Writer[Any], item: Any, *, urgent: bool = False) -> None:
        if not urgent:
            before.append(self.pending)
        submit(self, item, urgent=urgent)

    monkeypatch.setattr(Writer, "submit", recording_submit)
    engine = Engine(f"sqlite:///{tmp_path / 'wide.db'}", functions={"count": lambda event, context: event})
    with engine.start():
        machine = engine.service.create_state_machine("wide", {"StartAt": "M", "States": {"M": {
            "Type": "Map", "MaxConcurrency": 20, "End": True,
            "ItemProcessor": {"StartAt": "A", "States": {"A": CHAIN["States"]["C"]}}}}})
        arn = engine.service.start_execution(machine, list(range(300)))
        assert engine.wait(arn, timeout=30)["status"] == "SUCCEEDED"
        assert json.loads(engine.service.describe_execution(arn)["output"]) == list(range(300))
    assert len(before) > 15 and max(before) <= 1, before


def test_an_urgent_item_arriving_during_a_transaction_of_rounds_is_committed_with_it(tmp_path: Path) -> None:
    store, write, writer = _held_open(tmp_path / "late.db")
    writer.submit(9, urgent=True)  # a start while the round is being written: no commit of its own
    write.gate.set()
    writer.wait_below(1, timeout=5)
    finished = writer.finished()
    writer.close()
    assert finished == [(0, None), (9, None)]
    assert store.transactions == 1
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT n, tx FROM t ORDER BY rowid").fetchall() == [(0, 1), (9, 1)]


def test_a_late_urgent_item_that_fails_is_undone_alone_and_fails_in_its_own_transaction(tmp_path: Path) -> None:
    store = _CountingStore(tmp_path / "late-fail.db")
    store._writer.execute("CREATE TABLE t (n INTEGER)")
    def write_one(db: Any, n: int) -> None:
        db.execute("INSERT INTO t VALUES (?)", (n,))
        if n == 9:
            raise sqlite3.IntegrityError("injected")

    write = _Held(write_one)
    writer: Writer[int] = Writer(store, write, lambda batch, error: None)
    writer.submit(0)
    assert write.inside.wait(5)
    writer.submit(9, urgent=True)
    write.gate.set()
    writer.wait_below(1, timeout=5)
    finished = writer.finished()
    writer.close()
    # The rounds are stored; the start failed in a transaction of its own, as if it had come later.
    assert [(n, error is not None) for n, error in finished] == [(0, False), (9, True)]
    assert store.transactions == 2
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT n FROM t ORDER BY rowid").fetchall() == [(0,)]


def test_a_failed_batch_fails_what_was_queued_behind_it_until_reset(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "fail.db")
    store._writer.execute("CREATE TABLE t (n INTEGER)")
    gate = threading.Event()

    def write(db: Any, batch: list[int]) -> None:
        for n in batch:
            if n == 0:
                gate.wait(5)
                raise sqlite3.OperationalError("injected")
            db.execute("INSERT INTO t VALUES (?)", (n,))

    writer: Writer[int] = Writer(store, write, lambda batch, error: None)
    writer.submit(0)
    writer.submit(1)
    gate.set()
    writer.wait_below(1, timeout=5)
    writer.submit(2)  # computed before the decider saw the failure: refused as well
    writer.wait_below(1, timeout=5)
    assert [(n, error is not None) for n, error in writer.finished()] == [(0, True), (1, True), (2, True)]
    writer.submit(5, urgent=True)  # a start builds on nothing queued: written even now
    writer.wait_below(1, timeout=5)
    assert writer.finished() == [(5, None)]
    writer.reset()
    writer.submit(3)
    writer.wait_below(1, timeout=5)
    assert writer.finished() == [(3, None)]
    writer.close()
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT n FROM t ORDER BY n").fetchall() == [(3,), (5,)]


def test_a_start_stored_without_its_first_step_is_begun_on_restart(tmp_path: Path) -> None:
    """The crash window between a start's own transaction and the round with its first step."""
    db = f"sqlite:///{tmp_path / 'r.db'}"
    engine = Engine(db, functions={"count": lambda e, c: e})
    machine = engine.service.create_state_machine("chain", CHAIN)
    # Only the start lane runs (the decider thread is not started): the row is stored, the first
    # step is never computed.
    engine.service.group_commit = engine._start_in_round
    arn = engine.service.start_execution(machine, {"n": 1}, name="half")
    engine._writer.close()
    assert [n.arn for n in engine._starts] == [arn]
    with sqlite3.connect(tmp_path / "r.db") as conn:
        assert conn.execute("SELECT status, snapshot FROM executions").fetchall() == [("RUNNING", None)]
    with Engine(db, functions={"count": lambda e, c: e}) as again:
        assert again.wait(arn, timeout=10)["status"] == "SUCCEEDED"
        assert _types(again, arn)[0] == "ExecutionStarted"


def test_a_batch_writes_only_its_net_effect_on_task_and_timer_rows() -> None:
    from stateway.engine.rounds import NetRows

    rows = NetRows()
    rows.insert(("e", "t1"), ("e", "t1", "token-1", "SCHEDULED"))
    rows.update(("e", "t1"), lambda row: (*row[:-1], "RUNNING"))  # folds into the insert
    rows.insert(("e", "t2"), ("e", "t2", None, "SCHEDULED"))
    rows.delete(("e", "t1"))  # created and removed in the batch: never written
    rows.update(("e", "t0"), lambda row: row)  # a row stored by an earlier batch
    rows.delete(("e", "t9"))
    rows.update(("e", "t8"), lambda row: row)
    rows.delete(("e", "t8"))  # stored earlier, started and deleted in the batch: the update is moot
    assert rows.inserted == {("e", "t2"): ("e", "t2", None, "SCHEDULED")}
    assert list(rows.updated) == [("e", "t0")]
    assert rows.deleted == [("e", "t9"), ("e", "t8")]
    assert rows.vanished == [("e", "t1", "token-1", "RUNNING")]
    # A stored row's update is named by its last `how` (the statement it takes): a task started, then waiting.
    rows.update(("e", "t7"), lambda row: row, "RUNNING")
    rows.update(("e", "t7"), lambda row: row, "WAITING")
    assert rows.updated[("e", "t7")] == "WAITING"
    upserts = NetRows(upserts=True)  # rows rewritten in place (frames): one stored before may exist
    upserts.insert(("e", "f1"), ("e", "f1", "new text"))
    upserts.delete(("e", "f1"))
    assert upserts.inserted == {} and upserts.deleted == [("e", "f1")]


def test_a_fast_chain_leaves_no_task_rows_and_a_gap_free_history(tmp_path: Path) -> None:
    with Engine(f"sqlite:///{tmp_path / 'n.db'}", functions={"count": lambda e, c: e}) as engine:
        machine = engine.service.create_state_machine("chain", CHAIN)
        arns = [engine.service.start_execution(machine, {"n": i}) for i in range(20)]
        for arn in arns:
            assert engine.wait(arn, timeout=10)["status"] == "SUCCEEDED"
            ids = [e["id"] for e in engine.service.get_execution_history(arn)]
            assert ids == list(range(1, len(ids) + 1)) and len(ids) == 17
    with sqlite3.connect(tmp_path / "n.db") as db:
        assert db.execute("SELECT count(*) FROM tasks").fetchone() == (0,)
        # Each ended as it succeeded: no snapshot is kept for what no redrive can continue.
        assert db.execute("SELECT count(*) FROM executions WHERE snapshot IS NOT NULL OR status != 'SUCCEEDED'"
                          ).fetchone() == (0,)


def test_a_store_that_keeps_failing_is_retried_with_growing_pauses_then_catches_up(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = threading.Event()
    broken.set()
    attempts: list[float] = []
    real_write = Engine._write

    def write(self: Engine, db: Any, batch: Any) -> None:
        if broken.is_set() and any(hasattr(item, "work") for item in batch):  # rounds fail, starts do not
            attempts.append(time.monotonic())
            raise sqlite3.OperationalError("database or disk is full (injected)")
        real_write(self, db, batch)

    monkeypatch.setattr(Engine, "_write", write)
    with Engine(f"sqlite:///{tmp_path / 'full.db'}", functions={"count": lambda e, c: e}) as engine:
        app = StepFunctionsApp(StepFunctionsApi(engine), threads=2)
        assert _get_health(app) == (200, "ok")
        machine = engine.service.create_state_machine("chain", CHAIN)
        arn = engine.service.start_execution(machine, {"n": 1})
        time.sleep(1.5)
        # Without pauses the decider would have retried hundreds of times; with them: a handful.
        assert 3 <= len(attempts) <= 8, len(attempts)
        gaps = [b - a for a, b in zip(attempts[1:], attempts[2:], strict=False)]
        assert gaps == sorted(gaps), gaps
        health = engine.health()
        assert health["status"] == "failing" and health["storeRefusesWrites"]
        assert "disk is full" in health["lastFailure"]["error"]
        assert _get_health(app) == (503, "failing"), "a health check sees that nothing moves"
        broken.clear()
        assert engine.wait(arn, timeout=10)["status"] == "SUCCEEDED"
        assert _types(engine, arn).count("TaskStateEntered") == 3
        assert engine.health()["status"] == "ok" and _get_health(app) == (200, "ok")
        app.close()
    assert engine.health()["status"] == "failing", "a stopped engine runs nothing"


def test_a_full_disk_is_reported_as_itself_not_as_the_rollback_after_it(tmp_path: Path) -> None:
    release = threading.Event()

    def large(event: Any, context: Any) -> Any:
        release.wait(10)
        return {"pad": "x" * 200_000}  # its history needs pages the file may not grow by

    with Engine(f"sqlite:///{tmp_path / 'full.db'}", functions={"count": large}, poll_interval=0.05) as engine:
        machine = engine.service.create_state_machine("chain", CHAIN)
        arn = engine.service.start_execution(machine, {"n": 1})
        wait_for(lambda: "LambdaFunctionStarted" in _types(engine, arn))
        with engine.store._write_lock:  # a full disk, as SQLite sees one: it rolls the transaction back itself
            pages = engine.store._writer.execute("PRAGMA page_count").fetchone()[0]
            engine.store._writer.execute(f"PRAGMA max_page_count = {pages}")
        release.set()
        health = wait_for(lambda: engine.health().get("lastFailure") and engine.health())
        assert health["status"] == "failing" and health["storeRefusesWrites"], health
        assert health["lastFailure"]["error"] == "OperationalError: database or disk is full", health
        with engine.store._write_lock:
            engine.store._writer.execute("PRAGMA max_page_count = 1073741823")
        assert engine.wait(arn, timeout=10)["status"] == "SUCCEEDED"
        assert engine.health()["status"] == "ok"


def _get_health(app: StepFunctionsApp) -> tuple[int, str]:
    """`GET /health` through the ASGI application: the HTTP status and the reported status."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app({"type": "http", "method": "GET", "path": "/health", "headers": []}, receive, send))
    return sent[0]["status"], json.loads(sent[1]["body"])["status"]


def test_the_writer_forgets_executions_once_they_end_whatever_their_status(tmp_path: Path) -> None:
    definition = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "No"}}}
    engine = Engine(f"sqlite:///{tmp_path / 'ended.db'}", poll_interval=0.05)
    with engine.start():
        machine = engine.service.create_state_machine("failing", definition)
        arns = [engine.service.start_execution(machine, {"n": n}) for n in range(5)]
        assert all(engine.wait(arn, timeout=10)["status"] == "FAILED" for arn in arns)
        engine._writer.wait_below(1, timeout=5)
        assert not engine.writer_known.joinless & set(arns)  # what the writer remembers of them is gone


def _delayed(path: Path, prompt: Callable[[int], bool]) -> tuple[_CountingStore, Writer[int]]:
    """A writer whose items, unless `prompt`, may wait up to a minute to share a transaction."""
    store = _CountingStore(path)
    store._writer.execute("CREATE TABLE t (n INTEGER, tx INTEGER)")
    writer: Writer[int] = Writer(
        store, lambda db, batch: db.executemany("INSERT INTO t VALUES (?, ?)", [(n, store.transactions) for n in batch]),
        lambda batch, error: None, prompt=prompt, delay=60.0, delay_limit=10)
    return store, writer


def _rows(store: SqliteStore) -> list[tuple[int, int]]:
    with sqlite3.connect(store.path) as db:
        return db.execute("SELECT n, tx FROM t ORDER BY rowid").fetchall()


def test_delayed_rounds_share_the_transaction_of_the_first_prompt_one(tmp_path: Path) -> None:
    store, writer = _delayed(tmp_path / "delay.db", prompt=lambda n: n >= 100)
    for n in range(1, 4):  # a chain's middle: nobody waits for it
        writer.submit(n)
    time.sleep(0.3)
    assert writer.pending == 3 and store.transactions == 0, "rounds nobody waits for are held back"
    writer.submit(100)  # its end: someone waits
    wait_for(lambda: writer.pending == 0, timeout=10)
    assert _rows(store) == [(1, 1), (2, 1), (3, 1), (100, 1)]
    writer.close()


def test_a_caller_waiting_for_the_writer_or_a_full_queue_ends_the_delay(tmp_path: Path) -> None:
    store, writer = _delayed(tmp_path / "waited.db", prompt=lambda n: False)
    writer.submit(1)
    writer.wait_below(1, timeout=10)  # the decider about to read the store: it must show every round
    assert writer.pending == 0 and _rows(store) == [(1, 1)]
    for n in range(2, 12):  # the tenth queued item fills the queue
        writer.submit(n)
    wait_for(lambda: writer.pending <= 1, timeout=10)
    assert [n for n, tx in _rows(store) if tx == 2] == list(range(2, 12))
    writer.submit(12)
    writer.wait_below(5, timeout=0.2)  # already below: no reason to hurry it
    assert writer.pending == 1
    writer.close()  # closing writes what is queued
    assert _rows(store)[-1][0] == 12


def test_an_urgent_item_is_written_at_once_while_rounds_wait(tmp_path: Path) -> None:
    store, writer = _delayed(tmp_path / "urgent.db", prompt=lambda n: False)
    writer.submit(1)
    writer.submit(50, urgent=True)  # a start: its caller waits
    wait_for(lambda: writer.pending == 1, timeout=10)
    assert _rows(store) == [(50, 1)]
    writer.close()


def test_a_fast_chain_commits_once_and_its_end_is_not_delayed(tmp_path: Path) -> None:
    store = _CountingStore(tmp_path / "chain.db")
    engine = Engine(store, functions={"count": lambda event, context: event}, commit_delay_seconds=60.0)
    with engine.start():
        machine = engine.service.create_state_machine("chain", CHAIN)
        assert wait_for(lambda: engine._next_sweep > 0)  # the start-up sweep, a transaction of its own, is done
        before = store.transactions
        arn = engine.service.start_execution(machine, {})
        assert engine.wait(arn, timeout=20)["status"] == "SUCCEEDED", "the end is written without the delay"
        # The start's own transaction, then one for the whole chain (a commit at its end).
        assert store.transactions - before == 2
        assert _types(engine, arn).count("LambdaFunctionSucceeded") == 3
