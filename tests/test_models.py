"""The models reproduce the homework's architectures exactly."""

from __future__ import annotations

import pytest
import torch

from hw3lab.checkpoints import load_state_strictly
from hw3lab.models import (
    VAE,
    Decoder,
    Discriminator,
    DomainClassifier,
    DomainDiscriminator,
    Encoder,
    Extractor,
    Generator,
    Predictor,
    homework_kl_weight,
    kl_divergence,
    reverse_gradient,
)
from hw3lab.models.digits import standardize_images
from tests import homework_reference as hw


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def shape_only(cls: type, *args: float) -> torch.nn.Module:
    """``cls(*args)`` on the meta device: shapes and parameter counts without the memory or
    the time to initialise (a full-width VAE half has 45 M parameters)."""
    with torch.device("meta"):
        return cls(*args)


def conv(cin: int, cout: int, k: int) -> int:
    """Parameters of a conv (weight + bias) followed by BatchNorm (weight + bias)."""
    return cin * cout * k * k + cout + 2 * cout


# Parameter counts as the homework's model printouts give them (torchsummary totals).
HOMEWORK_COUNTS = {
    Encoder: 45_235_264, Decoder: 44_972_867, Generator: 3_807_043, Discriminator: 2_766_657,
    Extractor: 1_552_896, Predictor: 1_223_242, DomainClassifier: 1_222_722,
}


@pytest.mark.parametrize("cls", list(HOMEWORK_COUNTS), ids=lambda c: c.__name__)
def test_parameter_counts_match_the_homework(cls: type) -> None:
    assert count(shape_only(cls)) == HOMEWORK_COUNTS[cls]


def test_counts_follow_from_the_layer_list() -> None:
    """Recompute two counts from the layer sizes, so the table above is not just a snapshot."""
    chans = [3, 64, 128, 256, 512, 1024, 2048]
    encoder = sum(conv(a, b, 4) for a, b in zip(chans, chans[1:], strict=False))
    encoder += 2 * (2048 * 128 + 128)
    assert count(shape_only(Encoder)) == encoder
    extractor = sum(conv(a, b, 3) for a, b in zip(chans[:4], chans[1:5], strict=False))
    assert count(Extractor()) == extractor


def test_output_shapes() -> None:
    encoder, decoder = shape_only(Encoder).eval(), shape_only(Decoder).eval()
    mean, logvar = encoder(torch.randn(2, 3, 64, 64, device="meta"))
    assert mean.shape == logvar.shape == (2, 128)
    assert decoder(mean).shape == (2, 3, 64, 64)
    generator = Generator().eval()
    flat, square = generator(torch.randn(2, 128)), generator(torch.randn(2, 128, 1, 1))
    assert flat.shape == square.shape == (2, 3, 64, 64)
    assert flat.abs().max() <= 1
    probability = Discriminator().eval()(flat)
    assert probability.shape == (2,) and ((probability >= 0) & (probability <= 1)).all()
    features = Extractor().eval()(torch.randn(3, 3, 28, 28))
    assert features.shape == (3, 512)
    log_probs = Predictor().eval()(features)
    assert log_probs.shape == (3, 10)
    torch.testing.assert_close(log_probs.exp().sum(1), torch.ones(3))
    assert DomainClassifier().eval()(features, 0.5).shape == (3, 2)
    assert DomainDiscriminator().eval()(features).shape == (3, 2)


def test_width_multiplier_scales_channels() -> None:
    half = shape_only(VAE, 0.5)
    assert half.encoder.meanGen.in_features == 1024
    assert count(half) < count(shape_only(VAE)) / 3
    assert Generator(width=0.5).decode[0].block[0].out_channels == 256
    assert Discriminator(width=0.25).encode[0].block[0].out_channels == 16


@pytest.mark.parametrize(("reference", "ours"), [
    (hw.Encoder, Encoder), (hw.Decoder, Decoder), (hw.Generator, Generator),
    (hw.Discriminator, Discriminator), (hw.Extractor, Extractor), (hw.Predictor, Predictor),
], ids=lambda c: c.__name__ if isinstance(c, type) else "")
def test_homework_state_dict_loads_strictly(reference: type, ours: type) -> None:
    with torch.device("meta"):  # names and shapes are what must match
        saved, model = reference().state_dict(), ours()
    load_state_strictly(model, saved, reference.__name__)


@pytest.mark.parametrize("strength", [0.0, 0.3, 1.0, 2.5])
def test_gradient_reversal_negates_and_scales(strength: float) -> None:
    x = torch.randn(4, 7, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(4, 7, dtype=torch.float64)
    y = reverse_gradient(x, strength)
    torch.testing.assert_close(y, x)  # identity forward
    (y * weights).sum().backward()
    torch.testing.assert_close(x.grad, -strength * weights)


def test_domain_classifier_reverses_gradient_into_features() -> None:
    torch.manual_seed(0)
    head = DomainClassifier().double()
    features = torch.randn(5, 512, dtype=torch.float64, requires_grad=True)
    head(features, 0.7).sum().backward()
    reversed_grad = features.grad.clone()
    features.grad = None
    head.predict(head.preprocess(features)).sum().backward()
    torch.testing.assert_close(reversed_grad, -0.7 * features.grad)


def test_kl_divergence_matches_closed_form() -> None:
    mean, logvar = torch.tensor([[0.5, -1.0]]), torch.tensor([[0.2, -0.3]])
    expected = (-0.5 * (1 + logvar - mean**2 - logvar.exp())).mean()
    torch.testing.assert_close(kl_divergence(mean, logvar), expected)
    assert kl_divergence(torch.zeros(3, 4), torch.zeros(3, 4)).item() == 0.0


def test_homework_kl_weight_schedule() -> None:
    def weight(mse: float) -> float:
        return homework_kl_weight(torch.tensor(mse, dtype=torch.float64)).item()

    assert weight(0.05) == 1e-5
    assert weight(0.015) == 1e-5  # the threshold itself is not yet "below"
    assert weight(0.01) == pytest.approx(1e-5 / 1e-4)
    assert weight(0.005) == pytest.approx(0.4)
    assert weight(0.01) > weight(0.014) > weight(0.02)


@torch.inference_mode()
def test_input_standardization_removes_brightness_and_contrast_and_holds_no_weights() -> None:
    digits = torch.rand(5, 3, 28, 28) * 2 - 1
    flat = standardize_images(digits).flatten(1)
    assert torch.allclose(flat.mean(1), torch.zeros(5), atol=1e-5)
    assert torch.allclose(flat.std(1, correction=0), torch.ones(5), atol=1e-3)
    dimmer = digits * torch.tensor([0.2, 0.5, 1.0, 2.0, 0.7]).view(-1, 1, 1, 1) + 0.3
    plain, standardizing = Extractor().eval(), Extractor(standardize=True).eval()
    standardizing.load_state_dict(plain.state_dict(), strict=True)  # the homework's weights
    assert torch.allclose(standardizing(dimmer), standardizing(digits), atol=1e-4)
    assert not torch.allclose(plain(dimmer), plain(digits), atol=1e-2)
    assert not Extractor().standardize
    assert Extractor().follow({"standardize": True}).standardize
    assert not Extractor(standardize=True).follow({}).standardize  # older checkpoints: off
