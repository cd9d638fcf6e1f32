"""The fused inference modules compute what the plain homework models compute, to 1e-5."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hw3lab.fast_inference import (
    FastClassifier,
    FastDiscriminator,
    FastEncoder,
    fast_decoder,
    fast_extractor,
    fast_generator,
)
from hw3lab.models import Decoder, Discriminator, Encoder, Extractor, Generator, Predictor


def trained_looking(module: nn.Module) -> nn.Module:
    """Random weights plus BatchNorm statistics far from the identity, so folding matters."""
    generator = torch.Generator().manual_seed(0)
    for layer in module.modules():
        if isinstance(layer, nn.BatchNorm1d | nn.BatchNorm2d):
            size = layer.num_features
            layer.running_mean.copy_(torch.randn(size, generator=generator) * 0.2)
            layer.running_var.copy_(torch.rand(size, generator=generator) + 0.5)
            layer.weight.data.copy_(torch.rand(size, generator=generator) + 0.5)
            layer.bias.data.copy_(torch.randn(size, generator=generator) * 0.1)
    return module.eval()


def close(fast: torch.Tensor, plain: torch.Tensor) -> None:
    assert fast.shape == plain.shape
    scale = plain.abs().max().clamp(min=1.0)
    assert (fast - plain).abs().max() <= 1e-5 * scale


@pytest.mark.parametrize("width", [0.25, 0.5])
@torch.inference_mode()
def test_vae_encoder_and_decoder(width: float) -> None:
    encoder, decoder = trained_looking(Encoder(width)), trained_looking(Decoder(width))
    faces = torch.rand(3, 3, 64, 64) * 2 - 1
    for fast, plain in zip(FastEncoder(encoder)(faces), encoder(faces), strict=True):
        close(fast, plain)
    z = torch.randn(3, 128)
    close(fast_decoder(decoder)(z), decoder(z))


@torch.inference_mode()
def test_padding_only_taps_are_dropped() -> None:
    decoder = fast_decoder(Decoder(0.25).eval())
    weights = [m.weight for m in decoder.body if hasattr(m, "weight")]
    # The first transposed convolution sees a 1x1 input: only its 2x2 central taps remain.
    assert weights[1].shape == (512, 256 * 2 * 2)
    encoder = FastEncoder(Encoder(0.25).eval())
    last = [m.weight for m in encoder.body if hasattr(m, "weight")][-1]
    assert last.shape == (256 * 2 * 2, 512)  # the last conv's 1x1 output sees 2x2 pixels


@torch.inference_mode()
def test_gan_and_digit_extractor() -> None:
    generator = trained_looking(Generator(0.25))
    discriminator = trained_looking(Discriminator(0.25))
    noise = torch.randn(4, 128)
    close(fast_generator(generator)(noise), generator(noise))
    close(fast_generator(generator)(noise.view(4, 128, 1, 1)), generator(noise))
    faces = torch.rand(4, 3, 64, 64) * 2 - 1
    close(FastDiscriminator(discriminator)(faces), discriminator(faces))
    extractor = trained_looking(Extractor())
    digits = torch.rand(4, 3, 28, 28) * 2 - 1
    close(fast_extractor(extractor)(digits), extractor(digits))
    predictor = trained_looking(Predictor())
    features = torch.randn(4, 512)
    close(FastClassifier(predictor)(features), predictor(features))


@torch.inference_mode()
def test_a_standardizing_extractor_stays_standardizing_when_fused() -> None:
    extractor = trained_looking(Extractor(standardize=True))
    digits = torch.rand(4, 3, 28, 28) * 2 - 1
    fast = fast_extractor(extractor)
    close(fast(digits), extractor(digits))
    close(fast(digits * 0.3 - 0.2), extractor(digits))  # brightness and contrast removed
