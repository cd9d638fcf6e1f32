"""Serving a class from one shared link (issue 12), without a server: every event declares its
pool, and nothing about the server's folders reaches a visitor (the page, messages, cards)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from hw3lab import serve
from hw3lab.checkpoints import CheckpointError
from hw3lab.data.examples import render_digits
from hw3lab.devtools.random_checkpoints import make_checkpoints
from hw3lab.inference import DEFAULT_CHECKPOINTS
from hw3lab.lab import LabContext, digits, first_view, gan, models, tsne_views
from hw3lab.lab.context import PROJECT, public_name
from hw3lab.lab.first_view import compute_first_view
from hw3lab.lab.served_files import OutputFolder
from hw3lab.ui.app import QUEUE_POLL_S, QUEUE_RECORDS, QUEUE_SIZE, build_lab
from hw3lab.ui.busy import HEALTH_PATH, MAX_RETRY_S, BusyGate, clear_queue_full_message
from hw3lab.ui.gradio_cache import Janitor
from hw3lab.ui.page_cache import PageCache
from hw3lab.ui.widgets import HEAVY, INTERACTIVE, POOLS, TSNE, bind, user_errors
from tests.fixtures_ui import picture

TASK = "usps->mnistm"
HEAVY_EVENTS = {"digits_batch", "digits_batch_folder", "digits_recompute"}
TSNE_EVENTS = {"tsne_run", "vae_tsne_run", "digits_tsne"}


def private_folders(*folders: Path) -> list[str]:
    """Absolute paths no visitor may see: the given folders, the project and the home."""
    paths = {str(PROJECT), str(Path.home())}
    for folder in folders:
        paths |= {os.path.abspath(folder), os.path.realpath(folder)}
    return sorted(paths)


def leaks(text: str, folders: list[str]) -> list[str]:
    return [folder for folder in folders if folder in text]


@pytest.fixture(scope="module")
def private_lab(tmp_path_factory: pytest.TempPathFactory) -> tuple[LabContext, list[str]]:
    """A lab over checkpoints and data in folders whose paths must never be shown."""
    root = tmp_path_factory.mktemp("server-only-folder")
    checkpoints = make_checkpoints(root / "my-checkpoints")
    data = root / "hw3_data"
    (data / "digits").mkdir(parents=True)
    (data / "face").mkdir()
    return LabContext(checkpoints, data), private_folders(checkpoints, data)


def test_every_event_declares_its_pool(private_lab: tuple[LabContext, list[str]]) -> None:
    demo = build_lab(private_lab[0])
    assert demo.fns, "no events"
    # the idle queue's polling slowed down (fails if Gradio renames what it sets)
    assert demo._queue.sleep_when_free == QUEUE_POLL_S
    # and it neither summarises its events after each one nor keeps 10,000 of them
    assert demo._queue.ANAYLTICS_CACHE_FREQUENCY == sys.maxsize
    assert demo._queue.ANALYTICS_MAX_EVENTS == QUEUE_RECORDS
    assert QUEUE_RECORDS > QUEUE_SIZE + sum(POOLS.values())  # records of every event in flight
    for fn in demo.fns.values():
        what = f"event {fn.name!r} (api {fn.api_name!r})"
        assert fn.concurrency_id in POOLS, f"{what} has no pool of its own: {fn.concurrency_id}"
        assert fn.concurrency_limit == POOLS[fn.concurrency_id], what
    pools = {fn.api_name: fn.concurrency_id for fn in demo.fns.values() if fn.api_name}
    assert {name for name, pool in pools.items() if pool == HEAVY["concurrency_id"]} \
        == HEAVY_EVENTS
    assert {name for name, pool in pools.items() if pool == TSNE["concurrency_id"]} \
        == TSNE_EVENTS
    assert pools["digits_example"] == pools["vae_decode"] == INTERACTIVE["concurrency_id"]
    api = demo.get_api_info()["named_endpoints"]  # progress bars add no API parameter
    assert [p["parameter_name"] for p in api["/tsne_run"]["parameters"]] == \
        ["space", "count", "perplexity", "colouring"]
    assert [p["parameter_name"] for p in api["/digits_tsne"]["parameters"]] == ["task", "count"]


def test_the_served_page_names_no_server_folder(private_lab: tuple[LabContext, list[str]]
                                                ) -> None:
    ctx, folders = private_lab
    demo = build_lab(ctx)
    page = json.dumps(demo.get_config_file(), default=str)
    assert not leaks(page, folders)
    assert "`my-checkpoints`" in page and "`hw3_data`" in page  # the folders' own names
    assert public_name(DEFAULT_CHECKPOINTS) == "checkpoints"
    assert LabContext(DEFAULT_CHECKPOINTS).public_path(DEFAULT_CHECKPOINTS / "digits") == \
        "checkpoints/digits"


def test_messages_name_no_server_folder(private_lab: tuple[LabContext, list[str]],
                                        tmp_path: Path) -> None:
    ctx, folders = private_lab
    empty = LabContext(tmp_path / "no-checkpoints", tmp_path / "none")
    messages = [ctx.missing_family("vae"), ctx.missing_digits("svhn", "usps", "dann"),
                digits.data_note(ctx), digits.data_note(empty)]
    for call, args in ((digits.classify_example, ("mnistm->svhn", 0)),
                       (digits.batch_csv, ("svhn->usps", "dann", None)),
                       (digits.recompute_accuracy, (TASK,))):
        with pytest.raises(gr.Error) as caught:
            bind(call, ctx)(*args)
        messages.append(str(caught.value))
    assert "my-checkpoints/digits" in messages[1]
    assert not leaks("\n".join(messages), folders)
    assert not leaks("\n".join(messages[-1:]), private_folders(tmp_path))


def test_unexpected_errors_are_short_and_name_no_server_folder(
        private_lab: tuple[LabContext, list[str]]) -> None:
    ctx, folders = private_lab
    checkpoint = ctx.checkpoints / "vae.safetensors"

    def broken() -> None:
        raise OSError(f"[Errno 5] Input/output error: '{checkpoint}'")

    def damaged() -> None:
        raise CheckpointError(f"{checkpoint}: not a safetensors file")

    for function in (broken, damaged):
        with pytest.raises(gr.Error) as caught:
            user_errors(function, ctx.redact)()
        assert not leaks(str(caught.value), folders)
        assert "my-checkpoints/vae.safetensors" in str(caught.value)


def test_model_cards_name_no_server_folder(private_lab: tuple[LabContext, list[str]]) -> None:
    ctx, folders = private_lab
    manifest = ctx.checkpoints / "manifest.json"
    entries = json.loads(manifest.read_text())
    saved = manifest.read_text()
    entries["checkpoints"]["vae"]["command"] = (f"python -m train.vae --data {ctx.data_root} "
                                                f"--out {ctx.checkpoints}")
    entries["checkpoints"]["vae"]["data"] = {"path": str(ctx.data_root / "face")}
    manifest.write_text(json.dumps(entries))
    try:
        text = models.model_card(ctx, "vae") + json.dumps(models.model_cards(ctx))
    finally:
        manifest.write_text(saved)
    assert "--data hw3_data --out my-checkpoints" in text and "hw3_data/face" in text
    assert not leaks(text, folders)


def test_the_output_folder_keeps_within_its_size_and_age(tmp_path: Path) -> None:
    folder = OutputFolder(tmp_path / "out", max_bytes=10_000, max_age_s=100, min_age_s=5)
    first = folder.write("a.bin", b"a" * 4000)
    assert folder.write("again.bin", b"a" * 4000).parent == first.parent  # by content
    assert folder.write("a.bin", b"a" * 4000) == first  # the same file, only touched
    paths = [folder.write(f"{i}.bin", bytes([i]) * 4000) for i in range(6)]
    now = time.time()
    for age, path in zip((50, 40, 30, 20, 10, 1), paths, strict=True):
        os.utime(path, (now - age, now - age))
    os.utime(first, (now - 500, now - 500))
    pruned = folder.prune(keep=[str(paths[0])], now=now)
    assert str(first) in pruned.deleted  # past the age cap
    assert not first.parent.exists() or any(first.parent.iterdir())
    # then the oldest until within 10,000 bytes, sparing the kept one and the youngest
    assert pruned.bytes <= 10_000 + 4000 and paths[0].exists() and paths[5].exists()
    assert not paths[1].exists() and not paths[2].exists()
    assert folder.usage() == (pruned.files, pruned.bytes)
    later = folder.prune(now=now + 1000)
    assert later.files == 0 and later.folders_removed >= 1
    assert not [p for p in folder.root.rglob("*") if p.is_dir()]


def test_the_janitor_tells_gradio_which_files_are_gone(tmp_path: Path,
                                                       private_lab: tuple[LabContext, list[str]]
                                                       ) -> None:
    folder = OutputFolder(tmp_path / "cache", max_bytes=0, max_age_s=0, min_age_s=0)
    demo = build_lab(private_lab[0])
    old = folder.write_png(np.zeros((8, 8, 3), np.uint8), "old.png")
    shown = folder.write_png(np.ones((8, 8, 3), np.uint8), "shown.png")
    demo.upload_file_set.update({str(old), str(shown)})
    next(iter(demo.blocks.values())).keep_in_cache.add(str(shown))
    Janitor(demo, folder).prune()
    assert not old.exists() and shown.exists()
    assert str(old) not in demo.upload_file_set and str(shown) in demo.upload_file_set


def test_downloads_go_to_the_lab_output_folder(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    outputs = OutputFolder(tmp_path / "out")
    ctx = LabContext(make_checkpoints(tmp_path / "ckpt", methods=("dann",)), tmp_path / "none",
                     outputs=outputs)
    # a temp folder of the test's own: other processes writing to /tmp cannot disturb it
    system_temp = tmp_path / "system-temp"
    system_temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_temp))
    before = set(os.listdir(tempfile.gettempdir()))
    png = gan.face(ctx, 3)
    _, gif = gan.interpolate(ctx, 1, 2, 3)
    images, _ = render_digits("usps", 2)
    for i, image in enumerate(images):
        Image.fromarray(image).save(tmp_path / f"{i}.png")
    csv, _ = digits.batch_csv(ctx, TASK, "dann", [str(tmp_path / "0.png"),
                                                  str(tmp_path / "1.png")])
    for path in (png, gif, csv):
        assert Path(path).is_relative_to(outputs.root)
    assert Image.open(gif).n_frames == 4 and Path(csv).read_text().startswith("image_name")
    assert set(os.listdir(tempfile.gettempdir())) <= before


# -- a room opening the link at once (issue 25): first views, no load events, a busy answer --

def server_load_events(demo: gr.Blocks) -> list[str]:
    """The events a browser's page load would send to the server (JS-only ones stay in it)."""
    config = demo.get_config_file()
    return [str(dependency.get("api_name")) for dependency in config["dependencies"]
            if any(target[1] == "load" for target in dependency["targets"])
            and dependency.get("backend_fn")]


