import numpy as np
import pytest
import torch
from transformers import AutoModelForSeq2SeqLM

from pretrainlab.adaptation.decoder_to_encoder_decoder import (
    encoder_decoder_from_decoder,
    is_cross_attention,
    source_names,
)
from pretrainlab.config.schema import ModelSize
from pretrainlab.models.build import build_model, model_config
from pretrainlab.models.layout import collate, forward_logits
from pretrainlab.objectives.example import Example
from pretrainlab.tokenization.specials import SpecialTokens

SPECIALS = SpecialTokens.for_tests(vocab_size=128, num_sentinels=4)
SIZE = ModelSize(d_model=32, n_layers=2, n_heads=4, d_ff=64, n_kv_heads=2)
SEQ_LEN = 32


@pytest.fixture(scope="module")
def decoder():
    model = build_model("causal_decoder", SIZE, SPECIALS, seq_len=SEQ_LEN, seed=0)
    with torch.no_grad():  # non-trivial norms, so a norm copied to the wrong place would show
        for name, p in model.named_parameters():
            if "norm" in name:
                p.uniform_(-0.5, 0.5)
    return model


def _layers(model, stack):
    return getattr(model.model, stack).layers


def test_copy_mode_every_layer_equals_its_source_and_cross_equals_self(decoder):
    ed = encoder_decoder_from_decoder(decoder, cross_attention="copy", seed=0)
    src = dict(decoder.named_parameters())
    names = source_names(ed)
    assert set(names) == set(dict(ed.named_parameters()))  # every ED tensor comes from the decoder
    for name, p in ed.named_parameters():
        assert torch.equal(p, src[names[name]]), name
    for stack in ("encoder", "decoder"):
        for mine, theirs in zip(_layers(ed, stack), decoder.model.layers, strict=True):
            assert torch.equal(mine.pre_self_attn_layernorm.weight, theirs.input_layernorm.weight)
            assert torch.equal(mine.post_self_attn_layernorm.weight, theirs.post_attention_layernorm.weight)
            for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
                assert torch.equal(
                    getattr(mine.self_attn, proj).weight, getattr(theirs.self_attn, proj).weight
                )
    for layer in _layers(ed, "decoder"):
        for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
            assert torch.equal(getattr(layer.cross_attn, proj).weight, getattr(layer.self_attn, proj).weight)
        assert torch.equal(layer.pre_cross_attn_layernorm.weight, layer.pre_self_attn_layernorm.weight)
        assert torch.equal(layer.post_cross_attn_layernorm.weight, layer.post_self_attn_layernorm.weight)
    # separate embeddings, LM head tied to the decoder's, as build_model("encoder_decoder") sets up
    enc, dec = ed.model.encoder.embed_tokens.weight, ed.model.decoder.embed_tokens.weight
    assert enc.data_ptr() != dec.data_ptr() and ed.lm_head.out_proj.weight is dec
    want = model_config("encoder_decoder", SIZE, SPECIALS.vocab_size, seq_len=SEQ_LEN, specials=SPECIALS)
    assert ed.config.to_dict() == want.to_dict()
    # the source is untouched (its encoder copy is a different tensor)
    assert enc.data_ptr() != decoder.model.embed_tokens.weight.data_ptr()


def test_random_mode_is_seeded_and_leaves_the_rest_copied(decoder):
    state = torch.random.get_rng_state()
    a = encoder_decoder_from_decoder(decoder, cross_attention="random", seed=1)
    assert torch.equal(state, torch.random.get_rng_state())
    b = encoder_decoder_from_decoder(decoder, cross_attention="random", seed=1)
    c = encoder_decoder_from_decoder(decoder, cross_attention="random", seed=2)
    src, names = dict(decoder.named_parameters()), source_names(a)
    cross = [n for n, _ in a.named_parameters() if is_cross_attention(n)]
    assert len(cross) == SIZE.n_layers * 6  # q k v o + two norms per decoder layer
    for name, p in a.named_parameters():
        assert torch.equal(p, dict(b.named_parameters())[name])
        if name in cross:
            if name.endswith("proj.weight"):
                assert not torch.equal(p, src[names[name]]) and not torch.equal(
                    p, dict(c.named_parameters())[name]
                )
        else:
            assert torch.equal(p, src[names[name]]), name


def test_adapted_model_runs_and_loads_in_stock_transformers(decoder, tmp_path):
    ed = encoder_decoder_from_decoder(decoder, cross_attention="copy", seed=0).eval()
    rng = np.random.default_rng(0)
    examples = [Example(rng.integers(20, 128, n), rng.integers(20, 128, 3)) for n in (5, 9)]
    batch = collate(examples, "encoder_decoder", SPECIALS, input_len=9, target_len=3)
    with torch.no_grad():
        logits = forward_logits(ed, "encoder_decoder", batch)
    assert logits.shape == (2, 3, SPECIALS.vocab_size) and torch.isfinite(logits).all()
    ed.save_pretrained(tmp_path)
    loaded = AutoModelForSeq2SeqLM.from_pretrained(tmp_path, dtype=torch.float32).eval()
    with torch.no_grad():
        again = forward_logits(loaded, "encoder_decoder", batch)
    torch.testing.assert_close(again, logits, rtol=0, atol=1e-6)


def test_bad_cross_attention_mode(decoder):
    with pytest.raises(ValueError, match="cross_attention"):
        encoder_decoder_from_decoder(decoder, cross_attention="zeros", seed=0)  # type: ignore[arg-type]


def test_encoder_attends_bidirectionally(decoder):
    ed = encoder_decoder_from_decoder(decoder, cross_attention="copy", seed=0).eval()
    ids = torch.tensor([[20, 21, 22, 23]])
    changed = ids.clone()
    changed[0, -1] = 40
    with torch.no_grad():
        first = ed.get_encoder()(input_ids=ids).last_hidden_state[0, 0]
        later_changed = ed.get_encoder()(input_ids=changed).last_hidden_state[0, 0]
    assert not torch.allclose(first, later_changed)  # position 0 sees the last token
