"""A tiny causal decoder saved where the pretrain stage publishes ``cd-flm``, for tests of what follows."""

from __future__ import annotations

from pathlib import Path


def save_tiny_cd_flm(root: Path, tokenizer_dir: Path, specials) -> Path:
    """``root/data/models/pretrain/cd-flm``: a random 2-layer d32 CD:FLM with its card and the tokenizer
    in ``tokenizer_dir``; returns the model directory."""
    from pretrainlab.config.schema import ModelSize
    from pretrainlab.models.build import build_model
    from pretrainlab.training.cell import save_model

    model = build_model(
        "causal_decoder", ModelSize(d_model=32, n_layers=2, n_heads=2, d_ff=64), specials, seq_len=64, seed=0
    )
    card = {
        "name": "cd-flm",
        "kind": "pretrain",
        "arch": "causal_decoder",
        "objective": "full_lm",
        "prompt_format": "plain",
        "seq_len": 64,
    }
    folder = root / "data" / "models" / "pretrain" / "cd-flm"
    save_model(model, folder, tokenizer_dir, card)
    return folder
