"""A light client for the lab's API, for benches that play many users in one process.

Why not ``gradio_client``: it costs about 230 ms of CPU per request on the client side
(``bench/load.py --students 50`` with it: the 50 simulated students used 1.5 of the machine's
2 cores, the lab 0.35), so on this machine the simulated class, not the lab, set the latency.
This client speaks Gradio's documented HTTP API with one keep-alive connection and one
session per user:

- a file argument (``gradio_client.handle_file(path)``) is uploaded first
  (``POST /gradio_api/upload``), as a browser does;
- ``POST /gradio_api/call/NAME`` queues the event, ``GET /gradio_api/call/NAME/EVENT`` reads
  its server-sent events to ``complete`` (or ``error``);
- every file in the outputs is downloaded, as a browser shows an image.
"""

from __future__ import annotations

import http.client
import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PREFIX = "/gradio_api"


class LabError(RuntimeError):
    """The lab answered an event with an error (the message it shows a user)."""


class LightClient:
    """One user's connection to a running lab at ``url``; not shared between threads."""

    def __init__(self, url: str, timeout: float = 600.0) -> None:
        parts = urlsplit(url)
        self.host, self.port, self.timeout = parts.hostname, parts.port, timeout
        self.connection = self._connect()
        # One session per user, as a browser tab has: without it every call is a new session,
        # whose state Gradio builds from all the page's components (40 ms of the lab's CPU).
        self.session = uuid.uuid4().hex

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> bytes:
        """The body of a 200 answer; one retry on a fresh connection if the old one closed."""
        for attempt in (0, 1):
            try:
                self.connection.request(method, path, body, headers or {})
                response = self.connection.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.connection.close()
                self.connection = self._connect()
                if attempt:
                    raise
        if response.status != 200:
            raise LabError(f"{method} {path}: HTTP {response.status}: {data[:200]!r}")
        return data

    def upload(self, path: Path) -> dict[str, Any]:
        """Upload one file; its FileData for an event's arguments."""
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
                f"filename=\"{path.name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                ).encode() + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
        server_path = json.loads(self.request(
            "POST", f"{PREFIX}/upload", body,
            {"Content-Type": f"multipart/form-data; boundary={boundary}"}))[0]
        return {"path": server_path, "orig_name": path.name,
                "meta": {"_type": "gradio.FileData"}}

    def _uploaded(self, value: Any) -> Any:
        """``value`` with every local file (``handle_file``'s dicts) replaced by its upload."""
        if isinstance(value, dict):
            if value.get("meta", {}).get("_type") == "gradio.FileData" and "url" not in value:
                return self.upload(Path(value["path"]))
            return {key: self._uploaded(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self._uploaded(item) for item in value]
        return value

    def _download_files(self, value: Any) -> None:
        if isinstance(value, dict):
            if value.get("url") and value.get("meta", {}).get("_type") == "gradio.FileData":
                if not value["url"].startswith("data:"):  # inline: nothing to fetch
                    self.request("GET", urlsplit(value["url"]).path)
                return
            for item in value.values():
                self._download_files(item)
        elif isinstance(value, list):
            for item in value:
                self._download_files(item)

    def predict(self, *arguments: Any, api_name: str) -> list[Any]:
        """Run the event named ``api_name`` (e.g. "/gan_face"); its outputs."""
        name = api_name.lstrip("/")
        body = self._body(arguments)
        event = json.loads(self.request("POST", f"{PREFIX}/call/{name}", body,
                                        {"Content-Type": "application/json"}))["event_id"]
        stream = self.request("GET", f"{PREFIX}/call/{name}/{event}").decode()
        kind, data = None, None
        for block in stream.split("\n\n"):
            lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
            if lines.get("event") in ("complete", "error"):
                kind, data = lines["event"], json.loads(lines.get("data", "null"))
                break
        if kind != "complete":
            raise LabError(f"{api_name}: {data if kind else 'no answer'}")
        self._download_files(data)
        return data

    def run(self, *arguments: Any, api_name: str) -> list[Any]:
        """Run an event declared ``queue=False`` as the browser sends one: a single
        ``POST /gradio_api/run/NAME``, no queue; its outputs."""
        body = self._body(arguments)
        data = json.loads(self.request("POST", f"{PREFIX}/run/{api_name.lstrip('/')}", body,
                                       {"Content-Type": "application/json"}))["data"]
        self._download_files(data)
        return data

    def _body(self, arguments: tuple[Any, ...]) -> bytes:
        """An event's JSON body: its arguments (local files uploaded first) and the session."""
        return json.dumps({"data": self._uploaded(list(arguments)),
                           "session_hash": self.session}).encode()

    def close(self) -> None:
        self.connection.close()
