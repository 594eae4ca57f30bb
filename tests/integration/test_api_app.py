"""The ASGI application driven as a server drives it: a request body is read in chunks and refused as
soon as it is larger than MAX_BODY_BYTES, without reading the rest."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from stateway.api.actions import StepFunctionsApi
from stateway.api.app import MAX_BODY_BYTES, StepFunctionsApp
from stateway.engine import Engine

pytestmark = pytest.mark.integration

CHUNK = 256 * 1024


def _post(app: StepFunctionsApp, chunks: int | None, tail: bytes = b"") -> tuple[dict[str, Any], Any, int]:
    """POST ListStateMachines with a body of `chunks` chunks of spaces (None: without end) then `tail`;
    answers (response start, decoded body, chunks the app read)."""
    sent: list[dict[str, Any]] = []
    read = 0

    async def receive() -> dict[str, Any]:
        nonlocal read
        read += 1
        if read > 10 * MAX_BODY_BYTES // CHUNK:
            raise AssertionError("the app keeps reading a body already over its limit")
        if chunks is not None and read > chunks:
            return {"type": "http.request", "body": tail, "more_body": False}
        return {"type": "http.request", "body": b" " * CHUNK, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/",
             "headers": [(b"x-amz-target", b"AWSStepFunctions.ListStateMachines")]}
    asyncio.run(app(scope, receive, send))
    return sent[0], json.loads(sent[1]["body"]), read


def test_a_body_without_a_length_is_refused_once_it_passes_the_limit(tmp_path: Path) -> None:
    with Engine(f"sqlite:///{tmp_path / 'app.db'}") as engine:
        app = StepFunctionsApp(StepFunctionsApi(engine), threads=2)
        try:
            start, body, read = _post(app, None)
            assert start["status"] == 413 and (b"connection", b"close") in start["headers"]
            assert body == {"__type": "RequestEntityTooLargeException",
                            "message": f"Request Entity Too Large: the request body is larger than {MAX_BODY_BYTES} bytes"}
            assert read == MAX_BODY_BYTES // CHUNK + 1, "not a chunk more than it takes to pass the limit"

            tail = b'{"maxResults": 1}'
            start, body, _ = _post(app, (MAX_BODY_BYTES - len(tail)) // CHUNK, tail)
            assert start["status"] == 200 and "stateMachines" in body, "a body within the limit is read whole"
        finally:
            app.close()
