"""Gradio apps of the workbench (``review_app``: Review, Rollouts and Eval tabs)."""
