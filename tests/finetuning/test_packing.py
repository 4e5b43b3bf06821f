import numpy as np
import pytest
import torch

from pretrainlab.config.schema import ModelSize
from pretrainlab.finetuning.packing import collate_packed, pack, pack_examples, padding_fraction
from pretrainlab.models.build import build_model
from pretrainlab.models.layout import collate, forward_logits, token_log_probs
from pretrainlab.models.masks import packed_attention_mask
from pretrainlab.objectives.example import IGNORE, Example
from pretrainlab.tokenization.specials import SpecialTokens

SPECIALS = SpecialTokens.for_tests(vocab_size=128, num_sentinels=4)
SIZE = ModelSize(d_model=32, n_layers=2, n_heads=4, d_ff=64)


def ids(*values):
    return np.asarray(values, dtype=np.int64)


def test_best_fit_packing_on_literal_lengths():
    assert pack([5, 3, 4, 2, 6], seq_len=8) == [[0, 1], [2, 3], [4]]
    rows = pack([3, 7, 1, 8, 2, 2, 5, 4, 6, 1], seq_len=8)
    assert sorted(i for row in rows for i in row) == list(range(10))
    assert all(sum([3, 7, 1, 8, 2, 2, 5, 4, 6, 1][i] for i in row) <= 8 for row in rows)
    with pytest.raises(ValueError, match="1..8"):
        pack([9], seq_len=8)


def test_worked_example_layout():
    a, b, c, d, e, f = 20, 21, 22, 23, 24, 25
    examples = [Example(ids(a, b), ids(c)), Example(ids(d), ids(e, f))]
    batch = collate_packed([examples], "noncausal_decoder", SPECIALS, seq_len=8)
    pad, ig = SPECIALS.pad, IGNORE
    assert batch.input_ids[0].tolist() == [a, b, c, d, e, f, pad, pad]
    assert batch.segment_ids[0].tolist() == [1, 1, 1, 2, 2, 2, 0, 0]
    assert batch.position_ids[0].tolist() == [0, 1, 2, 0, 1, 2, 0, 0]
    assert batch.prefix_mask[0].tolist() == [True, True, False, True, False, False, False, False]
    assert batch.labels[0].tolist() == [ig, c, ig, e, f, ig, ig]
    assert batch.num_real_tokens == 6
    mask = packed_attention_mask(batch.segment_ids, batch.prefix_mask)[0, 0] == 0
    assert mask[0].tolist() == [True, True, False, False, False, False, False, False]  # a sees b (prefix)
    assert mask[4].tolist() == [False, False, False, True, True, False, False, False]  # e: its segment only
    assert mask.any(dim=1).all() and not mask[:6, 6:].any()  # no empty row; no real token sees a pad


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
@pytest.mark.parametrize("arch", ["causal_decoder", "noncausal_decoder"])
def test_packed_rows_score_exactly_like_examples_alone(arch, attn):
    model = build_model(arch, SIZE, SPECIALS, seq_len=32, seed=0, attn_implementation=attn).eval()
    rng = np.random.default_rng(0)
    examples = [
        Example(rng.integers(20, 128, n_in), rng.integers(20, 128, n_tgt))
        for n_in, n_tgt in [(5, 2), (9, 3), (3, 1), (12, 4), (6, 2), (2, 5)]
    ]
    rows = pack_examples(examples, seq_len=24)
    assert len(rows) < len(examples)
    alone = []
    with torch.no_grad():
        for example in examples:
            batch = collate([example], arch, SPECIALS, len(example.inputs), len(example.targets))
            scored = token_log_probs(forward_logits(model, arch, batch), batch.labels)[0]
            alone.append(scored[batch.labels[0] != IGNORE])
        packed = collate_packed(rows, arch, SPECIALS, seq_len=24)
        scores = token_log_probs(forward_logits(model, arch, packed), packed.labels)
    by_index = {id(e): i for i, e in enumerate(examples)}
    order = [by_index[id(e)] for row in rows for e in row]
    packed_scores = [scores[r][packed.labels[r] != IGNORE] for r in range(len(rows))]
    flat = torch.cat(packed_scores)
    want = torch.cat([alone[i] for i in order])
    torch.testing.assert_close(flat, want, rtol=1e-5, atol=1e-5)


def test_packing_cuts_padding_and_refuses_the_encoder_decoder():
    rng = np.random.default_rng(0)
    examples = [Example(rng.integers(20, 128, n), ids(30, 31, 2)) for n in rng.integers(5, 60, 200)]
    unpacked = padding_fraction(examples, "causal_decoder", 64, packed=False)
    packed = padding_fraction(examples, "causal_decoder", 64, packed=True)
    assert packed < 0.1 < 0.3 < unpacked
    with pytest.raises(ValueError, match="packing supports"):
        collate_packed([examples[:1]], "encoder_decoder", SPECIALS, seq_len=64)
