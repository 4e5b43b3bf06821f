"""Saved models load in stock transformers (a fresh process that never imports pretrainlab) and agree."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from pretrainlab.config.schema import ModelSize
from pretrainlab.models import build_model, collate, forward_logits
from pretrainlab.objectives import Example
from pretrainlab.tokenization.specials import SpecialTokens

SPECIALS = SpecialTokens.for_tests(vocab_size=160, num_sentinels=8)
SIZE = ModelSize(d_model=32, n_layers=2, n_heads=4, d_ff=64, n_kv_heads=2)
ARCHS = ("causal_decoder", "noncausal_decoder", "encoder_decoder", "encoder")

# Stock usage, as the README shows it: no pretrainlab import anywhere in this process.
STOCK = textwrap.dedent(
    """
    import sys
    import torch
    from safetensors.torch import load_file, save_file
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

    root = sys.argv[1]
    out = {}
    for arch in ("causal_decoder", "noncausal_decoder", "encoder_decoder", "encoder"):
        b = load_file(f"{root}/{arch}.batch.safetensors")
        if arch == "encoder_decoder":
            model = AutoModelForSeq2SeqLM.from_pretrained(f"{root}/{arch}").eval()
            logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"],
                           decoder_input_ids=b["decoder_input_ids"],
                           decoder_attention_mask=b["decoder_attention_mask"]).logits
        else:
            model = AutoModelForCausalLM.from_pretrained(f"{root}/{arch}").eval()
            ids = b["input_ids"]
            if arch == "noncausal_decoder":
                T, p = ids.shape[1], b["prefix_lengths"]
                allowed = (torch.arange(T)[None, :] <= torch.arange(T)[:, None]) | (torch.arange(T)[None, :] < p[:, None, None])
                mask = torch.where(allowed, 0.0, torch.finfo(torch.float32).min)[:, None]
            else:
                mask = b["attention_mask"]
            logits = model(ids, attention_mask=mask).logits
        out[arch] = logits.detach().contiguous()
    assert not any(name.startswith("pretrainlab") for name in sys.modules)
    save_file(out, f"{root}/stock_logits.safetensors")
    """
)


def test_checkpoints_load_in_stock_transformers_with_identical_logits(tmp_path):
    mine = {}
    real = {}
    for arch in ARCHS:
        model = build_model(arch, SIZE, SPECIALS, seq_len=32, seed=1).eval()
        if arch == "encoder":
            labels = np.full(7, -100)
            labels[3] = 23
            examples = [
                Example(np.arange(20, 27), np.zeros(0, np.int64), labels),
                Example(np.arange(30, 34), np.zeros(0, np.int64), labels[:4]),
            ]
            batch = collate(examples, arch, SPECIALS, 8, 0)
        else:
            examples = [
                Example(np.arange(20, 25), np.arange(40, 44)),
                Example(np.arange(30, 33), np.arange(50, 52)),
            ]
            batch = collate(examples, arch, SPECIALS, 6, 5)
        with torch.no_grad():
            logits = forward_logits(model, arch, batch)
        if arch in ("causal_decoder", "noncausal_decoder"):  # stock logits are unshifted: drop the last
            mine[arch], real[arch] = logits, batch.attention_mask[:, 1:].bool()
        else:
            mine[arch] = logits
            real[arch] = (
                batch.decoder_attention_mask if arch == "encoder_decoder" else batch.attention_mask
            ).bool()
        model.save_pretrained(tmp_path / arch)
        tensors = {k: v for k, v in vars(batch).items() if isinstance(v, torch.Tensor)}
        save_file(
            {k: v.contiguous() for k, v in tensors.items()}, str(tmp_path / f"{arch}.batch.safetensors")
        )
    subprocess.run([sys.executable, "-c", STOCK, str(tmp_path)], check=True, timeout=120)
    stock = load_file(str(tmp_path / "stock_logits.safetensors"))
    for arch in ARCHS:
        theirs = stock[arch][:, :-1] if arch in ("causal_decoder", "noncausal_decoder") else stock[arch]
        torch.testing.assert_close(mine[arch][real[arch]], theirs[real[arch]], atol=1e-5, rtol=0)
