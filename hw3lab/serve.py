"""Serve a lecture hall from one machine: ``python -m hw3lab.serve --replicas N --port P``.

Starts N labs (``app.py``) as child processes on loopback ports P+1..P+N and HAProxy (Debian's
``haproxy``) in front of them on P, configured by ``deploy/haproxy.cfg`` with its ``bind`` and
``server`` lines written for these ports: a cookie keeps each student on one replica (Gradio
holds a student's queue, session and uploaded model in one process), ``/healthz`` is checked
every 2 s, and ``option redispatch`` moves the students of a replica that is down to another.
A lab that exits is started again (after ``RESTART_DELAY_S``); HAProxy takes it back once its
health check answers. Ctrl-C (or SIGTERM) stops HAProxy and every lab.

Each replica is a whole lab (its models, its first views, about 1.2 GB resident with the
shipped checkpoints), so N is bounded by memory and cores: one replica per core is the most
that helps. Any option the lab takes (``--checkpoints``, ``--data``, ``--root-path``,
``--device``) is passed to every replica; see docs/serving.md.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from hw3lab import cli
from hw3lab.errors import UserInputError

PROJECT = Path(__file__).resolve().parents[1]
CONFIG = PROJECT / "deploy" / "haproxy.cfg"
HAPROXY = ("haproxy", "/usr/sbin/haproxy")
RESTART_DELAY_S = 2.0
POLL_S = 1.0
START_TIMEOUT_S = 300.0
MAX_REPLICAS = 16
SERVER_MARKER = "    # replicas: hw3lab.serve writes one `server` line per replica here"


class ServeError(UserInputError):
    """HAProxy is missing or refuses the configuration, or a port is not usable."""


def haproxy_binary() -> str:
    for name in HAPROXY:
        found = shutil.which(name)
        if found:
            return found
    raise ServeError("HAProxy is not installed: apt-get install haproxy (Debian), or run one "
                     "lab with python app.py")


def balancer_config(template: str, host: str, port: int, replicas: list[int]) -> str:
    """``deploy/haproxy.cfg`` with HAProxy listening on ``host:port`` and one ``server`` line
    per replica port (on loopback); the error page's path made absolute."""
    lines, servers_written = [], False
    for line in template.splitlines():
        stripped = line.strip()
        if stripped.startswith("bind "):
            line = f"    bind {host}:{port}"
        elif stripped.startswith("server "):
            continue
        elif stripped.startswith("errorfile "):
            code, path = stripped.split()[1:3]
            line = f"    errorfile {code} {(PROJECT / path).resolve()}"
        lines.append(line)
        if line == SERVER_MARKER:
            lines += [f"    server lab{i} 127.0.0.1:{p} cookie lab{i}"
                      for i, p in enumerate(replicas, 1)]
            servers_written = True
    if not servers_written:
        raise ServeError(f"{CONFIG.relative_to(PROJECT)} has no line '{SERVER_MARKER.strip()}'")
    return "\n".join(lines) + "\n"


def check_config(haproxy: str, path: Path) -> None:
    answer = subprocess.run([haproxy, "-c", "-q", "-f", str(path)], capture_output=True,
                            text=True, check=False)
    if answer.returncode != 0:
        raise ServeError(f"haproxy refuses the configuration: {answer.stderr.strip()[:500]}")


@dataclass
class Replica:
    """One lab process on ``port``, started again when it exits."""

    number: int
    port: int
    command: list[str]
    log: Path
    process: subprocess.Popen | None = None
    starts: int = 0
    exited_at: float | None = None
    history: list[str] = field(default_factory=list)

    def start(self) -> None:
        with open(self.log, "a") as output:
            self.process = subprocess.Popen(
                [*self.command, "--port", str(self.port)], cwd=PROJECT,
                stdout=output, stderr=subprocess.STDOUT, env=lab_environment())
        self.starts += 1
        self.exited_at = None

    def watch(self, now: float) -> str | None:
        """Start the lab again ``RESTART_DELAY_S`` after it exited; what happened, if anything."""
        if self.process is None or self.process.poll() is None:
            return None
        if self.exited_at is None:
            self.exited_at = now
            return (f"lab{self.number} (port {self.port}, pid {self.process.pid}) exited with "
                    f"{self.process.returncode}: its students are sent to the other replicas; "
                    f"restarting it in {RESTART_DELAY_S:g} s")
        if now - self.exited_at >= RESTART_DELAY_S:
            self.start()
            return f"lab{self.number} restarted (pid {self.process.pid}, start {self.starts})"
        return None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()


