"""Classmates' own models, written unlike the lab's, as the build file an exporter runs
(``python -m hw3lab.export_model --build tests/exported_builds.py:FUNCTION``): a DANN whose
forward(x, alpha) returns (class, domain), an ADDA of a grey encoder and a separate classifier,
a DCGAN-like generator with z of 100, a VAE's encoder and decoder; small, seeded, with random
BatchNorm statistics so that eval mode matters. Also builds that must be refused."""

from __future__ import annotations

import torch
from torch import nn


class ReverseLayer(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, alpha):  # noqa: ANN001, ANN205
        ctx.alpha = alpha
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):  # noqa: ANN001, ANN205
        return grad.neg() * ctx.alpha, None


class CNNModel(nn.Module):
    """A public homework's DANN layout: feature / class_classifier / domain_classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.feature = nn.Sequential(
            nn.Conv2d(3, 8, kernel_size=5), nn.BatchNorm2d(8), nn.MaxPool2d(2), nn.ReLU(True),
            nn.Conv2d(8, 12, kernel_size=5), nn.BatchNorm2d(12), nn.Dropout2d(), nn.MaxPool2d(2),
            nn.ReLU(True))
        self.class_classifier = nn.Sequential(
            nn.Linear(12 * 4 * 4, 32), nn.BatchNorm1d(32), nn.ReLU(True), nn.Dropout(),
            nn.Linear(32, 10), nn.LogSoftmax(dim=1))
        self.domain_classifier = nn.Sequential(
            nn.Linear(12 * 4 * 4, 32), nn.BatchNorm1d(32), nn.ReLU(True), nn.Linear(32, 2),
            nn.LogSoftmax(dim=1))

    def forward(self, input_data, alpha):  # noqa: ANN001, ANN201
        input_data = input_data.expand(input_data.data.shape[0], 3, 28, 28)
        feature = self.feature(input_data)
        feature = feature.view(-1, 12 * 4 * 4)
        reverse_feature = ReverseLayer.apply(feature, alpha)
        return self.class_classifier(feature), self.domain_classifier(reverse_feature)


class GreyEncoder(nn.Module):
    """ADDA's encoder on 1-channel digits."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(1, 8, 3, 2, 1), nn.BatchNorm2d(8), nn.LeakyReLU(0.2),
                                  nn.Conv2d(8, 16, 3, 2, 1), nn.BatchNorm2d(16), nn.ReLU())
        self.fc = nn.Linear(16 * 7 * 7, 48)

    def forward(self, x):  # noqa: ANN001, ANN201
        return self.fc(torch.flatten(self.conv(x), 1))


class LabelClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Sequential(nn.ReLU(), nn.Linear(48, 10))

    def forward(self, features):  # noqa: ANN001, ANN201
        return self.fc(features)


class Generator100(nn.Module):
    """A DCGAN generator: N x 100 x 1 x 1 -> N x 3 x 64 x 64 in [-1, 1]."""

    def __init__(self) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(100, 16, 4, 1, 0, bias=False), nn.BatchNorm2d(16), nn.ReLU(True),
            nn.ConvTranspose2d(16, 8, 4, 2, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU(True),
            nn.ConvTranspose2d(8, 8, 4, 2, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU(True),
            nn.ConvTranspose2d(8, 4, 4, 2, 1, bias=False), nn.BatchNorm2d(4), nn.ReLU(True),
            nn.ConvTranspose2d(4, 3, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, z):  # noqa: ANN001, ANN201
        return self.main(z)


class VaeEncoder(nn.Module):
    """64 x 64 RGB in 0..1 -> (mu, logvar) of 16."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 4, 2, 1), nn.ReLU(), nn.Conv2d(8, 8, 4, 2, 1),
                                  nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 4, 2, 1),
                                  nn.ReLU(), nn.Flatten())
        self.mu = nn.Linear(8 * 8 * 8, 16)
        self.logvar = nn.Linear(8 * 8 * 8, 16)

    def forward(self, x):  # noqa: ANN001, ANN201
        h = self.body(x)
        return self.mu(h), self.logvar(h)


class VaeDecoder(nn.Module):
    """16 -> 64 x 64 RGB in 0..1."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(16, 8 * 8 * 8)
        self.up = nn.Sequential(nn.ConvTranspose2d(8, 8, 4, 2, 1), nn.ReLU(),
                                nn.ConvTranspose2d(8, 8, 4, 2, 1), nn.ReLU(),
                                nn.ConvTranspose2d(8, 3, 4, 2, 1), nn.Sigmoid())

    def forward(self, z):  # noqa: ANN001, ANN201
        return self.up(self.fc(z).view(-1, 8, 8, 8))


class SevenClasses(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3 * 28 * 28, 7)

    def forward(self, x):  # noqa: ANN001, ANN201
        return self.fc(x.flatten(1))


class DataDependent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3 * 28 * 28, 10)

    def forward(self, x):  # noqa: ANN001, ANN201
        if x.mean() > 0.5:  # a Python branch on a tensor's value: torch.export cannot capture
            return self.fc(x.flatten(1))
        return -self.fc(x.flatten(1))


def seeded(module: nn.Module) -> nn.Module:
    torch.manual_seed(0)
    fresh = type(module)() if not isinstance(module, nn.Sequential) else module
    for layer in fresh.modules():
        if isinstance(layer, nn.BatchNorm1d | nn.BatchNorm2d):
            layer.running_mean.uniform_(-0.2, 0.2)
            layer.running_var.uniform_(0.5, 2.0)
            layer.weight.data.uniform_(0.5, 1.5)
    return fresh


def dann() -> nn.Module:
    return seeded(CNNModel())


def adda() -> nn.Module:
    encoder, classifier = seeded(GreyEncoder()), seeded(LabelClassifier())
    return nn.Sequential(encoder, classifier)


def generator() -> nn.Module:
    return seeded(Generator100())


def vae() -> tuple[nn.Module, nn.Module]:
    return seeded(VaeEncoder()), seeded(VaeDecoder())


def seven_classes() -> nn.Module:
    return seeded(SevenClasses())


def data_dependent() -> nn.Module:
    return seeded(DataDependent())


def missing_checkpoint() -> nn.Module:
    raise FileNotFoundError("dann_usps_mnistm.pth")
