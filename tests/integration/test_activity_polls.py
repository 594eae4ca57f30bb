"""GetActivityTask's long poll through the ASGI app, in process: a waiting poll costs no store query and
is answered when the engine commits a task of its activity; a look at the store is only the fallback."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stateway.api.actions import StepFunctionsApi
from stateway.api.app import StepFunctionsApp
from stateway.engine import Engine

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::123456789012:role/polls"


class Polls:
    """An engine with the API app on it, and the claim attempts its store has answered."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.api = StepFunctionsApi(engine)
        self.api.activity_wait = 30.0
        self.app = StepFunctionsApp(self.api, threads=8)
        self.claims = 0
        read = engine.store.one

        def counted(name: str, params: Any = ()) -> Any:
            if name == "next_activity_task":  # once a claim attempt (beside the look-up of the activity)
                self.claims += 1
            return read(name, params)
        engine.store.one = counted  # type: ignore[method-assign]

    def activity(self, name: str) -> tuple[str, str]:
        """An activity and a state machine whose one Task state is that activity."""
        arn = self.api.call("CreateActivity", {"name": name})["activityArn"]
        machine = self.api.call("CreateStateMachine", {"name": f"{name}-machine", "roleArn": ROLE, "definition": (
            json.dumps({"StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": arn, "End": True}}}))})
        return arn, machine["stateMachineArn"]

    def schedule(self, machine: str) -> None:
        """Start an execution, which schedules one activity task (in the engine's next round)."""
        self.api.call("StartExecution", {"stateMachineArn": machine})

    async def until(self, claims: int) -> None:
        while self.claims < claims:
            await asyncio.sleep(0.005)


class Poll:
    """One GetActivityTask request held open in the app, as a server holds it; `leave()` is its
    client going away."""

    def __init__(self, polls: Polls, activity_arn: str) -> None:
        self._body = json.dumps({"activityArn": activity_arn}).encode()
        self._left = asyncio.Event()
        self._sent: list[dict[str, Any]] = []
        self.answer = asyncio.ensure_future(self._run(polls.app))

    async def _run(self, app: StepFunctionsApp) -> dict[str, Any]:
        scope = {"type": "http", "method": "POST", "path": "/",
                 "headers": [(b"x-amz-target", b"AWSStepFunctions.GetActivityTask")]}
        await app(scope, self._receive, self._send)
        return json.loads(self._sent[1]["body"])  # type: ignore[no-any-return]

    async def _receive(self) -> dict[str, Any]:
        if self._body:
            body, self._body = self._body, b""
            return {"type": "http.request", "body": body, "more_body": False}
        await self._left.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: dict[str, Any]) -> None:
        self._sent.append(message)

    def leave(self) -> None:
        self._left.set()


@pytest.fixture
def polls(tmp_path: Path) -> Iterator[Polls]:
    with Engine(f"sqlite:///{tmp_path / 'polls.db'}") as engine:
        polls = Polls(engine)
        # No look at the store for tasks nothing rang for while a test runs (the last test turns it on):
        # what answers a poll here is the engine's ring.
        engine.activity_bell.look_seconds = 3600.0
        try:
            yield polls
        finally:
            polls.app.close()


def test_a_waiting_poll_is_answered_when_its_task_is_scheduled(polls: Polls) -> None:
    arn, machine = polls.activity("review")

    async def scenario() -> None:
        poll = Poll(polls, arn)
        await polls.until(1)  # its first attempt, which finds nothing
        await asyncio.sleep(0.3)
        assert polls.claims == 1, "a waiting poll does not query the store"
        polls.schedule(machine)
        answer = await asyncio.wait_for(poll.answer, 10)
        assert answer["taskToken"] and json.loads(answer["input"]) == {}
        assert polls.claims == 2, "one attempt more, once the task was committed"

    asyncio.run(scenario())


