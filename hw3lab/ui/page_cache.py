"""The lab's page built once, not once per visitor.

Gradio answers ``GET /`` by copying its whole app config (every component and event: 240
components here), rewriting every file URL in it for the request's root URL and rendering it
into the page: about 100 ms of the server's CPU per page on this machine, most of it Python's
``deepcopy`` and Gradio's traversal of the copy (``bench/profile_server.py --endpoint page``).
The config does not change while the lab runs, so the page is the same for every visitor who
reaches the lab by the same address: :class:`PageCache` keeps Gradio's answer per address
(host, forwarded host and protocol, root path) and serves it again as it is.

Only the plain page is kept: a ``GET /`` without a query string (a page asked for with
``?page=``, ``?deep_link=`` or the lab's own ``?seeds=`` is built by Gradio each time),
answered 200 without setting a cookie, by a lab without a login (``--auth`` pages are per
user and are never kept).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

ADDRESSES = 16  # pages kept: one per address the lab is reached by
KEY_HEADERS = (b"host", b"x-forwarded-host", b"x-forwarded-proto", b"x-forwarded-prefix")


class PageCache:
    """ASGI middleware keeping the lab's page per address (see the module's docstring)."""

    def __init__(self, app: Any, enabled: bool = True, addresses: int = ADDRESSES) -> None:
        self.app, self.enabled, self.addresses = app, enabled, addresses
        self._pages: OrderedDict[tuple, tuple[list, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self.served = self.built = 0

    def key(self, scope: dict) -> tuple | None:
        """What the page depends on for this request, or None if it is not the plain page."""
        if (not self.enabled or scope["type"] != "http" or scope["method"] != "GET"
                or scope.get("query_string")):
            return None
        root = scope.get("root_path", "")
        path = scope["path"]
        if root and path.startswith(root):
            path = path[len(root):] or "/"
        if path != "/":
            return None
        headers = dict(scope.get("headers") or [])
        return (root, scope.get("scheme"), *(headers.get(name) for name in KEY_HEADERS))

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        key = self.key(scope)
        if key is None:
            await self.app(scope, receive, send)
            return
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
                self.served += 1
        if page is not None:
            headers, body = page
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        start: dict = {}
        chunks: list[bytes] = []

        async def keep(message: dict) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, keep)
        headers = list(start.get("headers") or [])
        if start.get("status") != 200 or any(name.lower() == b"set-cookie"
                                             for name, _ in headers):
            return
        with self._lock:
            self._pages[key] = (headers, b"".join(chunks))
            self.built += 1
            while len(self._pages) > self.addresses:
                self._pages.popitem(last=False)
