"""RedriveExecution's clientToken on a real engine and SQLite file: a redrive retried with its token is
answered as the first was, for the execution's last 10 tokens and 15 minutes after each was first used,
from what the redrive's own transaction stored."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from support import rows, task

from stateway.engine import Engine, service
from stateway.engine import errors as api

pytestmark = pytest.mark.integration

KEPT, WINDOW_MS = service.CLIENT_TOKENS_KEPT, service.CLIENT_TOKEN_WINDOW_MS


class Gate:
    """A task function that fails until the test opens it (so that every redrive fails again meanwhile),
    and that waits while the test holds it (so that a redriven execution stays RUNNING)."""

    def __init__(self) -> None:
        self.open = False
        self.free = threading.Event()
        self.free.set()

    def __call__(self, event: Any, context: Any) -> Any:
        assert self.free.wait(30)
        if not self.open:
            raise RuntimeError("closed")
        return event


@pytest.fixture
def gate() -> Gate:
    return Gate()


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tokens.db'}"


@pytest.fixture
def engine(db: str, gate: Gate) -> Iterator[Engine]:
    started = Engine(db, functions={"gate": gate}, poll_interval=0.05)
    yield started.start()
    started.stop()


def failed_execution(engine: Engine, name: str) -> str:
    machine = engine.service.create_state_machine(name, {"StartAt": "T", "States": {"T": task("gate")}})
    execution = engine.service.start_execution(machine, {"name": name})
    assert engine.wait(execution, timeout=10)["status"] == "FAILED"
    return execution


def redrive_and_fail(engine: Engine, execution: str, token: str) -> datetime:
    """Redrive with `token` and wait until the (still failing) execution has failed again."""
    date = engine.service.redrive_execution(execution, client_token=token)
    assert engine.wait(execution, timeout=10)["status"] == "FAILED"
    return date


def redrives(engine: Engine, execution: str) -> tuple[int, int]:
    """(redriveCount, ExecutionRedriven events) of the execution."""
    count = engine.service.describe_execution(execution).get("redriveCount", 0)
    return count, sum(e["type"] == "ExecutionRedriven" for e in engine.service.get_execution_history(execution))


def test_a_redrive_retried_with_its_client_token_gets_the_first_answer_and_redrives_nothing(
        engine: Engine, gate: Gate) -> None:
    execution = failed_execution(engine, "retried")
    gate.free.clear()
    first = engine.service.redrive_execution(execution, client_token="retry-me")
    assert engine.service.redrive_execution(execution, client_token="retry-me") == first  # while it runs
    with pytest.raises(api.ExecutionNotRedrivable, match="Execution is RUNNING"):
        engine.service.redrive_execution(execution, client_token="refused")  # a new request: refused
    gate.free.set()
    assert engine.wait(execution, timeout=10)["status"] == "FAILED"
    # Failed again, so redrivable: the same token still answers the first redrive instead of a second one.
    assert engine.service.redrive_execution(execution, client_token="retry-me") == first
    described = engine.service.describe_execution(execution)
    assert (described["status"], described["redriveCount"], described["redriveDate"]) == ("FAILED", 1, first)
    assert redrives(engine, execution) == (1, 1)

    # A refused request keeps no token: that one redrives the execution now. A token is the execution's
    # own: another execution redriven with it is redriven.
    second = redrive_and_fail(engine, execution, "refused")
    assert second > first and redrives(engine, execution) == (2, 2)
    other = failed_execution(engine, "other")
    assert engine.service.redrive_execution(other, client_token="retry-me") > second
    assert engine.wait(other, timeout=10)["redriveCount"] == 1
    # Without a token every request is a new one, as before.
    assert engine.service.redrive_execution(execution) > second
    assert engine.wait(execution, timeout=10)["redriveCount"] == 3
    with pytest.raises(api.ValidationException, match="at 'clientToken' failed to satisfy constraint"):
        engine.service.redrive_execution(execution, client_token="t" * 65)


def test_a_client_token_is_answered_for_15_minutes_after_its_first_use(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    execution = failed_execution(engine, "window")
    first = redrive_and_fail(engine, execution, "once")
    used_ms = round(first.timestamp() * 1000)
    monkeypatch.setattr(service, "now_ms", lambda: used_ms + WINDOW_MS)
    assert engine.service.redrive_execution(execution, client_token="once") == first  # 15 minutes on: still
    monkeypatch.setattr(service, "now_ms", lambda: used_ms + WINDOW_MS + 1)
    later = engine.service.redrive_execution(execution, client_token="once")  # a moment later: a new request
    assert round(later.timestamp() * 1000) == used_ms + WINDOW_MS + 1
    assert engine.wait(execution, timeout=10)["redriveCount"] == 2
    # The token counts from this use now.
    assert engine.service.redrive_execution(execution, client_token="once") == later


def test_only_the_last_10_client_tokens_of_an_execution_are_answered(engine: Engine) -> None:
    execution = failed_execution(engine, "last-ten")
    dates = [redrive_and_fail(engine, execution, f"token-{n}") for n in range(KEPT + 1)]
    path = Path(engine.store.path)
    kept = rows(path, "SELECT client_token FROM redrive_tokens WHERE execution_arn = ? ORDER BY redrive_ms", execution)
    assert [token for (token,) in kept] == [f"token-{n}" for n in range(1, KEPT + 1)]  # the oldest is gone
    assert engine.service.redrive_execution(execution, client_token="token-1") == dates[1]  # the oldest kept
    assert engine.service.redrive_execution(execution, client_token=f"token-{KEPT}") == dates[KEPT]
    assert redrives(engine, execution) == (KEPT + 1, KEPT + 1)
    assert engine.service.redrive_execution(execution, client_token="token-0") > dates[KEPT]  # redriven anew
    assert engine.wait(execution, timeout=10)["redriveCount"] == KEPT + 2


def test_a_client_token_outlives_the_engine_that_stored_it(engine: Engine, db: str, gate: Gate) -> None:
    """Stored with the redrive, in its transaction: the next engine on the file answers the retry."""
    execution = failed_execution(engine, "restarted")
    gate.free.clear()
    first = engine.service.redrive_execution(execution, client_token="before-the-restart")
    engine.stop()
    gate.free.set()
    gate.open = True
    with Engine(db, functions={"gate": gate}, poll_interval=0.05) as restarted:
        assert restarted.service.redrive_execution(execution, client_token="before-the-restart") == first
        done = restarted.wait(execution, timeout=10)
        assert (done["status"], done["redriveCount"]) == ("SUCCEEDED", 1)
        assert restarted.service.redrive_execution(execution, client_token="before-the-restart") == first
