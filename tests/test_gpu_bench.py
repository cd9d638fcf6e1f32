"""The GPU loan's helpers, checked on the CPU: bench/gpu_tree.sh leaves paths out of what a
device call sends and puts them back, and bench/device_faces.py compares a GAN's faces."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from hw3lab.devtools.random_checkpoints import TINY_WIDTH, make_checkpoints

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                          text=True).stdout


def _tree(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(REPO / "bench" / "gpu_tree.sh"), *args], cwd=repo,
                          capture_output=True, text=True)


def test_gpu_tree_slims_and_restores_what_travels(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "checkpoints" / "digits").mkdir(parents=True)
    (repo / "checkpoints" / "digits" / "big.safetensors").write_bytes(b"x" * 70 * 2**20)
    (repo / "code.py").write_text("print(1)\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    (repo / "notes.txt").write_text("untracked, not ignored: travels\n")

    size = _tree(repo, "size")
    assert size.returncode == 1 and "TOO LARGE" in size.stdout
    assert f"would travel: {70 * 2**20 + 9 + 32} bytes" in size.stdout

    slim = _tree(repo, "slim")
    assert slim.returncode == 0 and "would travel: 41 bytes" in slim.stdout, slim.stderr
    assert (repo / "checkpoints" / "digits" / "big.safetensors").is_file()  # still on disk
    assert "checkpoints/digits/big.safetensors" not in _git(repo, "ls-files")
    assert _tree(repo, "slim").returncode == 1  # not twice

    restore = _tree(repo, "restore")
    assert restore.returncode == 0 and "TOO LARGE" in restore.stdout
    assert _git(repo, "status", "--porcelain") == "?? notes.txt\n"
    assert "gpu_tree" not in (repo / ".git" / "info" / "exclude").read_text()


def test_device_faces_compares_a_generator_with_itself_on_the_cpu(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from bench import device_faces

    folder = make_checkpoints(tmp_path / "checkpoints", methods=(), width=TINY_WIDTH)
    device_faces.main(["--checkpoint", str(folder / "gan.safetensors"), "--device", "cpu",
                       "--faces", "2", "--image", str(tmp_path / "faces.png")])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| cpu")]
    assert rows[0] == "| cpu fp32 (reference) | 0 | 0.000 | 0.00% |"
    assert rows[1] == "| cpu fp32 | 0 | 0.000 | 0.00% |" and rows[2].startswith("| cpu bf16 |")
    assert (tmp_path / "faces.png").stat().st_size > 0