def test_a_poll_answers_once_its_tasks_activity_started_is_in_the_history(polls: Polls) -> None:
    """As on AWS, GetExecutionHistory right after GetActivityTask shows ActivityStarted: the poll waits,
    on the event loop, for the round that records it to be durable."""
    arn, machine = polls.activity("recorded")
    held, release = threading.Event(), threading.Event()
    write = polls.engine._writer._write

    def holding(db: Any, batch: list[Any]) -> None:  # holds the round that records the start
        if any(getattr(item, "work", None) is not None and item.work.started_tasks for item in batch):
            held.set()
            release.wait(10)
        write(db, batch)

    polls.engine._writer._write = holding  # type: ignore[method-assign]

    async def scenario() -> None:
        execution = polls.api.call("StartExecution", {"stateMachineArn": machine})["executionArn"]
        poll = Poll(polls, arn)
        while not held.is_set():  # claimed: the round that records ActivityStarted is being written
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.3)
        assert not poll.answer.done(), "no answer while ActivityStarted is not durable"
        release.set()
        answer = await asyncio.wait_for(poll.answer, 5)
        assert answer["taskToken"]
        events = polls.engine.service.get_execution_history(execution)
        assert [e["type"] for e in events][-1] == "ActivityStarted"

    asyncio.run(scenario())


def test_idle_polls_cost_no_store_queries_and_a_task_wakes_one_of_them(polls: Polls) -> None:
    arn, machine = polls.activity("idle")
    n = 100

    async def scenario() -> None:
        waiting = [Poll(polls, arn) for _ in range(n)]
        await polls.until(n)  # every poll's first attempt
        await asyncio.sleep(1.0)
        assert polls.claims == n, "no query from the idle polls over a second"
        polls.schedule(machine)
        done, _ = await asyncio.wait([p.answer for p in waiting], timeout=10, return_when=asyncio.FIRST_COMPLETED)
        assert len(done) == 1 and done.pop().result()["taskToken"]
        await asyncio.sleep(0.2)
        assert polls.claims == n + 1, "the task woke one poll, not all of them"
        assert sum(p.answer.done() for p in waiting) == 1
        polls.api.end_polls()  # a stopping server: the others end at once, with no task
        answers = await asyncio.wait_for(asyncio.gather(*(p.answer for p in waiting)), 5)
        assert sum("taskToken" in a for a in answers) == 1

    asyncio.run(scenario())


def test_a_poll_whose_client_left_as_it_was_rung_passes_the_ring_on(polls: Polls) -> None:
    """Else the task would wait for the next look at the store while another poll waits for it."""
    arn, machine = polls.activity("handed-on")
    bell = polls.engine.activity_bell
    unheard: list[str] = []

    async def scenario() -> None:
        first = Poll(polls, arn)
        await polls.until(1)
        second = Poll(polls, arn)
        await polls.until(2)
        bell.ring = unheard.append  # type: ignore[method-assign]
        polls.schedule(machine)
        while not unheard:  # the engine committed the task and rang for it, unheard
            await asyncio.sleep(0.005)
        del bell.ring
        # The first poll (the longest waiting) is rung as its client goes away: it sees the client gone
        # first (asyncio runs the callbacks in order) and answers nothing.
        first.leave()
        bell.ring(arn)
        assert await asyncio.wait_for(first.answer, 5) == {}
        answer = await asyncio.wait_for(second.answer, 5)
        assert answer["taskToken"]
        assert polls.claims == 3, "the second poll's first attempt, and one once the ring was passed on"

    asyncio.run(scenario())


def test_a_task_nothing_rang_for_is_found_by_a_look_at_the_store(polls: Polls) -> None:
    """As one written by another process on the same file: correctness never depends on the ring."""
    arn, machine = polls.activity("unrung")
    bell = polls.engine.activity_bell
    bell.look_seconds = 0.2
    bell.ring = lambda _arn: None  # type: ignore[method-assign]
    n = 20

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        waiting = [Poll(polls, arn) for _ in range(n)]
        await asyncio.sleep(1.0)
        polls.schedule(machine)
        done, _ = await asyncio.wait([p.answer for p in waiting], timeout=5, return_when=asyncio.FIRST_COMPLETED)
        assert done and done.pop().result()["taskToken"]
        # Each poll's first attempt, then one look per 0.2 s between them all (not one per poll).
        assert polls.claims <= n + (loop.time() - started) / 0.2 + 1
        polls.api.end_polls()
        await asyncio.wait_for(asyncio.gather(*(p.answer for p in waiting)), 5)

    asyncio.run(scenario())
