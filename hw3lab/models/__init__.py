"""The homework's networks: VAE and DCGAN on faces, DANN/ADDA digit networks."""

from hw3lab.models.attributes import AttributeNet
from hw3lab.models.digits import (
    Classifier,
    DomainClassifier,
    DomainDiscriminator,
    Extractor,
    Predictor,
)
from hw3lab.models.gan import Discriminator, Generator
from hw3lab.models.gradient_reversal import reverse_gradient
from hw3lab.models.vae import VAE, Decoder, Encoder, homework_kl_weight, kl_divergence

__all__ = [
    "VAE", "AttributeNet", "Classifier", "Decoder", "Discriminator", "DomainClassifier",
    "DomainDiscriminator",
    "Encoder", "Extractor", "Generator", "Predictor", "homework_kl_weight",
    "kl_divergence", "reverse_gradient",
]
