"""The ASGI application: AWS JSON 1.0 requests in, the Step Functions actions run on worker threads."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from stateway.api import protocol
from stateway.api.actions import StepFunctionsApi
from stateway.engine import errors as api
from stateway.engine.activity_bell import Listener
from stateway.engine.service import ACTIVITY_STARTED_WAIT_SECONDS

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

log = logging.getLogger("stateway.api")

# The largest request body read, in bytes. AWS's largest request members are a definition (1 MiB) and
# an input or output (256 KiB), so 4 MiB is far above any valid request and bounds what one request
# can make the server hold. A larger body is refused (413) as soon as that is known, the rest unread.
MAX_BODY_BYTES = 4 * 1024 * 1024

# Threads for the actions of each pool; as many requests of a pool as this run at once, the others wait.
ACTION_THREADS = 256

# Actions that may run for minutes in their request: StartSyncExecution runs a whole Express
# execution, TestState may run a task function. They get a pool of their own, so that they never
# take the threads the other actions need.
LONG_RUNNING = frozenset({"StartSyncExecution", "TestState"})


class StepFunctionsApp:
    """`POST /` with `X-Amz-Target: AWSStepFunctions.<Action>`; `GET /health` (or HEAD) reports `Engine.health`.

    Actions block (SQLite, synchronous Express runs), so they run on threads: the short ones on one
    pool, the LONG_RUNNING ones on another. GetActivityTask's long poll waits on the event loop between
    its attempts to claim a task, so an idle poll holds no thread, however many workers poll, and it
    tries again when a task of its activity is committed, so an idle poll costs no store queries.
    """

    def __init__(self, actions: StepFunctionsApi, *, threads: int = ACTION_THREADS,
                 long_running_threads: int = ACTION_THREADS) -> None:
        self.actions = actions
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="stateway-api")
        self.long_running_pool = ThreadPoolExecutor(max_workers=long_running_threads,
                                                    thread_name_prefix="stateway-api-long")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        request_id = str(uuid.uuid4())
        try:
            body = await self._body(scope, receive)
        except api.RequestEntityTooLargeException as error:
            # The rest of the body stays unread, so the connection cannot carry another request.
            await self._respond(send, error.status, protocol.error_body(error), request_id, protocol.CONTENT_TYPE,
                                close=True)
            return
        if scope["method"] in ("GET", "HEAD") and scope["path"] in ("/health", "/"):
            health = self.actions.engine.health()
            # 503 only when nothing moves (a load balancer or supervisor should act); quarantined
            # executions leave the others running: `degraded`, 200. Load balancers often probe with
            # HEAD: the same status and headers, no body.
            status = 503 if health["status"] == "failing" else 200
            await self._respond(send, status, json.dumps(health).encode(), request_id, "application/json",
                                head=scope["method"] == "HEAD")
            return
        if scope["method"] != "POST":
            await self._respond(send, 405, b'{"message":"Method Not Allowed"}', request_id, "application/json")
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        status, payload = await self._dispatch(headers.get("x-amz-target"), body, receive)
        await self._respond(send, status, payload, request_id, protocol.CONTENT_TYPE)

    @staticmethod
    async def _body(scope: Scope, receive: Receive) -> bytes:
        """The request body, its chunks joined once; refused as soon as it is known to exceed MAX_BODY_BYTES."""
        too_large = api.RequestEntityTooLargeException(
            f"Request Entity Too Large: the request body is larger than {MAX_BODY_BYTES} bytes")
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise too_large
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    async def _dispatch(self, target: str | None, body: bytes, receive: Receive) -> tuple[int, bytes]:
        try:
            action = protocol.action_of(target)
            handler = self.actions.handler(action)
            params = protocol.parse_body(body)
            if action == "GetActivityTask":
                result = await self._get_activity_task(params, receive)
            else:
                pool = self.long_running_pool if action in LONG_RUNNING else self.pool
                result = await asyncio.get_running_loop().run_in_executor(pool, handler, params)
            return 200, protocol.encode_body(result)
        except api.ApiError as exc:
            return exc.status, protocol.error_body(exc)
        except Exception as exc:  # never a stack trace on the wire; the log keeps it
            log.exception("internal error in %s", target)
            error = api.InternalFailure(f"{type(exc).__name__}: {exc}")
            return error.status, protocol.error_body(error)

    async def _get_activity_task(self, params: dict[str, Any], receive: Receive) -> dict[str, Any]:
        """GetActivityTask's long poll: claim attempts on a thread, the waits between them — and, once a task
        is claimed, for the round that records its ActivityStarted — on the event loop.

        A wait ends when the engine rings the activity's bell for a task it committed
        (stateway.engine.activity_bell), when the poll's turn to look at the store for tasks nothing
        rang for comes, or after 60 s as on AWS (`actions.activity_wait`) with an empty answer. A
        stopping server ends it at once with an empty answer, and so does a client that went away: a
        task claimed for nobody would wait for its timeouts (or for ever, without them).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.actions.activity_wait
        bell, arn = self.actions.engine.activity_bell, str(params.get("activityArn"))
        gone = asyncio.ensure_future(_disconnect(receive))
        listener: Listener | None = None
        try:
            while True:
                rung: asyncio.Future[None] = loop.create_future()
                listener = bell.listen(arn, partial(_wake, loop, rung), loop.time())
                task, started = await loop.run_in_executor(self.pool, self.actions.claim_activity_task, params)
                if started is not None:
                    # Answered once ActivityStarted is in the history, as GetExecutionHistory right after shows it.
                    recorded = asyncio.wrap_future(started)
                    try:
                        await asyncio.wait({recorded}, timeout=ACTIVITY_STARTED_WAIT_SECONDS)
                    finally:
                        recorded.cancel()  # given up (or done): the engine need not reach back into this loop
                if task or self.actions.closing.is_set():
                    return task
                while not rung.done():
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        return {}
                    await asyncio.wait({gone, rung}, timeout=min(bell.look_seconds, remaining),
                                       return_when=asyncio.FIRST_COMPLETED)
                    if self.actions.closing.is_set() or gone.done():
                        return {}
                    if bell.look_due(arn, loop.time()):
                        bell.leave(arn, listener)  # listens again before it looks
                        break
        finally:
            gone.cancel()
            if listener is not None and bell.leave(arn, listener):
                bell.ring(arn)  # it was rung for a task it will not claim: another poll may

    @staticmethod
    async def _respond(send: Send, status: int, payload: bytes, request_id: str, content_type: str, *,
                       close: bool = False, head: bool = False) -> None:
        """Send a response; to a HEAD request, its headers only (Content-Length still that of the body)."""
        headers = [
            (b"content-type", content_type.encode()),
            (b"content-length", str(len(payload)).encode()),
            (b"x-amzn-requestid", request_id.encode()),
        ]
        if close:
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head else payload})

    def close(self) -> None:
        self.actions.close()
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.long_running_pool.shutdown(wait=False, cancel_futures=True)


def _wake(loop: asyncio.AbstractEventLoop, rung: asyncio.Future[None]) -> None:
    """Resolve a waiting poll's future from the thread that rang its bell."""
    with contextlib.suppress(RuntimeError):  # the loop has closed: the poll is over
        loop.call_soon_threadsafe(_resolve, rung)


def _resolve(rung: asyncio.Future[None]) -> None:
    if not rung.done():
        rung.set_result(None)


async def _disconnect(receive: Receive) -> None:
    """Returns when the client goes away: once the body is read, the next message is its disconnect
    (any other message, from a server that sends one, leaves it waiting for ever)."""
    if (await receive()).get("type") != "http.disconnect":
        await asyncio.Event().wait()
