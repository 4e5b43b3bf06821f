"""Tokenization: BPE training, special tokens, encoding into token streams."""
