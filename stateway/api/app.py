"""The ASGI application: AWS JSON 1.0 requests in, the Step Functions actions run on worker threads."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from stateway.api import protocol
from stateway.api.actions import StepFunctionsApi
from stateway.engine import errors as api

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

log = logging.getLogger("stateway.api")


class StepFunctionsApp:
    """`POST /` with `X-Amz-Target: AWSStepFunctions.<Action>`; `GET /health` reports `Engine.health`.

    Actions block (SQLite, long polls, synchronous Express runs), so each runs on a thread of its
    own pool, sized for as many long polls as the server should hold at once.
    """

    def __init__(self, actions: StepFunctionsApi, *, threads: int = 256) -> None:
        self.actions = actions
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="stateway-api")

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
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request_id = str(uuid.uuid4())
        if scope["method"] == "GET" and scope["path"] in ("/health", "/"):
            health = self.actions.engine.health()
            # 503 only when nothing moves (a load balancer or supervisor should act); quarantined
            # executions leave the others running: `degraded`, 200.
            status = 503 if health["status"] == "failing" else 200
            await self._respond(send, status, json.dumps(health).encode(), request_id, "application/json")
            return
        if scope["method"] != "POST":
            await self._respond(send, 405, b'{"message":"Method Not Allowed"}', request_id, "application/json")
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        status, payload = await self._dispatch(headers.get("x-amz-target"), body)
        await self._respond(send, status, payload, request_id, protocol.CONTENT_TYPE)

    async def _dispatch(self, target: str | None, body: bytes) -> tuple[int, bytes]:
        try:
            action = protocol.action_of(target)
            handler = self.actions.handler(action)
            params = protocol.parse_body(body)
            result = await asyncio.get_running_loop().run_in_executor(self.pool, handler, params)
            return 200, protocol.encode_body(result)
        except api.ApiError as exc:
            return exc.status, protocol.error_body(exc)
        except Exception as exc:  # never a stack trace on the wire; the log keeps it
            log.exception("internal error in %s", target)
            error = api.InternalFailure(f"{type(exc).__name__}: {exc}")
            return error.status, protocol.error_body(error)

    @staticmethod
    async def _respond(send: Send, status: int, payload: bytes, request_id: str, content_type: str) -> None:
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", content_type.encode()),
            (b"content-length", str(len(payload)).encode()),
            (b"x-amzn-requestid", request_id.encode()),
        ]})
        await send({"type": "http.response.body", "body": payload})

    def close(self) -> None:
        self.actions.close()
        self.pool.shutdown(wait=False, cancel_futures=True)
