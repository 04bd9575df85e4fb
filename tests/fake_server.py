"""A fast fake OpenAI-compatible chat server for tests and benchmarks.

It answers ``POST /v1/chat/completions`` by echoing the last user message, after
an optional delay, optionally serving at most ``capacity`` requests at once (the
others queue, first come first served, like a single-slot llama.cpp server with
``capacity=1``), and injects faults at configurable rates: 429 with
Retry-After, 500, dropped connections, malformed JSON and replies slower than
any sensible client timeout. Every request is logged (which case, which
outcome), so a test can check that a case was or was not asked again.

In a test, run it on a thread of the test process::

    with FakeServer(Faults(rate_limit=0.3)) as server:
        ... server.url ...  ->  http://127.0.0.1:PORT/v1
        server.log()         ->  [{"case": ..., "seed": ..., "outcome": ...}, ...]

For a benchmark, run it as its own process so its CPU time is not the client's::

    python -m tests.fake_server --latency-ms 200      # prints "PORT <n>", then serves
    python -m tests.fake_server --latency-ms 200 --capacity 1   # one request at a time

``GET /_log`` returns the log as JSON; ``POST /_config`` (a JSON object of
:class:`Faults` fields) changes latency and fault rates while it runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import threading
import time
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from aiohttp import web

__all__ = ["FakeServer", "Faults", "build_app"]


@dataclass(frozen=True)
class Faults:
    """Latency and the share of requests that get each fault (0..1)."""

    latency_ms: float = 0.0
    rate_limit: float = 0.0  # 429 with a Retry-After header
    retry_after: str = "0.05"  # seconds, as sent in Retry-After
    server_error: float = 0.0  # 500
    bad_request: float = 0.0  # 400, which a client must not retry
    drop: float = 0.0  # connection closed without a reply
    malformed: float = 0.0  # 200 with a body that is not JSON
    slow: float = 0.0  # a reply after slow_ms, meant to exceed the client's timeout
    slow_ms: float = 5000.0
    reply_prefix: str = ""  # put before the echoed text, to tell answers apart
    reported_model: str = ""  # the reply's "model" ("": the requested one, as most servers do)
    system_fingerprint: str = ""  # sent as "system_fingerprint" when set
    tool_calls: str = ""  # JSON of a message's "tool_calls" list: the reply proposes them
    seed: int = 0
    capacity: int = 0  # requests served at once, the rest queue; 0: no limit

    def pick(self, rng: random.Random) -> str:
        """The outcome of one request: "ok" or the name of a fault."""
        draw = rng.random()
        for name in ("rate_limit", "server_error", "bad_request", "drop", "malformed", "slow"):
            share = float(getattr(self, name))
            if draw < share:
                return name
            draw -= share
        return "ok"


class _State:
    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.rng = random.Random(faults.seed)
        self.log: list[dict[str, Any]] = []
        self.in_flight = 0
        self.peak_in_flight = 0  # most requests the server held at once, queued ones too
        self.being_served = 0
        self.peak_served = 0  # most requests served at once (at most ``capacity``)
        self.serving = _serving(faults.capacity)

    def configure(self, changes: dict[str, Any]) -> None:
        known = {f.name for f in fields(Faults)}
        self.faults = replace(self.faults, **{k: v for k, v in changes.items() if k in known})
        if "seed" in changes:
            self.rng = random.Random(self.faults.seed)
        if "capacity" in changes:
            self.serving = _serving(self.faults.capacity)


def _serving(capacity: int) -> asyncio.Semaphore | contextlib.nullcontext[None]:
    """The server's slots: ``capacity`` requests served at once, or no limit (0)."""
    return asyncio.Semaphore(int(capacity)) if capacity else contextlib.nullcontext()


STATE = web.AppKey("state", _State)


def _case_of(body: dict[str, Any]) -> str:
    users = [m.get("content", "") for m in body.get("messages", []) if m.get("role") == "user"]
    return str(users[-1]) if users else ""