def component_value(demo: gr.Blocks, elem_id: str) -> object:
    block = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == elem_id)
    return block.value


def test_every_tab_opens_on_a_result_and_a_page_load_runs_no_event(
        private_lab: tuple[LabContext, list[str]]) -> None:
    ctx, _ = private_lab
    opening = compute_first_view(ctx)
    demo = build_lab(ctx, opening)
    assert server_load_events(demo) == []
    for elem_id in ("vae-face", "vae-random-grid", "gan-face", "gan-edited", "gan-grid",
                    "digit-seen", "digit-chart"):
        value = component_value(demo, elem_id)
        assert isinstance(value, dict), elem_id
        inline = str(value.get("url")).startswith("data:")
        with (picture(value) if inline else Image.open(value["path"])) as image:
            assert min(image.size) >= 64, elem_id
    # small pictures come inside the page, so that opening it fetches no file
    assert component_value(demo, "vae-face")["url"].startswith("data:image/png;base64,")
    table = component_value(demo, "digit-table")
    assert table["data"][0][0].startswith("mnistm test image 0, label")
    assert all(cell.endswith("%)") for cell in table["data"][0][1:-1])
    assert [row[:2] for row in component_value(demo, "digit-accuracy")["data"]] == \
        [row[:2] for row in digits.accuracy_table(ctx)]
    assert [row[0] for row in component_value(demo, "model-cards")["data"]] == \
        [row[0] for row in models.model_cards(ctx)]
    seeds = next(b for b in demo.blocks.values() if isinstance(b, gr.Textbox)
                 and (b.label or "").startswith("Seeds")).value
    assert seeds == ", ".join(str(s) for s in range(32))
    # the page-load events' API names still answer API clients
    api = demo.get_api_info()["named_endpoints"]
    assert {"/accuracy_table", "/model_cards", "/digits_accuracy"} <= set(api)
    # no shipped t-SNE view for random checkpoints: the plot opens empty, nothing computed
    assert opening.tsne == {} and component_value(demo, "tsne-plot") is None


