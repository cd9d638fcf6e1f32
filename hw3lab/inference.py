"""Load each family's shipped models once and run them; the API the UI, CLIs and benches share.

Checkpoint names (files under the checkpoint folder, each with its JSON):
``vae.safetensors`` (prefixes ``encoder``, ``decoder``), ``gan.safetensors`` (``generator``,
``discriminator``), ``attributes.safetensors`` (``attributes``, the face-attribute classifier)
and each digit method's ``digits/{source}-{target}-{method}.safetensors``
(:func:`hw3lab.methods.digit_checkpoint`: ``extractor``, and ``predictor`` unless its metadata's
``predictor_from`` names the checkpoint whose predictor it reuses, as ADDA's names source-only's).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hw3lab.checkpoints import (
    MANIFEST,
    CheckpointError,
    load_modules,
    read_manifest,
    read_metadata,
)
from hw3lab.data.transforms import digits_for_model, faces_for_model, faces_to_uint8, to_tensor
from hw3lab.errors import few
from hw3lab.exported import Archive, ExportedModelError, lab_latent, read_exported
from hw3lab.fast_inference import (
    FastClassifier,
    FastDiscriminator,
    FastEncoder,
    fast_decoder,
    fast_extractor,
    fast_generator,
)
from hw3lab.limits import MAX_MODEL_FILE_BYTES
from hw3lab.methods import EXPORTED_SUFFIX, METHODS, TASKS, digit_checkpoint, task_name
from hw3lab.metrics import accuracy
from hw3lab.models import (
    AttributeNet,
    Decoder,
    Discriminator,
    Encoder,
    Extractor,
    Generator,
    Predictor,
)
from hw3lab.models.gan import NOISE_DIM
from hw3lab.models.vae import LATENT_DIM
from hw3lab.runtime import pick_device

DEFAULT_CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"
# A method is also any name a student gives their own model (hw3lab.import_pth --name).
METHOD_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]{0,31}")


def check_method_name(method: object) -> str:
    """``method`` if it can name a method (shipped or a student's own), else a message."""
    if not isinstance(method, str) or not METHOD_NAME.fullmatch(method):
        raise CheckpointError(f"a method name is 1-32 letters, digits or _ (not starting with "
                              f"_); got {str(method)[:40]!r}")
    return method


def digit_methods(directory: Path, source: str, target: str) -> list[str]:
    """The methods with a checkpoint for the task in ``directory``: the registered ones in
    their order, then any other (a student's own) by name."""
    pattern = digit_checkpoint(directory, source, target, "*")
    found = set()
    for name in (pattern.name, pattern.with_suffix(EXPORTED_SUFFIX).name):  # .pth or exported
        prefix, suffix = name.split("*")
        found |= {p.name[len(prefix):-len(suffix)] for p in pattern.parent.glob(name)}
    return [m for m in METHODS if m in found] + sorted(found.difference(METHODS))


@dataclass
class DigitModel:
    """An extractor and the predictor it feeds, with the input recipe it was trained on.

    ``fast`` is the extractor with BatchNorm folded in and ``fast_head`` the predictor as one
    module (:mod:`hw3lab.fast_inference`), used for inference; ``extractor`` and ``predictor``
    stay the plain modules (AdaBN and the benches adapt the extractor).
    """

    extractor: Extractor
    predictor: Predictor
    grey: bool
    metadata: dict[str, Any]
    fast: torch.nn.Module
    fast_head: torch.nn.Module

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """(N, C, 28, 28) uint8 -> (N, 512) features."""
        return self.fast(digits_for_model(images, self.grey))

    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """(N, C, 28, 28) uint8 -> (N, 10) class probabilities."""
        return self.fast_head(self.features(images)).exp()


class ExportedDigitModel(DigitModel):
    """A classmate's exported digit model (:mod:`hw3lab.exported`), any architecture, with
    :class:`DigitModel`'s interface: images converted by the file's own convention; its
    features are the ``--features`` output given at export, else the logits."""

    def __init__(self, archive: Archive, metadata: dict[str, Any]) -> None:
        super().__init__(None, None, archive.convention.channels == "gray",  # type: ignore[arg-type]
                         metadata, None, None)  # type: ignore[arg-type]
        self.archive = archive

    def _outputs(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        convention = self.archive.convention
        return self.archive.programs["model"](convention.images_to_model(images))

    def features(self, images: torch.Tensor) -> torch.Tensor:
        outputs = self._outputs(images)
        return outputs[1 if len(outputs) > 1 and self.archive.convention.features else 0].float()

    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """Softmax of the first output (logits or log-probabilities give the same)."""
        return self._outputs(images)[0].float().softmax(dim=1)


class ExportedFaceMaker:
    """An exported generator or VAE decoder (its archive's ``program``): (N, Z) noise or
    latents -> (N, 3, 64, 64) faces in the lab's [-1, 1]."""

    def __init__(self, archive: Archive, program: str) -> None:
        self.archive, self.program = archive, program
        self.latent_dim = lab_latent(archive)

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        images = self.archive.programs[self.program](z.float())[0]
        return self.archive.convention.model_to_lab_range(images)


class ExportedEncoder:
    """An exported VAE encoder: faces in [-1, 1] -> (means, log-variances; zeros without)."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive

    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        convention = self.archive.convention
        outputs = self.archive.programs["encoder"](convention.lab_range_to_model(images))
        mean = outputs[0].float()
        return mean, outputs[1].float() if len(outputs) > 1 else torch.zeros_like(mean)


@dataclass(frozen=True)
class FaceModel:
    """A VAE's (fast) encoder and decoder, or a GAN's generator and discriminator, loaded from
    somewhere other than the store's checkpoints (a student's upload)."""

    family: str
    first: torch.nn.Module
    second: torch.nn.Module

    def pair(self, family: str) -> tuple[torch.nn.Module, torch.nn.Module]:
        if self.family != family:
            raise CheckpointError(f"a {self.family} model is not a {family} model")
        return self.first, self.second


class ModelStore:
    """Loads a family's models lazily, once, in eval mode on one device; thread-safe."""

    def __init__(self, directory: str | Path = DEFAULT_CHECKPOINTS, device: str | None = None):
        self.directory = Path(directory)
        self.device = pick_device(device)
        self._cache: dict[Any, Any] = {}
        # re-entrant: a method whose predictor is another's (ADDA) loads that one inside its build
        self._lock = threading.RLock()

    def manifest(self) -> dict[str, Any]:
        """The folder's manifest, read again only when the file changes (every page load
        shows two tables from it; callers must not change what it returns)."""
        path = self.directory / MANIFEST
        try:
            status = path.stat()
            key: Any = (status.st_mtime_ns, status.st_size, status.st_ino)
        except OSError:
            key = None
        with self._lock:
            cached = self._cache.get("manifest")
            if cached is not None and key is not None and cached[0] == key:
                return cached[1]
        manifest = read_manifest(self.directory)
        with self._lock:
            self._cache["manifest"] = (key, manifest)
        return manifest

    def _cached(self, key: Any, build):  # noqa: ANN001, ANN202
        with self._lock:
            if key not in self._cache:
                self._cache[key] = build()
            return self._cache[key]

    def _load(self, path: Path, modules: dict[str, torch.nn.Module]) -> dict[str, Any]:
        metadata = load_modules(path, modules)
        for module in modules.values():
            module.to(self.device).eval().requires_grad_(False)
        return metadata

    def vae(self) -> tuple[Encoder, Decoder, dict[str, Any]]:
        def build():  # noqa: ANN202
            path = self.directory / "vae.safetensors"
            if not path.is_file() and path.with_suffix(EXPORTED_SUFFIX).is_file():
                archive = self.exported_archive(path.with_suffix(EXPORTED_SUFFIX), "vae")
                return (ExportedEncoder(archive), ExportedFaceMaker(archive, "decoder"),
                        read_metadata(path))
            width = _width(path)
            encoder, decoder = Encoder(width), Decoder(width)
            return encoder, decoder, self._load(path, {"encoder": encoder, "decoder": decoder})
        return self._cached("vae", build)

    def gan(self) -> tuple[Generator, Discriminator, dict[str, Any]]:
        def build():  # noqa: ANN202
            path = self.directory / "gan.safetensors"
            if not path.is_file() and path.with_suffix(EXPORTED_SUFFIX).is_file():
                # a classmate's exported generator, shown without a discriminator's score
                archive = self.exported_archive(path.with_suffix(EXPORTED_SUFFIX), "gan")
                return ExportedFaceMaker(archive, "generator"), None, read_metadata(path)
            width = _width(path)
            generator, discriminator = Generator(width), Discriminator(width)
            metadata = self._load(path, {"generator": generator, "discriminator": discriminator})
            return generator, discriminator, metadata
        return self._cached("gan", build)

    def attribute_net(self) -> tuple[AttributeNet, dict[str, Any]]:
        def build():  # noqa: ANN202
            net = AttributeNet()
            return net, self._load(self.directory / "attributes.safetensors",
                                   {"attributes": net})
        return self._cached("attributes", build)

    def digits(self, source: str, target: str, method: str) -> DigitModel:
        if (source, target) not in TASKS:
            raise CheckpointError(f"unknown task {source}->{target}")
        check_method_name(method)

        def build() -> DigitModel:
            path = digit_checkpoint(self.directory, source, target, method)
            exported = path.with_suffix(EXPORTED_SUFFIX)
            if not path.is_file() and exported.is_file():
                archive = self.exported_archive(exported, "digits")
                if archive.convention.task != task_name(source, target):
                    raise ExportedModelError(f"{exported} holds a model for "
                                             f"{archive.convention.task}, not "
                                             f"{task_name(source, target)}")
                return ExportedDigitModel(archive, read_metadata(exported))
            if not path.is_file():
                methods = digit_methods(self.directory, source, target)
                how = (f"; train it with {METHODS[method].trains} --source {source} --target "
                       f"{target} --out {self.directory}" if method in METHODS else "")
                raise CheckpointError(f"missing checkpoint {path} (method {method!r} of "
                                      f"{task_name(source, target)}); methods there: "
                                      f"{few(methods) or 'none'}{how}")
            extractor = Extractor()
            metadata = self._load(path, {"extractor": extractor})
            extractor.follow(metadata)
            # As recorded when trained (ADDA: source-only's file), loaded once for both.
            shared = metadata.get("predictor_from")
            predictor = self._predictor(self.directory / shared if shared else path)
            return self.as_digit_model(extractor, predictor, bool(metadata.get("grey", True)),
                                    metadata)
        return self._cached(("digits", source, target, method), build)

    def as_digit_model(self, extractor: Extractor, predictor: Predictor, grey: bool,
                    metadata: dict[str, Any]) -> DigitModel:
        """Loaded modules as a :class:`DigitModel` on this store's device, for inference
        (also a student's own, uploaded model, which the store does not cache)."""
        for module in (extractor, predictor):
            module.to(self.device).eval().requires_grad_(False)
        return DigitModel(extractor, predictor, grey, metadata,
                          fast_extractor(extractor).to(self.device),
                          FastClassifier(predictor).to(self.device))

    def exported_archive(self, path: Path, family: str) -> Archive:
        """An exported model file of ``family``, read and checked safely (every time: a
        checkpoint folder is not trusted more than an upload) onto this store's device."""
        archive = read_exported(path, MAX_MODEL_FILE_BYTES, self.device)
        if archive.convention.family != family:
            raise ExportedModelError(f"{path.name} holds a {archive.convention.family} model, "
                                     f"not a {family} model")
        return archive

    def exported_model(self, archive: Archive, metadata: dict[str, Any]
                       ) -> ExportedDigitModel | FaceModel:
        """A checked exported archive (a classmate's upload) as a digit or face model."""
        family = archive.convention.family
        if family == "digits":
            return ExportedDigitModel(archive, metadata)
        if family == "gan":
            return FaceModel("gan", ExportedFaceMaker(archive, "generator"), None)  # type: ignore[arg-type]
        return FaceModel("vae", ExportedEncoder(archive),  # type: ignore[arg-type]
                         ExportedFaceMaker(archive, "decoder"))  # type: ignore[arg-type]

    def face_model(self, family: str, modules: dict[str, torch.nn.Module]) -> FaceModel:
        """A loaded VAE (encoder, decoder) or GAN (generator, discriminator), such as a
        student's uploaded one, as this store's fast inference modules; not cached."""
        for module in modules.values():
            module.to(self.device).eval().requires_grad_(False)
        if family == "vae":
            first = FastEncoder(modules["encoder"])
            second = fast_decoder(modules["decoder"])
        elif family == "gan":
            first = fast_generator(modules["generator"])
            second = FastDiscriminator(modules["discriminator"])
        else:
            raise CheckpointError(f"not a face model family: {family}")
        return FaceModel(family, first.to(self.device), second.to(self.device))

    def _predictor(self, path: Path) -> Predictor:
        def build() -> Predictor:
            predictor = Predictor()
            self._load(path, {"predictor": predictor})
            return predictor
        return self._cached(("predictor", path), build)

    def _fast_vae(self) -> tuple[FastEncoder, torch.nn.Module]:
        encoder, decoder, _ = self.vae()
        if isinstance(decoder, ExportedFaceMaker):
            return encoder, decoder
        return self._cached("fast_vae", lambda: (FastEncoder(encoder).to(self.device),
                                                 fast_decoder(decoder).to(self.device)))

    def _fast_gan(self) -> tuple[torch.nn.Module, FastDiscriminator]:
        generator, discriminator, _ = self.gan()
        if isinstance(generator, ExportedFaceMaker):
            return generator, discriminator
        return self._cached("fast_gan", lambda: (fast_generator(generator).to(self.device),
                                                 FastDiscriminator(discriminator).to(self.device)))

    def _tensor(self, images: np.ndarray) -> torch.Tensor:
        # PIL-backed arrays are read-only; torch warns about (and must not write to) them.
        # Contiguous (N, C, H, W): the permuted view of (N, H, W, C) pixels kept its strides
        # through the float conversion, and a convolution of a single face so laid out took the
        # discriminator 19 ms instead of 5.6 (the lab's uploaded faces, bench/profile_server.py).
        return to_tensor(np.require(images, np.uint8, ["W"]), self.device).contiguous()

    # -- the operations callers need ----------------------------------------------------

    @torch.inference_mode()
    def encode_faces(self, images: np.ndarray,
                     vae: FaceModel | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(N, 64, 64, 3) uint8 -> latent means and log-variances, (N, 128) each (by ``vae``
        if given, else the checkpoint's)."""
        encoder, _ = self._fast_vae() if vae is None else vae.pair("vae")
        mean, logvar = encoder(faces_for_model(self._tensor(images)))
        return mean.cpu().numpy(), logvar.cpu().numpy()

    @torch.inference_mode()
    def decode_latents(self, latents: np.ndarray, vae: FaceModel | None = None) -> np.ndarray:
        """(N, 128) latents -> (N, 64, 64, 3) uint8 faces (by ``vae`` if given)."""
        _, decoder = self._fast_vae() if vae is None else vae.pair("vae")
        z = torch.as_tensor(np.asarray(latents, dtype=np.float32), device=self.device)
        size = getattr(decoder, "latent_dim", LATENT_DIM)
        if z.shape[-1] != size:
            raise CheckpointError(f"this VAE's latents have {size} numbers, not {z.shape[-1]}")
        return faces_to_uint8(decoder(z.view(-1, size)))

    @torch.inference_mode()
    def generate_faces(self, seeds: list[int], gan: FaceModel | None = None) -> np.ndarray:
        """One GAN face per seed, (N, 64, 64, 3) uint8; a seed always gives the same face (by
        ``gan`` if given, else the checkpoint's); any noise size, by :func:`gan_noise`'s rule."""
        noise = gan_noise(seeds, self.noise_size(gan))
        return self.generate_faces_from_noise(noise.numpy(), gan)

    def noise_size(self, gan: FaceModel | None = None) -> int:
        """The GAN's noise size Z (128 for the lab's own; an exported one's may differ)."""
        generator, _ = self._fast_gan() if gan is None else gan.pair("gan")
        return int(getattr(generator, "latent_dim", NOISE_DIM))

    @torch.inference_mode()
    def generate_faces_from_noise(self, noise: np.ndarray,
                                  gan: FaceModel | None = None) -> np.ndarray:
        """(N, 128) noise -> (N, 64, 64, 3) uint8 faces (e.g. between two seeds' noise)."""
        generator, _ = self._fast_gan() if gan is None else gan.pair("gan")
        z = torch.as_tensor(np.asarray(noise, dtype=np.float32), device=self.device)
        return faces_to_uint8(generator(z.view(-1, getattr(generator, "latent_dim", NOISE_DIM))))

    @torch.inference_mode()
    def face_attributes(self, images: np.ndarray) -> np.ndarray:
        """(N, 64, 64, 3) uint8 faces -> (N, 13) attribute probabilities, by the lab's
        attribute classifier (``attributes.safetensors``)."""
        net, _ = self.attribute_net()
        return net(faces_for_model(self._tensor(images))).sigmoid().cpu().numpy()

    @torch.inference_mode()
    def face_features(self, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
        """(N, 64, 64, 3) uint8 faces -> (N, 256) pooled features of the attribute classifier,
        the space of the lab's local Frechet distance."""
        net, _ = self.attribute_net()
        return np.concatenate([net.features(faces_for_model(self._tensor(chunk))).cpu().numpy()
                               for chunk in np.array_split(images, max(1, -(-len(images)
                                                                         // batch_size)))])

    @torch.inference_mode()
    def realness(self, images: np.ndarray, gan: FaceModel | None = None) -> np.ndarray:
        """The discriminator's probability that each (N, 64, 64, 3) uint8 face is real (by
        ``gan``'s if given); NaN for a GAN without one (an exported generator)."""
        _, discriminator = self._fast_gan() if gan is None else gan.pair("gan")
        if discriminator is None:
            return np.full(len(images), np.nan, np.float32)
        return discriminator(faces_for_model(self._tensor(images))).cpu().numpy()

    @torch.inference_mode()
    def classify_digits(self, images: np.ndarray, source: str, target: str,
                        method: str) -> np.ndarray:
        """(N, 28, 28, C) uint8 -> (N, 10) class probabilities of one method's model."""
        return self.model_probabilities(self.digits(source, target, method), images)

    @torch.inference_mode()
    def model_probabilities(self, model: DigitModel, images: np.ndarray) -> np.ndarray:
        """(N, 28, 28, C) uint8 -> (N, 10) class probabilities of ``model``."""
        return model.probabilities(self._tensor(images)).cpu().numpy()

    @torch.inference_mode()
    def digit_features(self, images: np.ndarray, source: str, target: str,
                       method: str) -> np.ndarray:
        """(N, 28, 28, C) uint8 -> (N, 512) features of one method's extractor."""
        return self.model_features(self.digits(source, target, method), images)

    @torch.inference_mode()
    def model_features(self, model: DigitModel, images: np.ndarray) -> np.ndarray:
        """(N, 28, 28, C) uint8 -> (N, 512) features of ``model``'s extractor."""
        return model.features(self._tensor(images)).cpu().numpy()


def test_accuracies(store: ModelStore, source: str, target: str, method: str,
                   test_split: Callable[[str], tuple[np.ndarray, np.ndarray]]
                   ) -> dict[str, float]:
    """Target and source test accuracy of one method's checkpoint as loaded for inference:
    the numbers of the manifest, the README and the lab's table. ``test_split(domain)`` gives
    that domain's test images (N, 28, 28, C) uint8 and labels."""
    metrics = {}
    for role, domain in (("target", target), ("source", source)):
        images, labels = test_split(domain)
        probabilities = store.classify_digits(images, source, target, method)
        metrics[f"{role}_test_accuracy"] = accuracy(probabilities.argmax(1), labels)
    return metrics


def gan_noise(seeds: list[int], dim: int = NOISE_DIM) -> torch.Tensor:
    """(N, dim) standard normal noise, one independent stream per seed (on the CPU, so a seed
    gives the same face on every device): the lab's seed rule, for any noise size Z,
    ``z = torch.randn(Z, generator=torch.Generator().manual_seed(seed))``."""
    return torch.stack([torch.randn(dim, generator=torch.Generator().manual_seed(int(s)))
                        for s in seeds])


def _width(path: Path) -> float:
    return float(read_metadata(path).get("width", 1.0))
