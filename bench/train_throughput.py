"""Training images/s: the lab's on-device uint8 path against the homework's per-image PIL +
torch DataLoader pipeline, and fp32 against bf16 autocast on the on-device path, for the DANN
extractor (+ label predictor), the VAE and the DCGAN, in the same run on the same device.

    python -m bench.train_throughput [--data DIR] [--device auto] [--threads N] [--vae-width W]

Every column trains the same model with the same optimizer and batch size. The homework
column differs only in its input path (files decoded and transformed one by one by DataLoader
workers, fp32); the bf16 column only in its precision (autocast; weights stay fp32).
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
import torch.nn.functional as F  # noqa: N812
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from hw3lab.data import load_digits, load_faces
from hw3lab.data.layout import resolve_data_root, split_dir
from hw3lab.data.transforms import digits_for_model, faces_for_model, horizontal_flip
from hw3lab.models import VAE, Discriminator, Extractor, Generator, Predictor, kl_divergence
from hw3lab.models.gan import NOISE_DIM
from hw3lab.runtime import autocast, pick_device, set_cpu_threads
from hw3lab.training.arguments import configure_backends
from hw3lab.training.common import adam, index_batches, on_device


class Folder(Dataset):
    """The homework's dataset: one PNG opened and transformed per item."""

    def __init__(self, folder: Path, transform: Callable) -> None:
        self.files = sorted(folder.iterdir())
        self.transform = transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> torch.Tensor:
        with Image.open(self.files[index]) as image:
            return self.transform(image.convert("RGB"))


def homework_batches(folder: Path, transform: Callable, batch: int, workers: int,
                     device: torch.device) -> Iterator[torch.Tensor]:
    loader = DataLoader(Folder(folder, transform), batch_size=batch, shuffle=True,
                        num_workers=workers, drop_last=True,
                        pin_memory=device.type == "cuda", persistent_workers=workers > 0)
    while True:
        for images in loader:
            yield images.to(device, non_blocking=True)


def fast_batches(images: torch.Tensor, batch: int, prepare: Callable,
                 generator: torch.Generator) -> Iterator[torch.Tensor]:
    while True:
        for index in index_batches(len(images), batch, generator, drop_last=True):
            yield prepare(images[index])


def images_per_second(step: Callable[[torch.Tensor], None], batches: Iterator[torch.Tensor],
                      steps: int, warmup: int, device: torch.device, batch: int) -> float:
    for _ in range(warmup):
        step(next(batches))
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step(next(batches))
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return steps * batch / (time.perf_counter() - start)


