"""recipes/shipped.sh holds, verbatim, the command that made every shipped checkpoint file."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECIPES = ROOT / "recipes" / "shipped.sh"


def records() -> dict[str, dict]:
    """Every shipped file's JSON record, by its name under checkpoints/."""
    folder = ROOT / "checkpoints"
    found = {path.relative_to(folder).with_suffix("").as_posix(): json.loads(path.read_text())
             for path in [*folder.glob("*.json"), *folder.glob("digits/*.json")]
             if path.name != "manifest.json"}
    assert found
    return found


def test_every_shipped_command_is_in_the_recipes_verbatim_and_in_order():
    lines = RECIPES.read_text().splitlines()
    commands = [line for line in lines if line.startswith("python -m ")]
    comments = [line.removeprefix("# ") for line in lines if line.startswith("# python -m ")]
    for name, record in records().items():
        assert record["command"] in commands, name
        earlier = [run["command"] for run in record.get("earlier_runs", [])]
        if earlier:
            # the earlier processes, commented, in order and right before the last one
            at = [comments.index(command) for command in earlier]
            assert at == sorted(at), name
            before = lines[:lines.index(record["command"])]
            assert [line for line in before if line.removeprefix("# ") in earlier][-len(
                earlier):] == [f"# {command}" for command in earlier], name


def test_the_manifest_records_the_same_commands():
    manifest = json.loads((ROOT / "checkpoints" / "manifest.json").read_text())["checkpoints"]
    for name, record in records().items():
        assert manifest[name]["command"] == record["command"], name


def test_the_recipes_are_valid_bash():
    import shutil
    import subprocess

    bash = shutil.which("bash")
    assert bash is not None
    subprocess.run([bash, "-n", str(RECIPES)], check=True)
