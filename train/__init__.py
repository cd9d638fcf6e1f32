"""Thin training CLIs: python -m train.vae|gan|source_only|target_only|dann|adda."""
