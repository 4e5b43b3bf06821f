import math

import numpy as np
import pytest
import torch

from pretrainlab.config.schema import ModelSize
from pretrainlab.evaluation.perplexity import bytes_per_token, validation_perplexity, windows
from pretrainlab.tokenization.specials import SpecialTokens

SPECIALS = SpecialTokens.for_tests(vocab_size=160, num_sentinels=8)
SIZE = ModelSize(d_model=32, n_layers=2, n_heads=2, d_ff=64)
SEQ_LEN = 16


@pytest.fixture(scope="module")
def stream():
    return np.random.default_rng(0).integers(20, SPECIALS.vocab_size, size=1000).astype(np.uint16)


def test_windows_cover_at_most_the_budget():
    tokens = np.arange(100)
    assert windows(tokens, 16, 50).shape == (3, 16)
    assert windows(tokens, 16, 10_000).shape == (6, 16)
    assert windows(tokens, 16, 5).shape == (1, 16)  # at least one window
    assert windows(tokens[:9], 16, 100).tolist() == [list(range(9))]  # a short stream is one short window
    with pytest.raises(ValueError):
        windows(tokens[:1], 16, 100)


def test_bytes_per_token_from_meta():
    meta = {"bytes": {"train": 1000, "val": 300}, "tokens": {"train": 250, "val": 100}}
    assert bytes_per_token(meta, "val") == 3.0
    with pytest.raises(ValueError, match="val"):
        bytes_per_token({"bytes": {"train": 1}, "tokens": {"train": 1}}, "val")


def test_causal_decoder_loss_matches_stock_cross_entropy(stream):
    from pretrainlab.models.build import build_model

    model = build_model("causal_decoder", SIZE, SPECIALS, seq_len=SEQ_LEN, seed=0).eval()
    result = validation_perplexity(
        model,
        "causal_decoder",
        SPECIALS,
        stream,
        seq_len=SEQ_LEN,
        max_tokens=160,
        bytes_per_token=2.5,
        max_batch_tokens=48,
    )
    rows = torch.as_tensor(stream[:160].astype(np.int64)).view(10, SEQ_LEN)
    with torch.inference_mode():
        want = float(model(input_ids=rows, labels=rows).loss)  # HF shifts labels: 15 predictions per window
    assert result.tokens == 10 * (SEQ_LEN - 1)
    assert result.loss == pytest.approx(want, rel=1e-4)
    assert result.bytes == pytest.approx(result.tokens * 2.5)
    assert result.bits_per_byte == pytest.approx(result.loss / math.log(2) / 2.5, rel=1e-6)
    assert result.loss == pytest.approx(math.log(SPECIALS.vocab_size), rel=0.2)  # untrained: ~uniform


@pytest.mark.parametrize("arch", ["noncausal_decoder", "encoder_decoder"])
def test_other_architectures_give_finite_losses(stream, arch):
    from pretrainlab.models.build import build_model

    model = build_model(arch, SIZE, SPECIALS, seq_len=SEQ_LEN, seed=0)
    result = validation_perplexity(
        model, arch, SPECIALS, stream, seq_len=SEQ_LEN, max_tokens=64, bytes_per_token=3.0
    )
    expected = 4 * (SEQ_LEN // 2) if arch == "encoder_decoder" else 4 * (SEQ_LEN - 1)
    assert result.tokens == expected
    assert math.isfinite(result.loss) and result.loss > 0
