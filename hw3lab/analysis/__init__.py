"""Derived numbers: metrics, t-SNE embeddings, latent directions."""
