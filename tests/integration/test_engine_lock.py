"""One engine per SQLite file: a second decider would apply the same events twice."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from stateway.engine import Engine
from stateway.store.sqlite import SqliteStore, StoreInUse

pytestmark = pytest.mark.integration

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


def test_a_second_engine_on_the_same_file_is_refused_until_the_first_stops(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'one.db'}"
    first = Engine(db).start()
    second = Engine(db)
    with pytest.raises(StoreInUse, match=f"process {os.getpid()}"):
        second.start()
    arn = first.service.create_state_machine("m", PASS)
    execution = first.service.start_execution(arn, {})
    assert first.wait(execution, timeout=10)["status"] == "SUCCEEDED"
    first.stop()
    with second.start():
        execution = second.service.start_execution(arn, {"again": True})
        assert second.wait(execution, timeout=10)["status"] == "SUCCEEDED"


def test_a_killed_engine_frees_the_file_at_once(tmp_path: Path) -> None:
    path = tmp_path / "killed.db"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from stateway.engine import Engine
        Engine({f"sqlite:///{path}"!r}).start()
        print("ready", flush=True)
        time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreInUse, match=f"process {holder.pid}"):
            Engine(f"sqlite:///{path}").start()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    assert Path(f"{path}.engine").exists()  # left behind by the kill: a stale file, not a lock
    with Engine(f"sqlite:///{path}") as engine:  # no lease to wait out: the kernel dropped the lock
        arn = engine.service.create_state_machine("m", PASS)
        assert engine.wait(engine.service.start_execution(arn, {}), timeout=10)["status"] == "SUCCEEDED"


def test_a_clean_stop_removes_the_lock_file(tmp_path: Path) -> None:
    lock = tmp_path / "clean.db.engine"
    engine = Engine(f"sqlite:///{tmp_path / 'clean.db'}").start()
    assert lock.read_text() == str(os.getpid())
    engine.stop()
    assert not lock.exists()
    with Engine(f"sqlite:///{tmp_path / 'clean.db'}"):  # and the file is taken again as before
        assert lock.exists()
    assert not lock.exists()


def test_an_engine_that_locks_a_file_removed_meanwhile_takes_the_new_one(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The race a removed lock file opens: B opens `<file>.engine`, A stops (removes the file and drops
    its lock), B locks the removed file. B must not count as the engine then, or a third engine would
    create a new file, lock it too, and run beside B."""
    path = tmp_path / "raced.db"
    first, second, third = SqliteStore(path), SqliteStore(path), SqliteStore(path)
    first.claim_engine()
    real_flock = fcntl.flock
    stopped: list[bool] = []

    def first_stops_meanwhile(fd: int, operation: int) -> None:
        if not stopped:
            stopped.append(True)
            first.release_engine()  # after `second` opened the file, before it locks it
        real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", first_stops_meanwhile)
    second.claim_engine()
    monkeypatch.setattr(fcntl, "flock", real_flock)
    assert stopped and Path(f"{path}.engine").read_text() == str(os.getpid())
    with pytest.raises(StoreInUse):
        third.claim_engine()
    second.release_engine()
    third.claim_engine()
    third.release_engine()


def test_a_stopped_engine_is_not_started_again_but_a_new_one_runs(tmp_path: Path) -> None:
    """A stopped Engine's pools are closed: starting it again would take executions it never runs."""
    db = f"sqlite:///{tmp_path / 'x.db'}"
    engine = Engine(db, functions={"ok": lambda event, context: event}).start()
    engine.stop()
    with pytest.raises(RuntimeError, match="create a new Engine"):
        engine.start()
    with Engine(db, functions={"ok": lambda event, context: event}) as fresh:
        arn = fresh.service.create_state_machine("m", {"StartAt": "T", "States": {"T": {
            "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:ok", "End": True}}})
        assert fresh.wait(fresh.service.start_execution(arn, {"a": 1}))["status"] == "SUCCEEDED"
