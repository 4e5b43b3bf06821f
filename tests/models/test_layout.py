from __future__ import annotations

import numpy as np
import pytest
import torch

from pretrainlab.config.schema import ModelSize
from pretrainlab.models import build_model, collate, forward_logits, loss, token_log_probs
from pretrainlab.objectives import IGNORE, Example
from pretrainlab.tokenization.specials import SpecialTokens

SPECIALS = SpecialTokens.for_tests(vocab_size=160, num_sentinels=8)
SIZE = ModelSize(d_model=32, n_layers=2, n_heads=4, d_ff=64)
A, B, C, D = 20, 21, 22, 23
X, PAD = IGNORE, SPECIALS.pad
EXAMPLE = [Example(np.array([A, B]), np.array([C, D]))]


def test_decoder_worked_example():
    cd = collate(EXAMPLE, "causal_decoder", SPECIALS, 3, 2)
    assert cd.input_ids.tolist() == [[A, B, C, D, PAD]]
    assert cd.attention_mask.tolist() == [[1, 1, 1, 1, 0]]
    assert cd.labels.tolist() == [[X, C, D, X]]
    assert cd.prefix_lengths.tolist() == [0] and cd.num_tokens == 5
    assert collate(EXAMPLE, "noncausal_decoder", SPECIALS, 3, 2).prefix_lengths.tolist() == [2]


def test_encoder_decoder_worked_example():
    ed = collate(EXAMPLE, "encoder_decoder", SPECIALS, 3, 2)
    assert ed.input_ids.tolist() == [[A, B, PAD]] and ed.attention_mask.tolist() == [[1, 1, 0]]
    assert ed.decoder_input_ids.tolist() == [[SPECIALS.bos, C]] and ed.decoder_attention_mask.tolist() == [
        [1, 1]
    ]
    assert ed.labels.tolist() == [[C, D]] and ed.num_tokens == 5
    with pytest.raises(ValueError, match="longer"):
        collate(EXAMPLE, "encoder_decoder", SPECIALS, 1, 2)


def test_encoder_worked_example():
    mlm = [Example(np.array([A, SPECIALS.mask, C]), np.zeros(0, np.int64), np.array([X, B, X]))]
    enc = collate(mlm, "encoder", SPECIALS, 4, 0)
    assert enc.input_ids.tolist() == [[A, SPECIALS.mask, C, PAD]]
    assert enc.labels.tolist() == [[X, B, X, X]] and enc.prefix_lengths.tolist() == [3]
    with pytest.raises(ValueError, match="encoder"):
        collate(mlm, "causal_decoder", SPECIALS, 4, 0)


@pytest.mark.parametrize("arch", ["causal_decoder", "noncausal_decoder", "encoder_decoder"])
def test_rank_classification_score_ignores_padding_and_batch_mates(arch):
    model = build_model(arch, SIZE, SPECIALS, seq_len=32, seed=0).eval()
    prompt, choice = np.array([30, 31, 32, 33]), np.array([40, 41, 42])
    others = [Example(np.arange(50, 57), np.array([60])), Example(np.array([70]), np.arange(80, 86))]

    def score(examples, input_len, target_len):
        batch = collate(examples, arch, SPECIALS, input_len, target_len)
        with torch.no_grad():
            return token_log_probs(forward_logits(model, arch, batch), batch.labels).sum(-1)

    alone = score([Example(prompt, choice)], 4, 3)[0]
    padded = score([*others, Example(prompt, choice)], 8, 6)[2]
    torch.testing.assert_close(alone, padded, atol=1e-5, rtol=0)
    # the score is the sum of log p(choice token | prompt, earlier choice tokens) by hand
    batch = collate([Example(prompt, choice)], arch, SPECIALS, 4, 3)
    with torch.no_grad():
        logits = forward_logits(model, arch, batch)
    if arch == "encoder_decoder":
        by_hand = torch.log_softmax(logits[0], -1)[torch.arange(3), torch.tensor(choice)].sum()
    else:
        by_hand = torch.log_softmax(logits[0], -1)[torch.arange(3, 6), torch.tensor(choice)].sum()
    torch.testing.assert_close(alone, by_hand)
    mean_nll = -token_log_probs(logits, batch.labels).sum() / 3
    torch.testing.assert_close(loss(logits, batch.labels), mean_nll)


def test_to_moves_every_tensor():
    batch = collate(EXAMPLE, "encoder_decoder", SPECIALS, 3, 2).to("meta")
    assert all(t.device.type == "meta" for t in vars(batch).values() if isinstance(t, torch.Tensor))
