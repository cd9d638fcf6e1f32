"""When the lab is full: a clear "busy, retry in N s" answer, and a cheap health route.

A page load runs no event (every tab's first view is an initial value, :mod:`hw3lab.lab
.first_view`), so a room opening the link at once costs the lab pages, not queued model calls.
What can still fill the queue is the students' actions. Then:

- a new visitor asking for the page gets :data:`BUSY_PAGE` (HTTP 503 with ``Retry-After``),
  which says how long to wait and reloads itself then; the students already in keep their
  place: nothing queued is dropped, and they keep being served;
- an action refused by a full queue says the same thing ("the lab is busy, retry in N s")
  instead of Gradio's "Queue is full. Max size is 64 and size is 64";
- ``GET /healthz`` answers at once, with the queue's length, without touching Gradio: for the
  balancer's and the cluster's health checks (:mod:`hw3lab.serve`, ``deploy/``).

N is the queue's own estimate: the events waiting times the average time of the events it
has run, over the pool's concurrency, at least :data:`MIN_RETRY_S`.
"""

from __future__ import annotations

import json
import math
from typing import Any

import gradio as gr

HEALTH_PATH = "/healthz"
BUSY_FRACTION = 0.75  # of the queue's size: new pages are turned away from here on
MIN_RETRY_S = 3
MAX_RETRY_S = 60
DEFAULT_EVENT_S = 0.1  # an event's time before the queue has measured any
CONCURRENCY = 2  # events the interactive pool runs at once (hw3lab.ui.widgets.INTERACTIVE)

BUSY_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hw3lab: busy</title>
<meta http-equiv="refresh" content="{seconds}">
<style>body {{ font-family: sans-serif; max-width: 36em; margin: 4em auto; }}</style></head>
<body><h1>The lab is busy</h1>
<p>{waiting} requests are waiting. Please retry in {seconds} s: this page reloads itself then.
Students already in keep their place.</p></body></html>
"""


def queue_length(demo: gr.Blocks) -> int:
    """Events waiting in the app's queue (not those running)."""
    queue = getattr(demo, "_queue", None)
    return len(queue) if queue is not None else 0


def retry_seconds(demo: gr.Blocks, waiting: int) -> int:
    """How long until ``waiting`` events are served, by the queue's average event time."""
    queue = getattr(demo, "_queue", None)
    times = [t.avg_time for t in getattr(queue, "process_time_per_fn", {}).values()
             if getattr(t, "count", 0)]
    average = sum(times) / len(times) if times else DEFAULT_EVENT_S
    return int(min(MAX_RETRY_S, max(MIN_RETRY_S, math.ceil(waiting * average / CONCURRENCY))))


def busy_message(demo: gr.Blocks) -> str:
    waiting = queue_length(demo)
    return (f"The lab is busy ({waiting} requests waiting): retry in "
            f"{retry_seconds(demo, waiting)} s.")


def clear_queue_full_message(demo: gr.Blocks) -> None:
    """Make the queue refuse an event it has no room for with :func:`busy_message` (what the
    page shows), not Gradio's "Queue is full. Max size is N"; the events queued are kept.
    (Wraps the queue's ``push``: tests/test_serving.py fails if Gradio renames it.)"""
    queue = demo._queue
    push = queue.push
    if getattr(push, "busy_message", False):
        return

    async def push_or_busy(*args: Any, **kwargs: Any) -> Any:
        success, message, state = await push(*args, **kwargs)
        if state == "queue_full":
            message = busy_message(demo)
        return success, message, state

    push_or_busy.busy_message = True  # type: ignore[attr-defined]
    queue.push = push_or_busy


class BusyGate:
    """ASGI middleware: ``GET /healthz`` answered at once; the page turned away with
    :data:`BUSY_PAGE` while the queue is at least ``busy_at`` events long."""

    def __init__(self, app: Any, demo: gr.Blocks, busy_at: int) -> None:
        self.app, self.demo, self.busy_at = app, demo, busy_at

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root):] or "/"
        if path == HEALTH_PATH:
            body = json.dumps({"status": "ok", "waiting": queue_length(self.demo)}).encode()
            await _answer(send, 200, body, "application/json", head=scope["method"] == "HEAD")
            return
        waiting = queue_length(self.demo)
        if path == "/" and waiting >= self.busy_at:
            seconds = retry_seconds(self.demo, waiting)
            body = BUSY_PAGE.format(seconds=seconds, waiting=waiting).encode()
            await _answer(send, 503, body, "text/html; charset=utf-8",
                          [(b"retry-after", str(seconds).encode())], scope["method"] == "HEAD")
            return
        await self.app(scope, receive, send)


async def _answer(send: Any, status: int, body: bytes, kind: str,
                  headers: list[tuple[bytes, bytes]] | None = None, head: bool = False) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", kind.encode()),
                            (b"content-length", str(len(body)).encode()),
                            (b"cache-control", b"no-store"), *(headers or [])]})
    await send({"type": "http.response.body", "body": b"" if head else body})
