"""One engine per SQLite file: a second decider would apply the same events twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from stateway.engine import Engine
from stateway.store.sqlite import StoreInUse

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
    with Engine(f"sqlite:///{path}") as engine:  # no lease to wait out: the kernel dropped the lock
        arn = engine.service.create_state_machine("m", PASS)
        assert engine.wait(engine.service.start_execution(arn, {}), timeout=10)["status"] == "SUCCEEDED"
