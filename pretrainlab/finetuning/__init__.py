"""Multitask prompted finetuning (MTF): the T0-style mixture, packing and step-addressed batches.

- :mod:`.mixture` — training-cluster tasks, capped examples-proportional mixing, prompt→answer examples.
- :mod:`.packing` — several examples per row with a block-diagonal mask (decoders).
- :mod:`.batches` — :class:`MixtureBatches`, a pure function of (seed, step).
"""
