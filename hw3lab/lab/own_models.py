"""A student's own model, uploaded in the lab: read like ``python -m hw3lab.import_pth`` does
(no unpickling, keys recognised, every bad file one message) and held for that session only.
A model of any architecture comes as one ``.pt2`` file from ``python -m hw3lab.export_model``,
checked by :mod:`hw3lab.exported` before anything of it runs.

The session keeps an unguessable token (in a ``gr.State``, which no other session sees); the
models live in the lab's one bounded store (:class:`hw3lab.lab.context.OwnModels`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hw3lab import limits
from hw3lab.import_pth import (
    FAMILIES,
    is_exported,
    load_own_model,
    read_exported_file,
    read_files,
)
from hw3lab.inference import DigitModel, FaceModel
from hw3lab.lab.context import LabContext, SessionModel, parse_task
from hw3lab.lab.inputs import upload_paths

OWN_TITLE = "your model"


def upload_model(ctx: LabContext, family: Any, task: Any, files: Any) -> tuple[str, str]:
    """Load a student's homework ``.pth`` files as ``family``'s model (a digit model for
    ``task``); return the session's token and what was loaded (Markdown)."""
    family = limits.check_choice(family, FAMILIES, "the model family")
    source, target = parse_task(task) if family == "digits" else (None, None)
    paths = upload_paths(files, limits.MAX_MODEL_UPLOAD_FILES)
    if is_exported(paths):
        return _upload_exported(ctx, family, (source, target), paths)
    model = load_own_model(family, read_files(paths, limits.MAX_MODEL_UPLOAD_BYTES))
    names = [Path(p).name for p in paths]
    if family == "digits":
        digits = ctx.store.as_digit_model(model.modules["extractor"], model.modules["predictor"],
                                       grey=True, metadata={"imported_from": names})
        session = SessionModel(family, names, (source, target), digits)
        where = f" for {source}->{target}"
    else:
        session = SessionModel(family, names, faces=ctx.store.face_model(family,
                                                                          model.modules))
        where = f" (width {model.width:g})"
    token = ctx.own_models.add(session)
    return token, (f"Loaded **{OWN_TITLE}**{where} ({', '.join(model.modules)} from "
                   f"{', '.join(names)}), for this session only.")


def _upload_exported(ctx: LabContext, family: str, task: tuple[Any, Any],
                     paths: list[str]) -> tuple[str, str]:
    """An exported model (one ``.pt2``), checked within the upload limit."""
    archive = read_exported_file(paths, family, limits.MAX_MODEL_UPLOAD_BYTES, ctx.store.device)
    names = [Path(p).name for p in paths]
    model = ctx.store.exported_model(archive, {"imported_from": names})
    convention = archive.convention
    if family == "digits":
        exported_task = tuple(convention.task.split("-")) if convention.task else task
        session = SessionModel(family, names, exported_task, model)  # type: ignore[arg-type]
        where = f" for {'->'.join(exported_task)}"
        if exported_task != task:
            where += " (exported for that task: switch to it to compare)"
    else:
        session = SessionModel(family, names, faces=model)  # type: ignore[arg-type]
        where = "" if family == "vae" else " (no discriminator: faces without a realness score)"
    token = ctx.own_models.add(session)
    return token, (f"Loaded **{OWN_TITLE}**{where}, exported ({convention.channels} input, "
                   f"{', '.join(archive.programs)}) from {', '.join(names)}, for this session "
                   "only.")


def upload_digits(ctx: LabContext, task: Any, files: Any) -> tuple[str, str]:
    """The digits tab's upload: a student's DANN, ADDA, source- or target-only model."""
    return upload_model(ctx, "digits", task, files)


def upload_vae(ctx: LabContext, files: Any) -> tuple[str, str]:
    """The VAE tab's upload: a student's encoder and decoder."""
    return upload_model(ctx, "vae", None, files)


def upload_gan(ctx: LabContext, files: Any) -> tuple[str, str]:
    """The GAN tab's upload: a student's generator and discriminator."""
    return upload_model(ctx, "gan", None, files)


def own_faces(ctx: LabContext, token: Any, family: str) -> FaceModel | None:
    """The session's uploaded ``family`` model ('vae' or 'gan'); None if it uploaded none."""
    session = ctx.own_models.get(token)
    if session is None or session.faces is None or session.faces.family != family:
        return None
    return session.faces


def own_digits(ctx: LabContext, token: Any, source: str, target: str) -> DigitModel | str | None:
    """The session's digit model for the task; a note if it was made for another task; None
    if it uploaded none."""
    session = ctx.own_models.get(token)
    if session is None or session.digits is None:
        return None
    if session.task != (source, target):
        return f"for {'->'.join(session.task)}: switch the task to compare it"
    return session.digits
