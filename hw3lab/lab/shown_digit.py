"""Which digit input the domain-adaptation tab shows, and classifying it again when the
session's own model arrives.

The tab remembers the kind of input its predictions show (a sketch, uploads or an example),
set by the event that classifies it. When the session's model finishes uploading, the same
input is classified again so that the *your model* column fills in: an event reads the
session's state when it starts, so a digit classified while the model was still loading, or
before its upload, showed '-' there.
"""

from __future__ import annotations

from typing import Any

from hw3lab.errors import UserInputError
from hw3lab.lab.context import LabContext
from hw3lab.lab.digits import classify_example, classify_sketch, classify_uploads

INPUT_KINDS = ("sketch", "upload", "example")
CLASSIFIERS = {"sketch": classify_sketch, "upload": classify_uploads,
               "example": classify_example}


def classify_shown_again(ctx: LabContext, kind: str | None, task: Any, sketch: Any,
                         files: Any, index: Any, own: Any = None) -> tuple | None:
    """The shown input (of ``kind``: its sketch, files or example index) classified again
    with the session's model ``own``; None when nothing is shown, or when it cannot be
    classified (its message was shown when it was first classified)."""
    if kind not in CLASSIFIERS:
        return None
    given = {"sketch": sketch, "upload": files, "example": index}[kind]
    try:
        return CLASSIFIERS[kind](ctx, task, given, own)
    except UserInputError:
        return None
