"""A drawing in each domain's style: plain like USPS, MNIST-M's |texture - digit|, SVHN's grey
low contrast with neighbours; every style classified by every method in one table."""

from __future__ import annotations

import gradio as gr
import numpy as np
import pytest

from hw3lab.data.samples import load_sample
from hw3lab.lab import LabContext
from hw3lab.lab.domain_styles import (
    SVHN_INK,
    SVHN_PLATE,
    TEXTURE,
    classify_styles,
    mnistm_style,
    styled,
    texture_of,
)
from hw3lab.lab.inputs import sketch_digit
from hw3lab.methods import METHODS
from hw3lab.ui.widgets import user_errors
from tests.test_ui_callbacks import sketch_of_a_one

TASK = "usps->mnistm"


def drawn_one() -> np.ndarray:
    return sketch_digit(sketch_of_a_one())


def test_each_style_looks_like_its_domain() -> None:
    digit = drawn_one()
    styles = styled(digit)
    assert all(image.shape == (28, 28, 3) and image.dtype == np.uint8
               for image in styles.values())
    rows = np.flatnonzero(styles["usps"][:, :, 0].max(axis=1) > 40)
    assert rows[-1] - rows[0] >= 23  # fills the frame, where the drawing keeps a 20-pixel box
    texture = texture_of(load_sample("mnistm").images[TEXTURE])
    np.testing.assert_array_equal(styles["mnistm"], mnistm_style(digit, texture))
    np.testing.assert_array_equal(mnistm_style(digit, texture),
                                  np.abs(texture.astype(int) - 255 * (digit[:, :, :1] > 127)))
    assert styles["mnistm"].std(axis=2).mean() > 5  # colour, not grey
    svhn = styles["svhn"].astype(float)
    assert (svhn[:, :, 0] == svhn[:, :, 1]).all()  # grey
    assert SVHN_PLATE <= svhn.min() and svhn.max() <= SVHN_INK  # low contrast
    assert svhn[:, :4].max() > SVHN_PLATE + 10 or svhn[:, -4:].max() > SVHN_PLATE + 10


def test_every_style_by_every_method_in_one_table(lab: LabContext) -> None:
    strip, table = classify_styles(lab, TASK, sketch_of_a_one())
    assert strip.shape == (168, (3 * 28 + 2 * 2) * 6, 3)
    assert [row[0] for row in table] == ["usps style", "mnistm style", "svhn style"]
    # the style, every registered method, the session's own model
    assert all(len(row) == len(METHODS) + 2 and row[1].endswith("%)") for row in table)
    with pytest.raises(gr.Error, match="blank"):
        user_errors(classify_styles)(lab, TASK, None)
