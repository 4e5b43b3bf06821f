from __future__ import annotations

from pretrainlab.config.schema import ModelSize
from pretrainlab.models import count_parameters, flops_per_step, flops_per_token

SIZE = ModelSize(d_model=32, n_layers=2, n_heads=4, d_ff=64)
VOCAB = 128
# One Gemma2 layer: q, k, v, o (4·32·32) + gate, up, down (3·32·64) + 4 RMSNorms (4·32).
LAYER = 4 * 32 * 32 + 3 * 32 * 64 + 4 * 32
DECODER_N = 2 * LAYER + 32  # + final norm
# ED decoder layer adds cross-attention q, k, v, o and its two norms.
CROSS_KV = 2 * 2 * 32 * 32
ED_DECODER_N = 2 * (LAYER + 4 * 32 * 32 + 2 * 32) + 32


def test_parameter_counts_by_hand():
    assert count_parameters("causal_decoder", SIZE, VOCAB) == (DECODER_N + VOCAB * 32, DECODER_N)
    assert count_parameters("encoder_decoder", SIZE, VOCAB) == (
        DECODER_N + ED_DECODER_N + 2 * VOCAB * 32,  # encoder and decoder embeddings; head tied
        DECODER_N + ED_DECODER_N,
    )


def test_decoder_worked_number():
    assert DECODER_N == 20_768
    assert flops_per_token("causal_decoder", SIZE, VOCAB, 10) == 6 * 20_768 + 12 * 2 * 32 * 10 == 132_288
    assert flops_per_step("noncausal_decoder", SIZE, VOCAB, 3, 4, 6) == 3 * 10 * 132_288


def test_encoder_decoder_counts_encoder_and_decoder_tokens():
    enc, dec = 6, 4
    encoder = enc * (6 * (DECODER_N + CROSS_KV) + 12 * 2 * 32 * enc)
    decoder = dec * (6 * (ED_DECODER_N - CROSS_KV) + 12 * 2 * 32 * (dec + enc))
    assert encoder + decoder == 1_553_280
    assert flops_per_step("encoder_decoder", SIZE, VOCAB, 1, enc, dec) == 1_553_280
    assert flops_per_step("encoder_decoder", SIZE, VOCAB, 2, enc, dec) == 2 * 1_553_280
    # more encoder tokens or more decoder tokens both cost more
    assert flops_per_step("encoder_decoder", SIZE, VOCAB, 1, enc + 1, dec) > 1_553_280
    assert flops_per_step("encoder_decoder", SIZE, VOCAB, 1, enc, dec + 1) > 1_553_280
