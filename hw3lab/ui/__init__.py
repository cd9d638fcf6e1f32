"""The lab's Gradio interface: one module per tab; callbacks are plain functions."""