def test_a_first_view_that_fails_leaves_its_tab_empty(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    empty = LabContext(tmp_path / "no-checkpoints", tmp_path / "no-data")
    opening = compute_first_view(empty)
    assert opening.vae_face is None and opening.gan_face is None and opening.digit is None
    assert opening.accuracy and opening.accuracy[0][-1] == "not trained"
    assert "is not shown on first load" in capsys.readouterr().err
    assert server_load_events(build_lab(empty, opening)) == []


class FakeQueue:
    """A queue ``waiting`` events long whose events took ``seconds`` each on average."""

    def __init__(self, waiting: int, seconds: float) -> None:
        self.waiting = waiting
        self.process_time_per_fn = {"fn": SimpleNamespace(avg_time=seconds, count=3)}

    def __len__(self) -> int:
        return self.waiting

    async def push(self, *args: object) -> tuple:
        if self.waiting >= 4:
            return False, "Queue is full. Max size is 4 and size is 4.", "queue_full"
        return True, "event-id", "success"


def gated(queue: FakeQueue, busy_at: int = 3) -> TestClient:
    async def page(request: object) -> PlainTextResponse:
        return PlainTextResponse("the lab's page")

    app = Starlette(routes=[Route("/", page)])
    return TestClient(BusyGate(app, SimpleNamespace(_queue=queue), busy_at=busy_at))


def test_a_full_lab_says_busy_and_when_to_retry() -> None:
    queue = FakeQueue(waiting=2, seconds=0.5)
    client = gated(queue)
    assert client.get("/").text == "the lab's page"
    assert client.get(HEALTH_PATH).json() == {"status": "ok", "waiting": 2}
    queue.waiting = 40
    answer = client.get("/")
    # 40 events of 0.5 s, two at a time: 10 s
    assert answer.status_code == 503 and answer.headers["retry-after"] == "10"
    assert "The lab is busy" in answer.text and "retry in 10 s" in answer.text
    assert client.get(HEALTH_PATH).status_code == 200  # the balancer still sees it alive
    queue.waiting = 10_000
    assert client.get("/").headers["retry-after"] == str(MAX_RETRY_S)


def test_a_full_queue_refuses_with_the_busy_message_and_keeps_what_it_holds() -> None:
    queue = FakeQueue(waiting=4, seconds=0.2)
    demo = SimpleNamespace(_queue=queue)
    clear_queue_full_message(demo)  # type: ignore[arg-type]
    clear_queue_full_message(demo)  # once only
    success, message, state = asyncio.run(queue.push(None, None, None))
    assert not success and state == "queue_full"
    assert message == "The lab is busy (4 requests waiting): retry in 3 s."
    assert len(queue) == 4  # nothing dropped
    queue.waiting = 1
    assert asyncio.run(queue.push(None, None, None)) == (True, "event-id", "success")


def test_the_real_queue_refuses_with_the_busy_message(
        private_lab: tuple[LabContext, list[str]]) -> None:
    demo = build_lab(private_lab[0])
    assert getattr(demo._queue.push, "busy_message", False)  # fails if Gradio renames push


def test_the_page_is_built_once_per_address() -> None:
    built = []

    async def page(request: Request) -> PlainTextResponse:
        built.append(request.url.path)
        answer = PlainTextResponse(f"page {len(built)} for {request.headers.get('host')}")
        if request.query_params.get("login"):
            answer.set_cookie("session", "x")
        return answer

    cache = PageCache(Starlette(routes=[Route("/", page), Route("/other", page)]))
    client = TestClient(cache)
    assert client.get("/").text == client.get("/").text == "page 1 for testserver"
    assert len(built) == 1 and cache.served == 1
    assert client.get("/", headers={"host": "lab.example"}).text == "page 2 for lab.example"
    client.get("/?seeds=1,2")  # a query: Gradio's own answer, every time
    client.get("/?seeds=1,2")
    client.get("/other")
    assert len(built) == 5
    client.get("/?login=1")  # an answer that sets a cookie is never kept
    assert cache.built == 2
    off = TestClient(PageCache(Starlette(routes=[Route("/", page)]), enabled=False))
    assert off.get("/").text != off.get("/").text  # a lab with a login: per user


# -- replicas behind HAProxy on one machine, and a cluster (issue 25) ---------------------------

DEPLOY = PROJECT / "deploy"
MANIFESTS = sorted((DEPLOY / "k8s").glob("*.yaml"))


def kubernetes_validate() -> list[str] | None:
    """How to run kubernetes-validate (requirements-dev.txt), or None where it is missing."""
    found = shutil.which("kubernetes-validate")
    if found:
        return [found]
    try:
        import kubernetes_validate  # noqa: F401
    except ImportError:
        return None
    return [sys.executable, "-m", "kubernetes_validate"]


def test_the_balancer_config_is_valid_for_any_number_of_replicas(tmp_path: Path) -> None:
    haproxy = shutil.which("haproxy") or shutil.which("/usr/sbin/haproxy")
    if haproxy is None:
        pytest.skip("HAProxy is not installed (Debian: apt-get install haproxy)")
    template = serve.CONFIG.read_text()
    for path, text in (("as-shipped.cfg", template),
                       ("three.cfg", serve.balancer_config(template, "0.0.0.0", 9000,
                                                           [9001, 9002, 9003]))):
        (tmp_path / path).write_text(text)
        answer = subprocess.run([haproxy, "-c", "-f", str(tmp_path / path)], cwd=PROJECT,
                                capture_output=True, text=True, check=False)
        assert answer.returncode == 0, answer.stderr
    three = (tmp_path / "three.cfg").read_text()
    assert "bind 0.0.0.0:9000" in three
    assert [line.split()[1:3] for line in three.splitlines()
            if line.strip().startswith("server ")] == [
        ["lab1", "127.0.0.1:9001"], ["lab2", "127.0.0.1:9002"], ["lab3", "127.0.0.1:9003"]]
    for needed in ("option redispatch", "cookie HW3LAB_REPLICA insert",
                   "option httpchk GET /healthz", "default-server check"):
        assert needed in three, needed
    with pytest.raises(serve.ServeError, match="no line"):
        serve.balancer_config("frontend lab\n    bind :1\n", "127.0.0.1", 1, [2])


def test_serve_refuses_bad_arguments_in_one_line(capsys: pytest.CaptureFixture) -> None:
    for arguments, message in ((["--replicas", "0"], "--replicas must be 1 to"),
                               (["--share"], "--share is the balancer's here")):
        with pytest.raises(SystemExit) as stopped:
            serve.main(arguments)
        assert stopped.value.code == 2
        error = capsys.readouterr().err
        assert message in error and len(error.strip().splitlines()) == 1


def test_the_cluster_manifests_validate_strictly() -> None:
    command = kubernetes_validate()
    if command is None:
        pytest.skip("kubernetes-validate is not installed (requirements-dev.txt)")
    kinds = {path.stem for path in MANIFESTS}
    assert kinds == {"deployment", "service", "ingress", "hpa", "pdb"}
    answer = subprocess.run([*command, "--strict", *map(str, MANIFESTS)], capture_output=True,
                            text=True, check=False)
    assert answer.returncode == 0, answer.stdout + answer.stderr
    assert answer.stdout.count("passed") == len(MANIFESTS), answer.stdout


def test_the_cluster_keeps_students_on_their_replica_and_checks_a_cheap_route() -> None:
    deployment = (DEPLOY / "k8s" / "deployment.yaml").read_text()
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert f"{probe}:\n            httpGet:\n              path: {HEALTH_PATH}" in deployment
    ingress = (DEPLOY / "k8s" / "ingress.yaml").read_text()
    assert "nginx.ingress.kubernetes.io/affinity: cookie" in ingress
    docker = (DEPLOY / "Dockerfile").read_text()
    assert "download.pytorch.org/whl/cpu" in docker and "USER 10001" in docker
    assert "HEALTHCHECK" in docker and HEALTH_PATH in docker


def test_the_tsne_tab_opens_on_the_shipped_default_view() -> None:
    ctx = LabContext(DEFAULT_CHECKPOINTS, Path("no-data"))
    space = first_view.SPACES[0]
    count, perplexity, _ = first_view.default_tsne_settings(space)
    if not tsne_views.view_file(ctx.checkpoints, space, count, perplexity).is_file():
        pytest.skip("the shipped checkpoints' default t-SNE view is not there")
    view = first_view._precomputed_tsne(ctx, space)
    assert view is not None and len(view.embedded.points) == count
    assert len(view.chart["data"]["values"]) == count
