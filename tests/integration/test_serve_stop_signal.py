"""A stop signal that arrives while the main thread holds the lock of the activity polls' bell: `serve`
ends the waiting polls without waiting for a lock its own thread holds (it used to hang for good)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from stateway.api.actions import StepFunctionsApi
from stateway.api.server import end_polls_soon
from stateway.engine import Engine

pytestmark = pytest.mark.integration


def test_ending_the_polls_from_a_signal_handler_does_not_wait_for_a_lock_its_thread_holds(tmp_path: Path) -> None:
    with Engine(f"sqlite:///{tmp_path / 's.db'}") as engine:
        actions = StepFunctionsApi(engine)
        bell = engine.activity_bell
        woken = threading.Event()
        bell.listen("arn:aws:states:us-east-1:123456789012:activity:a", woken.set, time.monotonic())
        returned, rescued = threading.Event(), threading.Event()

        def rescue() -> None:  # without the fix the call below would wait for good: end the test instead
            if not returned.wait(10):
                rescued.set()
                bell._lock.release()

        bell._lock.acquire()  # as a poll leaving the bell holds it when the signal's handler runs
        threading.Thread(target=rescue, daemon=True).start()
        end_polls_soon(actions)
        returned.set()
        assert not rescued.is_set(), "ending the polls waited for the lock its own thread held"
        assert not woken.is_set()  # not yet: the lock is still held
        bell._lock.release()
        assert woken.wait(10) and actions.closing.wait(10)
        actions.close()
