"""Corpus building: sources, cleaning, deduplication, splits and synthworld."""