def lab_environment() -> dict[str, str]:
    return {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}


def wait_until_healthy(replicas: list[Replica], timeout: float = START_TIMEOUT_S) -> None:
    """Wait until every replica's /healthz answers (each computes its first views first)."""
    deadline = time.monotonic() + timeout
    waiting = list(replicas)
    while waiting:
        for replica in list(waiting):
            if replica.process is not None and replica.process.poll() is not None:
                raise ServeError(f"lab{replica.number} stopped while starting: see "
                                 f"{replica.log}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{replica.port}/healthz",
                                            timeout=2):
                    waiting.remove(replica)
            except (urllib.error.URLError, OSError):
                pass
        if waiting and time.monotonic() > deadline:
            raise ServeError(f"labs {[r.number for r in waiting]} did not start within "
                             f"{timeout:g} s: see {waiting[0].log}")
        time.sleep(0.5)


def parse_args(argv: list[str] | None = None) -> tuple[object, list[str]]:
    parser = cli.ArgumentParser(description="Serve the lab from N replicas behind HAProxy "
                                "on one machine.")
    parser.add_argument("--replicas", type=int, default=2,
                        help="labs to start (default 2: one per core of a 2-core machine)")
    parser.add_argument("--port", type=int, default=8000,
                        help="HAProxy's port; the labs take the next N ports (default 8000)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address HAProxy listens on (0.0.0.0 for every interface)")
    parser.add_argument("--logs", type=Path, help="folder for the labs' logs (default: a "
                        "temporary folder, named when the labs start)")
    args, lab_args = parser.parse_known_args(argv)
    if not 1 <= args.replicas <= MAX_REPLICAS:
        parser.error(f"--replicas must be 1 to {MAX_REPLICAS}")
    if not 1 <= args.port <= 65535 - args.replicas:
        parser.error("--port must leave room for the replicas' ports below 65536")
    for refused in ("--port", "--host", "--share"):
        if refused in lab_args:
            parser.error(f"{refused} is the balancer's here, not a lab's")
    return args, lab_args


@cli.command
def main(argv: list[str] | None = None) -> None:
    args, lab_args = parse_args(argv)
    haproxy = haproxy_binary()
    ports = [args.port + i for i in range(1, args.replicas + 1)]
    logs = args.logs or Path(tempfile.mkdtemp(prefix="hw3lab-serve-"))
    logs.mkdir(parents=True, exist_ok=True)
    config = logs / "haproxy.cfg"
    config.write_text(balancer_config(CONFIG.read_text(), args.host, args.port, ports))
    check_config(haproxy, config)
    command = [sys.executable, str(PROJECT / "app.py"), "--host", "127.0.0.1", *lab_args]
    replicas = [Replica(i, port, command, logs / f"lab{i}.log")
                for i, port in enumerate(ports, 1)]
    balancer: subprocess.Popen | None = None
    stopping = []

    def stop(signum: int, frame: object) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGTERM, stop)
    try:
        for replica in replicas:
            replica.start()
        print(f"hw3lab.serve: starting {args.replicas} labs on ports {ports} (logs: {logs})",
              flush=True)
        wait_until_healthy(replicas)
        balancer = subprocess.Popen([haproxy, "-db", "-f", str(config)], cwd=PROJECT,
                                    stdout=open(logs / "haproxy.log", "a"),
                                    stderr=subprocess.STDOUT)
        pids = " ".join(str(r.process.pid) for r in replicas if r.process)
        print(f"hw3lab.serve: the lab is at http://{args.host}:{args.port}/ (HAProxy pid "
              f"{balancer.pid}; lab pids {pids})", flush=True)
        while not stopping:
            time.sleep(POLL_S)
            if balancer.poll() is not None:
                raise ServeError(f"HAProxy stopped ({balancer.returncode}): see "
                                 f"{logs / 'haproxy.log'}")
            now = time.monotonic()
            for replica in replicas:
                news = replica.watch(now)
                if news:
                    print(f"hw3lab.serve: {news}", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        if balancer is not None and balancer.poll() is None:
            balancer.terminate()
        for replica in replicas:
            replica.stop()
        for replica in replicas:
            if replica.process is not None:
                try:
                    replica.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    replica.process.kill()
        print("hw3lab.serve: stopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
