"""`stateway run` ended by SIGTERM (a supervisor, `kill`, a container stop) as Ctrl-C ends it: a message,
exit status 143, the engine stopped cleanly; a durable run's execution stays stored and goes on when an
engine next runs on the file."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import rows

from stateway.engine import Engine

pytestmark = pytest.mark.e2e


def started_run(tmp_path: Path, *where: str) -> subprocess.Popen[str]:
    """`stateway run` of a machine whose one task is running (it sleeps for ten minutes)."""
    started = tmp_path / "started"
    (tmp_path / "fns").mkdir()
    (tmp_path / "fns" / "slow.py").write_text(
        f"import pathlib, time\n\ndef handler(event, context):\n    pathlib.Path({str(started)!r}).touch()\n"
        "    time.sleep(600)\n")
    machine = tmp_path / "slow.asl.json"
    machine.write_text(json.dumps({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:slow", "End": True}}}))
    run = subprocess.Popen([sys.executable, "-m", "stateway.cli.main", "run", str(machine), "--name", "stopped",
                            "--functions", str(tmp_path / "fns"), *where],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.02)
    assert started.exists(), run.communicate(timeout=60)
    return run


def terminated(run: subprocess.Popen[str]) -> tuple[int, str]:
    try:
        run.send_signal(signal.SIGTERM)
        _, stderr = run.communicate(timeout=60)
    finally:
        run.kill()
    return run.returncode, stderr


def test_sigterm_ends_a_durable_run_with_a_message_and_its_execution_goes_on_later(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    run = started_run(tmp_path, "--db", f"sqlite:///{db}")
    assert terminated(run) == (143, "stateway: terminated\n")
    arn = "arn:aws:states:us-east-1:123456789012:execution:slow:stopped"
    assert rows(db, "SELECT status FROM executions WHERE arn = ?", arn) == [("RUNNING",)]
    # The next engine on the file runs the task that was in flight again, and the execution ends.
    with Engine(f"sqlite:///{db}", functions={"slow": lambda event, context: "finished later"}) as engine:
        done = engine.wait(arn, timeout=30)
    assert (done["status"], done["output"]) == ("SUCCEEDED", '"finished later"')


def test_sigterm_ends_an_in_memory_run_with_a_message(tmp_path: Path) -> None:
    """The task function runs in the main thread there: SIGTERM stops the run, it does not fail the task."""
    run = started_run(tmp_path, "--in-memory")
    assert terminated(run) == (143, "stateway: terminated\n")