def digit_step(device: torch.device, precision: str) -> Callable[[torch.Tensor], None]:
    extractor, predictor = Extractor().to(device), Predictor().to(device)
    optimizer = adam([*extractor.parameters(), *predictor.parameters()], lr=1e-3)

    def step(x: torch.Tensor) -> None:
        with autocast(device, precision):
            log_probs = predictor(extractor(x)).float()
        loss = F.nll_loss(log_probs, torch.zeros(len(x), dtype=torch.long, device=device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step


def vae_step(device: torch.device, precision: str,
             width: float) -> Callable[[torch.Tensor], None]:
    vae = VAE(width).to(device)
    optimizer = adam(vae.parameters(), lr=1e-4)

    def step(x: torch.Tensor) -> None:
        with autocast(device, precision):
            reconstruction, mean, logvar = vae(x)
            loss = (F.mse_loss(reconstruction.float(), x)
                    + 1e-5 * kl_divergence(mean.float(), logvar.float()))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step


def gan_step(device: torch.device, precision: str) -> Callable[[torch.Tensor], None]:
    """One generator step then one discriminator step, as :mod:`hw3lab.training.gan` takes."""
    generator, discriminator = Generator().to(device), Discriminator().to(device)
    optimizers = [adam(m.parameters(), lr=2e-4, betas=(0.5, 0.999))
                  for m in (generator, discriminator)]

    def loss(logits: torch.Tensor, target: float) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits.float(),
                                                  torch.full_like(logits.float(), target))

    def step(real: torch.Tensor) -> None:
        noise = torch.randn(len(real), NOISE_DIM, device=device)
        discriminator.requires_grad_(False)  # no D weight grads in the generator step
        with autocast(device, precision):
            fake = generator(noise)
            generator_loss = loss(discriminator.logits(fake), 1.0)
        optimizers[0].zero_grad(set_to_none=True)
        generator_loss.backward()
        optimizers[0].step()
        discriminator.requires_grad_(True)
        with autocast(device, precision):
            disc_loss = (loss(discriminator.logits(real), 1.0)
                         + loss(discriminator.logits(fake.detach()), 0.0))
        optimizers[1].zero_grad(set_to_none=True)
        disc_loss.backward()
        optimizers[1].step()
    return step


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers (homework)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--no-bf16", action="store_true",
                        help="leave out the bf16 column (minutes a model where bf16 is emulated)")
    parser.add_argument("--vae-width", type=float, default=None,
                        help="VAE channel multiplier (default: 1.0 on CUDA, 0.25 on the CPU)")
    args = parser.parse_args(argv)
    set_cpu_threads(args.threads)
    device = pick_device(args.device)
    configure_backends(device, deterministic=False)  # as the train.* CLIs: cuDNN autotuning, TF32
    root = resolve_data_root(args.data)
    width = args.vae_width or (1.0 if device.type == "cuda" else 0.25)
    generator = torch.Generator(device).manual_seed(0)
    grey = transforms.Compose([transforms.Grayscale(3), transforms.ToTensor(),
                               transforms.Normalize((0.5,) * 3, (0.5,) * 3)])
    faces = transforms.Compose([transforms.RandomHorizontalFlip(), transforms.ToTensor(),
                                transforms.Normalize((0.5,) * 3, (0.5,) * 3)])
    face_images = on_device(load_faces("train", root).images, device)
    cases = [
        ("DANN extractor+predictor, mnistm, batch 256", 256, digit_step,
         split_dir(root, "mnistm", "train")[0], grey,
         on_device(load_digits("mnistm", "train", root).images, device),
         lambda x: digits_for_model(x, True)),
        (f"VAE width {width:g}{' (reduced for the CPU)' if width < 1 else ''}, batch 32", 32,
         lambda d, p: vae_step(d, p, width), split_dir(root, "face", "train")[0], faces,
         face_images, lambda x: faces_for_model(horizontal_flip(x, generator))),
        ("DCGAN, homework width, batch 64", 64, gan_step, split_dir(root, "face", "train")[0],
         faces, face_images, lambda x: faces_for_model(horizontal_flip(x, generator))),
    ]
    print(f"device: {device}, threads: {torch.get_num_threads()}, DataLoader workers: "
          f"{args.workers}, {args.steps} timed steps after {args.warmup} warm-up")
    print("| model | homework PIL+DataLoader, fp32 | on-device, fp32 | on-device, bf16 | "
          "on-device / homework | bf16 / fp32 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, batch, make_step, folder, transform, images, prepare in cases:
        def measure(precision: str, batches: Iterator[torch.Tensor],
                    make_step: Callable = make_step, batch: int = batch) -> float:
            torch.manual_seed(0)
            return images_per_second(make_step(device, precision), batches, args.steps,
                                     args.warmup, device, batch)

        homework = measure("fp32", homework_batches(folder, transform, batch, args.workers,
                                                    device))
        fp32 = measure("fp32", fast_batches(images, batch, prepare, generator))
        bf16 = (math.nan if args.no_bf16
                else measure("bf16", fast_batches(images, batch, prepare, generator)))
        bf16_cells = ("-", "-") if args.no_bf16 else (f"{bf16:.0f}", f"{bf16 / fp32:.2f}x")
        print(f"| {name} | {homework:.0f} | {fp32:.0f} | {bf16_cells[0]} | "
              f"{fp32 / homework:.2f}x | {bf16_cells[1]} |", flush=True)


if __name__ == "__main__":
    main()
