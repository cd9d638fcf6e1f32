"""The Training tab's operations: each stage's prepared view, checked stages, and a plain
message where a model keeps no timeline."""

from __future__ import annotations

import numpy as np
import pytest

from hw3lab.devtools.timelines import STAGES
from hw3lab.errors import UserInputError
from hw3lab.lab import LabContext
from hw3lab.lab.timelines import (
    Timelines,
    digits_timeline,
    gan_animation,
    gan_timeline,
    vae_timeline,
)


@pytest.fixture(scope="module")
def timelines(lab: LabContext) -> Timelines:
    """The session's lab checkpoints carry timelines (tests/timeline_fixtures.py)."""
    return Timelines(lab)


def test_every_stage_has_its_view(timelines: Timelines) -> None:
    assert timelines.stage_counts() == {"vae": STAGES, "gan": STAGES,
                                        "usps->mnistm dann": STAGES}
    charts = [digits_timeline(timelines, "usps->mnistm", "dann", s)[0] for s in range(STAGES)]
    assert len({str(chart) for chart in charts}) == STAGES  # the points move
    chart, curves, caption = digits_timeline(timelines, "usps->mnistm", "dann", 1)
    assert "after epoch 4: stage 2 of 3" in caption
    rule = curves["layer"][1]["data"]["values"]
    assert rule == [{"epoch": 4}]  # the stage, marked on the curves
    assert len(chart["data"]["values"]) == 40
    assert "test digit, label" in chart["data"]["values"][0]["labels"]


def test_face_timelines(timelines: Timelines) -> None:
    chart, decoded, caption = vae_timeline(timelines, 2, "Smiling")
    assert "epoch 6" in caption and decoded.shape == (64 * 3, 6 * 64 * 3 + 5 * 2 * 3, 3)
    assert "Smiling" in chart["title"]
    faces, curves, caption = gan_timeline(timelines, 0)
    assert faces.dtype == np.uint8 and faces.shape[1] >= 6 * 192 and "epoch 2" in caption
    assert gan_animation(timelines).read_bytes()[:6] == b"GIF89a"


@pytest.mark.parametrize("stage", [-1, 3, "two", 1.5])
def test_a_stage_outside_the_timeline_is_a_message(timelines: Timelines, stage: object) -> None:
    with pytest.raises(UserInputError, match="stage"):
        gan_timeline(timelines, stage)


def test_a_model_without_a_timeline_says_how_to_get_one(timelines: Timelines) -> None:
    with pytest.raises(UserInputError, match="python -m train.adda --source usps"):
        digits_timeline(timelines, "usps->mnistm", "adda", 0)
    assert "keeps no training timeline" in timelines.missing("usps->mnistm adda")
