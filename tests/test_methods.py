"""The registry of digit methods: everything that lists methods follows it, and a registered
method without a checkpoint (mean teacher ships none yet) is reported, never crashed on."""

from __future__ import annotations

import ast
from pathlib import Path

import gradio as gr
import pytest

from bench import adabn_baseline
from hw3lab import figures, predict
from hw3lab.devtools.random_checkpoints import TASK, make_checkpoints
from hw3lab.inference import METHOD_NAME
from hw3lab.lab import LabContext, digits, tsne
from hw3lab.lab.own_models import OWN_TITLE
from hw3lab.methods import METHODS, TASKS, needs, task_name
from hw3lab.ui.tabs import digits as digits_tab
from hw3lab.ui.widgets import user_errors

TASK_NAME = "->".join(TASK)
TITLES = [m.title for m in METHODS.values()]
PACKAGE = Path(__file__).resolve().parent.parent / "hw3lab"


def test_the_registry_is_consistent() -> None:
    assert list(METHODS) == [m.name for m in METHODS.values()]
    assert all(METHOD_NAME.fullmatch(name) for name in METHODS)
    assert len(set(TITLES)) == len(TITLES)
    for method in METHODS.values():
        assert method.trains == f"python -m train.{method.name}"
        if method.predictor_from is not None:  # reused from a method that holds its own
            assert METHODS[method.predictor_from].predictor_from is None
    assert needs("adda") == ("adda", "source_only") and needs("mine") == ("mine",)


def test_no_module_of_the_package_lists_methods_itself() -> None:
    """A tuple, list, set or dict naming two registered methods outside the registry is a
    method list that a new method would have to be added to."""
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "methods.py" and path.parent == PACKAGE:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Tuple | ast.List | ast.Set | ast.Dict):
                named = {n.value for n in ast.walk(node)
                         if isinstance(n, ast.Constant) and n.value in METHODS}
                assert len(named) < 2, f"{path.relative_to(PACKAGE.parent)}:{node.lineno} " \
                                       f"lists {sorted(named)}: read hw3lab.methods.METHODS"


def test_the_lab_shows_exactly_the_registered_methods(lab: LabContext) -> None:
    headers = digits.prediction_headers("image")
    assert headers == ["image", *TITLES, OWN_TITLE]
    _, _, table = digits.classify_example(lab, TASK_NAME, 0)
    assert len(table[0]) == len(headers) and all(c.endswith("%)") for c in table[0][1:-1])
    rows = digits.accuracy_table(lab)
    assert [row[1] for row in rows if row[0] == TASK_NAME] == TITLES
    assert len(rows) == len(TASKS) * len(METHODS)
    assert [s for s in tsne.SPACES if s.startswith(TASK_NAME)] == [
        f"{TASK_NAME} {m}" for m in METHODS]
    with gr.Blocks() as tab:
        digits_tab.build(lab, tab)
    components = list(tab.blocks.values())
    method = next(c for c in components if isinstance(c, gr.Dropdown) and c.label == "Method")
    assert method.choices == [(m.title, m.name) for m in METHODS.values()]
    tables = [c.headers for c in components if isinstance(c, gr.Dataframe)]
    assert headers in tables and digits.prediction_headers("style") in tables


def test_figures_and_the_adabn_bench_cover_the_registered_methods(
        tmp_path: Path, tiny_data: Path, lab_checkpoints: Path,
        capsys: pytest.CaptureFixture) -> None:
    _, skipped = figures.make_figures(tmp_path / "figs", tmp_path / "none", tiny_data,
                                      digit_count=8, device="cpu")
    planned = {reason.split(": ")[0] for reason in skipped}
    assert {f"{m} t-SNE {s}->{t}" for s, t in TASKS for m in METHODS} <= planned
    adabn_baseline.main(["--data", str(tiny_data), "--checkpoints", str(lab_checkpoints)])
    out, err = capsys.readouterr()
    rows = [line.split(" | ") for line in out.splitlines()[2:]]
    assert [row[0].strip("| ") for row in rows] == [
        shown for m in METHODS.values() for shown in (
            (m.title, f"{m.title} + AdaBN") if m.name == adabn_baseline.BASELINE else (m.title,))]
    assert all(row[1].replace(".", "").isdigit() and row[2] == "-" for row in rows)
    assert "missing checkpoint" in err  # the tasks the lab's checkpoints leave out


def test_predict_names_every_method(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        predict.main(["--help"])
    shown = capsys.readouterr().out
    assert all(name in shown for name in METHODS)


@pytest.mark.parametrize("absent", list(METHODS))
def test_a_method_without_its_checkpoint_is_reported(absent: str, tmp_path: Path,
                                                     tiny_data: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    folder = make_checkpoints(tmp_path / "ckpt", tuple(m for m in METHODS if m != absent),
                              faces=False)
    ctx = LabContext(folder, tmp_path / "no-data")
    unavailable = [m for m in METHODS if absent in needs(m)]  # ADDA too without source-only
    _, _, table = digits.classify_example(ctx, TASK_NAME, 0)
    for method, cell in zip(METHODS, table[0][1:-1], strict=True):
        assert (cell == digits.NO_CHECKPOINT) == (method in unavailable), (method, cell)
    rows = {row[1]: row for row in digits.accuracy_table(ctx) if row[0] == TASK_NAME}
    assert rows[METHODS[absent].title][-1] == "not trained"
    assert f"{TASK_NAME} {absent}" in digits.data_note(ctx)
    for method in unavailable:
        expected = f"No {absent} checkpoint.* {task_name(*TASK)} .*{METHODS[absent].trains}"
        with pytest.raises(gr.Error, match=expected):
            user_errors(digits.batch_csv)(ctx, TASK_NAME, method, [])
        with pytest.raises(gr.Error, match=expected):
            user_errors(tsne.run_tsne)(ctx, f"{TASK_NAME} {method}", 60, 10, "class")
    images = tmp_path / "images"
    images.mkdir()
    digit = next((tiny_data / "digits" / "mnistm" / "test").glob("*.png"))
    (images / digit.name).write_bytes(digit.read_bytes())
    code = predict.main(["--target", "mnistm", "--images", str(images), "--out",
                         str(tmp_path / "pred.csv"), "--method", absent, "--checkpoints",
                         str(folder), "--device", "cpu"])
    error = capsys.readouterr().err
    assert code == 2 and f"missing checkpoint {folder}" in error
    assert f"{METHODS[absent].trains} --source usps --target mnistm" in error
