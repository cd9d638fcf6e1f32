"""Start ``python app.py`` as a separate process on a free local port and wait for its first
page: how the app tests, the latency bench and the load bench see the lab, as a user would."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the checkout: app.py


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_lab(*args: str, timeout: float = 60.0,
                env: dict[str, str] | None = None) -> Iterator[tuple[str, Path, int]]:
    """``python app.py ARGS`` on a free port of 127.0.0.1; yields its URL once the first page
    serves, the file its output goes to and its process id; stops it afterwards."""
    port = free_port()
    with running_server([str(ROOT / "app.py"), "--host", "127.0.0.1", "--port", str(port),
                         *args], port, timeout, env) as started:
        yield started


@contextmanager
def running_server(script: list[str], port: int, timeout: float = 60.0,
                   env: dict[str, str] | None = None) -> Iterator[tuple[str, Path, int]]:
    """``python SCRIPT...``, a web server that listens on ``port`` of 127.0.0.1, started as
    :func:`running_lab` starts the lab."""
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
                   **(env or {})}
    log = Path(tempfile.mkdtemp(prefix="hw3lab-lab-")) / "app.log"
    with open(log, "w") as output:
        process = subprocess.Popen([sys.executable, *script], cwd=ROOT, env=environment,
                                   stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2):
                    break
            except urllib.error.HTTPError:
                break  # it answers (e.g. 401 behind --auth)
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the lab did not start: {log.read_text()}") from None
                time.sleep(0.2)
        yield url, log, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
