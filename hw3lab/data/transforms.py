"""Named, batched transforms from uint8 arrays to the tensors the models take.

They run on whole batches on any device (no per-image Python), so training, inference and the
app all share one definition of what a model sees.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

from hw3lab.data.layout import GREY_DOMAINS

# ITU-R BT.601 luma, the weights PIL's convert("L") uses.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)


def to_tensor(images: np.ndarray | torch.Tensor,
              device: torch.device | str = "cpu") -> torch.Tensor:
    """(N, H, W, C) uint8 -> (N, C, H, W) uint8 tensor on ``device`` (no copy on the CPU)."""
    tensor = torch.as_tensor(images)
    if tensor.ndim == 3:
        tensor = tensor.unsqueeze(-1)
    return tensor.to(device, non_blocking=True).permute(0, 3, 1, 2)


def to_unit_float(images: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) uint8 -> float in [0, 1]."""
    return images.float().div_(255.0)


def to_grey(images: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) or (N, 1, H, W) float -> (N, 1, H, W) luma."""
    if images.shape[1] == 1:
        return images
    weights = torch.tensor(LUMA_WEIGHTS, device=images.device, dtype=images.dtype)
    return (images * weights.view(1, 3, 1, 1)).sum(dim=1, keepdim=True)


def normalize_half(images: torch.Tensor) -> torch.Tensor:
    """Normalize(mean=0.5, std=0.5): [0, 1] -> [-1, 1]."""
    return images.sub(0.5).div_(0.5)


def to_three_channels(images: torch.Tensor) -> torch.Tensor:
    """Replicate a single channel to the three the extractor expects."""
    return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images


def horizontal_flip(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Flip each image left-right with probability 0.5 (the homework's face augmentation)."""
    flip = torch.rand(images.shape[0], device=images.device, generator=generator) < 0.5
    return torch.where(flip.view(-1, 1, 1, 1), images.flip(-1), images)


def uses_grey(domains: tuple[str, ...] | list[str]) -> bool:
    """The homework's DANN recipe: go grey whenever a colour domain is involved.

    Every task of the homework pairs at least one colour domain (MNIST-M, SVHN), so the digits
    always become grey, which removes colour as a cue that differs between domains.
    """
    return any(domain not in GREY_DOMAINS for domain in domains)


def augment_digits(images: torch.Tensor, generator: torch.Generator,
                   zoom: tuple[float, float] = (0.65, 1.35), degrees: float = 12.0,
                   shift: float = 0.1, invert: float = 0.5, shear: float = 0.0,
                   stroke: float = 0.0) -> torch.Tensor:
    """Random zoom, rotation, shift and polarity inversion of a (N, C, H, W) batch in [0, 1];
    optionally a horizontal shear and a changed stroke width (both off by default, and then
    the generator's stream is the same as without them).

    Why these: the digit domains differ in exactly these ways. USPS digits fill the frame,
    MNIST-M's sit in a 20-pixel box and SVHN's share it with their neighbours, so the zoom goes
    both ways; SVHN and MNIST-M (in grey) have light-on-dark and dark-on-light digits, USPS only
    light-on-dark. ``zoom`` is the digit's size relative to the original, ``shift`` a fraction
    of half the image; borders repeat the edge pixels.
    """
    n, device = images.shape[0], images.device

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, device=device, generator=generator)

    scale = 1.0 / uniform(*zoom)
    angle = uniform(-degrees, degrees) * (math.pi / 180.0)
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    theta = torch.stack([torch.stack([cos, -sin, uniform(-shift, shift)], 1),
                         torch.stack([sin, cos, uniform(-shift, shift)], 1)], 1)
    if shear > 0:  # sample x + s y: a slant of up to atan(shear), as handwriting leans
        theta[:, 0, 1] += uniform(-shear, shear) * scale
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
    moved = F.grid_sample(images, grid, padding_mode="border", align_corners=False)
    if stroke > 0:
        moved = restroked(moved, generator, stroke)
    flip = (torch.rand(n, device=device, generator=generator) < invert).view(-1, 1, 1, 1)
    return torch.where(flip, 1.0 - moved, moved)