def _reply(body: dict[str, Any], text: str, faults: Faults) -> bytes:
    prompt_chars = sum(len(str(m.get("content", ""))) for m in body.get("messages", []))
    fingerprint = {"system_fingerprint": faults.system_fingerprint}
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if faults.tool_calls:  # as OpenAI answers a call: no content, the calls instead
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": json.loads(faults.tool_calls),
        }
    return json.dumps(
        {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": faults.reported_model or body.get("model", "fake"),
            **(fingerprint if faults.system_fingerprint else {}),
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if faults.tool_calls else "stop",
                }
            ],
            "usage": {
                "prompt_tokens": max(1, prompt_chars // 4),
                "completion_tokens": max(1, len(text) // 4),
                "total_tokens": max(1, prompt_chars // 4) + max(1, len(text) // 4),
            },
        }
    ).encode()


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    payload = {"error": {"message": message, "type": "fake", "code": status}}
    return web.json_response(payload, status=status, headers=headers)


async def _chat(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    state.in_flight += 1
    state.peak_in_flight = max(state.peak_in_flight, state.in_flight)
    try:
        async with state.serving:  # queued here while the server's slots are busy
            state.being_served += 1
            state.peak_served = max(state.peak_served, state.being_served)
            try:
                return await _answer(request, state)
            finally:
                state.being_served -= 1
    finally:
        state.in_flight -= 1


async def _answer(request: web.Request, state: _State) -> web.StreamResponse:
    faults = state.faults
    raw = await request.read()
    body = json.loads(raw)
    outcome = faults.pick(state.rng)
    state.log.append(
        {
            "t": time.monotonic(),
            "case": _case_of(body),
            "seed": body.get("seed"),
            "response_format": body.get("response_format"),
            "tools": body.get("tools"),
            "tool_choice": body.get("tool_choice"),
            "outcome": outcome,
        }
    )
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    if outcome == "rate_limit":
        return _error(429, "rate limited (fake)", {"Retry-After": faults.retry_after})
    if outcome == "server_error":
        return _error(500, "internal error (fake)")
    if outcome == "bad_request":
        return _error(400, "bad request (fake)")
    if outcome == "drop":
        assert request.transport is not None
        request.transport.abort()  # the client sees the connection close mid-request
        return web.Response()
    if outcome == "malformed":
        return web.Response(body=b'{"choices": [{"message": ', content_type="application/json")
    if outcome == "slow":
        await asyncio.sleep(faults.slow_ms / 1000)
    text = faults.reply_prefix + _case_of(body)
    return web.Response(body=_reply(body, text, faults), content_type="application/json")


async def _models(request: web.Request) -> web.Response:
    return web.json_response({"object": "list", "data": [{"id": "fake", "object": "model"}]})


async def _get_log(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE].log)


async def _set_config(request: web.Request) -> web.Response:
    state = request.app[STATE]
    state.configure(await request.json())
    return web.json_response(asdict(state.faults))


def build_app(faults: Faults) -> web.Application:
    app = web.Application()
    app[STATE] = _State(faults)
    app.router.add_post("/v1/chat/completions", _chat)
    app.router.add_get("/v1/models", _models)
    app.router.add_get("/_log", _get_log)
    app.router.add_post("/_config", _set_config)
    return app


class FakeServer:
    """The fake server on its own event loop in a background thread."""

    def __init__(self, faults: Faults | None = None) -> None:
        self.app = build_app(faults or Faults())
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def log(self) -> list[dict[str, Any]]:
        return list(self.app[STATE].log)

    def configure(self, **changes: Any) -> None:
        self.app[STATE].configure(changes)

    @property
    def peak_in_flight(self) -> int:
        return self.app[STATE].peak_in_flight

    @property
    def peak_served(self) -> int:
        return self.app[STATE].peak_served

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def __enter__(self) -> FakeServer:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    for field in fields(Faults):
        kind = str if isinstance(field.default, str) else float
        parser.add_argument(f"--{field.name.replace('_', '-')}", type=kind)
    args = parser.parse_args(argv)
    given = {
        f.name: type(f.default)(getattr(args, f.name))
        for f in fields(Faults)
        if getattr(args, f.name, None) is not None
    }
    app = build_app(Faults(**given))

    async def serve() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", args.port)
        await site.start()
        assert site._server is not None
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        print(f"PORT {port}", flush=True)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
    sys.exit(0)


if __name__ == "__main__":
    main()
