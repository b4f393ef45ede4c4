"""The per-process cap on HTTP requests inside Django (config/asgi.py)."""

import asyncio

import pytest

from config.asgi import HttpConcurrencyLimit


class Gate:
    """An ASGI app whose requests record that they entered, then wait to be let through
    and answer with one or two body parts."""

    def __init__(self):
        self.entered = []
        self.release = {}

    async def __call__(self, scope, receive, send):
        name = scope["path"]
        self.release[name] = asyncio.Event()
        self.entered.append(name)
        await self.release[name].wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        self.release[name] = asyncio.Event()
        await self.release[name].wait()  # a streamed body: still producing
        await send({"type": "http.response.body", "body": b"end"})


async def wait_until(condition):
    async def poll():
        while not condition():
            await asyncio.sleep(0)

    await asyncio.wait_for(poll(), 5)  # a slot never given back fails, not hangs


async def request(app, path, sent):
    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append((path, message["type"]))

    await app({"type": "http", "path": path}, receive, send)


async def test_a_request_past_the_limit_waits_until_one_inside_starts_its_response():
    gate, sent = Gate(), []
    app = HttpConcurrencyLimit(gate, 1)
    first = asyncio.create_task(request(app, "/a", sent))
    second = asyncio.create_task(request(app, "/b", sent))
    await wait_until(lambda: gate.entered == ["/a"])
    for _ in range(20):
        await asyncio.sleep(0)
    assert gate.entered == ["/a"]  # /b waits for the slot

    gate.release["/a"].set()  # /a starts its response; its body is still streaming
    await wait_until(lambda: gate.entered == ["/a", "/b"])
    assert ("/a", "http.response.start") in sent
    assert not first.done()

    gate.release["/a"].set()
    gate.release["/b"].set()
    await wait_until(lambda: "/b" in gate.release and not gate.release["/b"].is_set())
    gate.release["/b"].set()
    await asyncio.wait_for(asyncio.gather(first, second), 5)
    assert sent.count(("/a", "http.response.body")) == 2
    assert sent.count(("/b", "http.response.body")) == 2


async def test_a_request_that_fails_before_answering_gives_its_slot_back():
    calls = []

    async def failing(scope, receive, send):
        calls.append(scope["path"])
        raise RuntimeError("boom")

    app = HttpConcurrencyLimit(failing, 1)
    for path in ("/a", "/b"):
        with pytest.raises(RuntimeError, match="boom"):
            await asyncio.wait_for(request(app, path, []), 5)
    assert calls == ["/a", "/b"]
    assert not app.slots.locked()
