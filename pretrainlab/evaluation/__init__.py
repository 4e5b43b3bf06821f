"""Evaluation: zero-shot rank classification, references, per-item results, paired statistics."""
