"""Server CPU per stage change of the Training tab's three endpoints.

Run from the repository root::

    nice -n 19 .venv/bin/python -m bench.timelines [--calls 40] [--checkpoints DIR]

copies the checkpoints (the shipped ones by default), gives every run that has no timeline a
random one of a real run's size (300 + 300 digits, 500 faces, 12 stages: the views' cost
depends on these sizes, not on what the pictures show), starts ``app.py`` on the copy, asks each
endpoint once for every stage (the views of a timeline are built on first use, then kept), then
``--calls`` times for random stages, and prints the server's CPU time per request (user +
system, all threads) and the median wall time. Target: under 100 ms of server CPU a change.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
from pathlib import Path

from bench.cpu_per_request import measure
from bench.light_client import LightClient
from hw3lab.checkpoints import read_metadata
from hw3lab.devtools.running_lab import running_lab
from hw3lab.devtools.timelines import add_timelines
from hw3lab.inference import DEFAULT_CHECKPOINTS
from hw3lab.lab.timelines import read_timeline
from hw3lab.training.timeline import MAX_STAGES, PROBE_DIGITS

TARGET_MS = 100.0
TASK = "usps->mnistm"


def stage_count(checkpoints: Path, checkpoint: str) -> int:
    """How many stages the timeline named in ``checkpoint``'s JSON holds."""
    record = read_metadata(checkpoints / f"{checkpoint}.safetensors")
    return len(read_timeline(checkpoints / record["timeline"])["epochs"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--checkpoints", type=Path, default=DEFAULT_CHECKPOINTS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hw3lab-timelines-") as temporary:
        work = Path(temporary)
        checkpoints = work / "checkpoints"
        shutil.copytree(args.checkpoints, checkpoints)
        add_timelines(checkpoints, stages=MAX_STAGES, points=PROBE_DIGITS, only_missing=True)
        with running_lab("--checkpoints", str(checkpoints), "--data", str(work / "no-data"),
                         timeout=900) as (url, _, pid):
            client = LightClient(url)
            calls = {  # endpoint: (its arguments for a stage, the timeline it shows)
                "/vae_timeline": (lambda stage: (stage, "Smiling"), "vae"),
                "/gan_timeline": (lambda stage: (stage,), "gan"),
                "/digits_timeline": (lambda stage: (TASK, "dann", stage),
                                     "digits/usps-mnistm-dann"),
            }
            stages = {name: stage_count(checkpoints, checkpoint)
                      for name, (_, checkpoint) in calls.items()}
            for name, (arguments, _) in calls.items():  # every stage's view built once
                for stage in range(stages[name]):
                    client.predict(*arguments(stage), api_name=name)
            rng = random.Random(0)
            rows = [(name, *measure(pid, args.calls, lambda _, n=name, a=arguments:
                                    client.predict(*a(rng.randrange(stages[n])), api_name=n)))
                    for name, (arguments, _) in calls.items()]
    print(f"server CPU per stage change, {args.calls} calls each (checkpoints "
          f"{args.checkpoints.name}/, missing timelines made up at a real run's size)\n")
    print("| endpoint | server CPU ms/request | client CPU ms/request | wall p50 ms | "
          "within 100 ms |")
    print("|---|---:|---:|---:|---|")
    for name, server, client_ms, wall in rows:
        print(f"| {name} | {server:.1f} | {client_ms:.1f} | {wall:.0f} | "
              f"{'yes' if server <= TARGET_MS else 'NO'} |")


if __name__ == "__main__":
    main()