def restroked(images: torch.Tensor, generator: torch.Generator, share: float) -> torch.Tensor:
    """A random ``share`` of a (N, C, H, W) batch in [0, 1] with its bright structures grown
    (a 3x3 grey dilation) or shrunk (erosion), half each: a digit's strokes get a pixel
    thicker on each side or thinner whatever its polarity, as pen and font widths vary (USPS's
    handwriting is thin beside SVHN's print)."""
    n = images.shape[0]
    picked = torch.rand(n, device=images.device, generator=generator) < share
    grow = torch.rand(n, device=images.device, generator=generator) < 0.5
    dilated = F.max_pool2d(images, 3, stride=1, padding=1)
    eroded = -F.max_pool2d(-images, 3, stride=1, padding=1)
    changed = torch.where(grow.view(-1, 1, 1, 1), dilated, eroded)
    return torch.where(picked.view(-1, 1, 1, 1), changed, images)


def digits_for_model(images: torch.Tensor, grey: bool,
                     augment_with: torch.Generator | None = None,
                     **augment_options: float) -> torch.Tensor:
    """(N, C, 28, 28) uint8 -> (N, 3, 28, 28) float in [-1, 1], the homework's DANN recipe:
    grey (if ``grey``), Normalize(0.5, 0.5), replicated to 3 channels. With a generator,
    training batches are first augmented by :func:`augment_digits` (with
    ``augment_options``)."""
    x = to_unit_float(images)
    x = to_grey(x) if grey else x
    x = augment_digits(x, augment_with, **augment_options) if augment_with is not None else x
    return to_three_channels(normalize_half(x))


def faces_for_model(images: torch.Tensor) -> torch.Tensor:
    """(N, 3, 64, 64) uint8 -> float in [-1, 1], the range of the decoders' Tanh."""
    return normalize_half(to_unit_float(images))


def faces_to_uint8(images: torch.Tensor) -> np.ndarray:
    """Model output in [-1, 1], (N, 3, H, W) -> (N, H, W, 3) uint8 for display or saving."""
    pixels = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return pixels.permute(0, 2, 3, 1).cpu().numpy()


def diff_augment(images: torch.Tensor, generator: torch.Generator,
                 translation: float = 0.125, cutout: float = 0.5) -> torch.Tensor:
    """Differentiable augmentation of a (N, 3, H, W) batch in [-1, 1], the same random kind
    for real and generated faces (Zhao et al. 2020, "Differentiable Augmentation for
    Data-Efficient GAN Training"): brightness, saturation and contrast jitter, a translation of
    up to ``translation`` of the side (zero padding) and one square cut out of side
    ``cutout`` * H. Gradients flow through all of it to the generator.

    Why: 9,000 training faces are few for a discriminator of 2.8 M weights; it memorises them
    and wins early unless what it sees is varied in ways that the generator cannot exploit.
    """
    n, _, height, width = images.shape
    device, dtype = images.device, images.dtype

    def uniform(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, device=device, generator=generator).to(dtype)

    x = images + (uniform(n, 1, 1, 1) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (uniform(n, 1, 1, 1) * 2) + mean
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    x = (x - mean) * (uniform(n, 1, 1, 1) + 0.5) + mean

    shift = torch.randint(-int(height * translation), int(height * translation) + 1, (2, n),
                          device=device, generator=generator)
    rows = torch.arange(height, device=device).view(1, height, 1) - shift[0].view(n, 1, 1)
    cols = torch.arange(width, device=device).view(1, 1, width) - shift[1].view(n, 1, 1)
    inside = ((rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)).unsqueeze(1)
    flat = (rows.clamp(0, height - 1) * width + cols.clamp(0, width - 1)).view(n, 1, -1)
    x = x.flatten(2).gather(2, flat.expand(-1, x.shape[1], -1)).view_as(x) * inside

    size = int(height * cutout)
    corner = torch.randint(0, height - size + 1, (2, n), device=device, generator=generator)
    row = torch.arange(height, device=device).view(1, height, 1) - corner[0].view(n, 1, 1)
    col = torch.arange(width, device=device).view(1, 1, width) - corner[1].view(n, 1, 1)
    hole = ((row >= 0) & (row < size) & (col >= 0) & (col < size)).unsqueeze(1)
    return x.masked_fill(hole, 0.0)
