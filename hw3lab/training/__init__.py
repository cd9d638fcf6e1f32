"""Training loops over on-device arrays: one module per method, shared helpers in common."""
