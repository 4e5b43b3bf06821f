"""Multitask prompted finetuning (MTF): the T0-style mixture, packing and step-addressed batches.

- :mod:`.mixture` — training-cluster tasks, capped examples-proportional mixing, prompt→answer examples.
- :mod:`.packing` — several examples per row with a block-diagonal mask (decoders).
- :mod:`.batches` — :class:`MixtureBatches`, a pure function of (seed, step).
- :mod:`.clusters` — T0's task clusters (``t0_clusters.json``) and the held-out check of ``sources:``.
- :mod:`.prompted_sources` — rows of a prompted dataset (hub, folder, ``save_to_disk``, Parquet/JSONL).
- :mod:`.prompted_mixture` — a cell's mixture (its sources and/or synthworld), tokenised to disk.
- :mod:`.tokenised_mixture` — that mixture on disk, read back memory-mapped.
"""
