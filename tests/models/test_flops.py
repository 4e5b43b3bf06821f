from __future__ import annotations

import pytest

from pretrainlab.config.schema import ModelSize
from pretrainlab.models import count_parameters, flops_per_step, flops_per_token
from pretrainlab.models.flops import step_flops

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


HEAD = 6 * 32 * VOCAB  # the tied LM head, per position it is applied to: 24,576


def test_decoder_worked_number():
    assert DECODER_N == 20_768
    # 6·N + 12·L·d·T + 6·d·V at T = 10
    assert flops_per_token("causal_decoder", SIZE, VOCAB, 10) == 124_608 + 7_680 + 24_576 == 156_864
    assert flops_per_step("noncausal_decoder", SIZE, VOCAB, 3, 4, 6) == 3 * 10 * 156_864


def test_decoders_and_the_encoder_pay_the_head_at_every_position():
    for arch in ("causal_decoder", "noncausal_decoder", "encoder"):
        parts = step_flops(arch, SIZE, VOCAB, 2, 7, 3)
        assert parts.lm_head == 2 * 10 * HEAD == 491_520
        assert parts.non_embedding == 2 * 10 * 6 * DECODER_N
        assert parts.attention == 2 * 10 * 12 * 2 * 32 * 10
        assert parts.total == flops_per_step(arch, SIZE, VOCAB, 2, 7, 3)


def test_encoder_decoder_counts_encoder_and_decoder_tokens():
    enc, dec = 6, 4
    encoder = enc * (6 * (DECODER_N + CROSS_KV) + 12 * 2 * 32 * enc)
    decoder = dec * (6 * (ED_DECODER_N - CROSS_KV) + 12 * 2 * 32 * (dec + enc) + HEAD)
    # the head only on the 4 decoder positions: 4 · 24,576 = 98,304 on top of 1,553,280
    assert encoder + decoder == 1_553_280 + 98_304 == 1_651_584
    assert flops_per_step("encoder_decoder", SIZE, VOCAB, 1, enc, dec) == 1_651_584
    assert flops_per_step("encoder_decoder", SIZE, VOCAB, 2, enc, dec) == 2 * 1_651_584
    assert step_flops("encoder_decoder", SIZE, VOCAB, 1, enc, dec).lm_head == dec * HEAD
    # more encoder tokens or more decoder tokens both cost more
    assert flops_per_step("encoder_decoder", SIZE, VOCAB, 1, enc + 1, dec) > 1_651_584
    assert flops_per_step("encoder_decoder", SIZE, VOCAB, 1, enc, dec + 1) > 1_651_584


def test_the_head_is_38_percent_of_the_rest_at_the_default_studys_size():
    size = ModelSize(d_model=96, n_layers=3, n_heads=4, d_ff=384)
    parts = step_flops("causal_decoder", size, 2048, 1, 128, 0)
    assert parts.lm_head / (parts.non_embedding + parts.attention) == pytest.approx(0.38, abs=0.005)
