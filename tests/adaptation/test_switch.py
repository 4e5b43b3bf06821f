import numpy as np
import pytest
import torch

from pretrainlab.adaptation.switch import same_weights
from pretrainlab.config.schema import ModelSize
from pretrainlab.models.build import build_model
from pretrainlab.models.layout import collate, forward_logits
from pretrainlab.objectives.example import IGNORE, Example
from pretrainlab.tokenization.specials import SpecialTokens

SPECIALS = SpecialTokens.for_tests(vocab_size=128, num_sentinels=4)
SIZE = ModelSize(d_model=32, n_layers=2, n_heads=4, d_ff=64)


def _settings(config):
    """The config without load metadata (dtype, path, architectures)."""
    drop = {"dtype", "_name_or_path", "architectures", "transformers_version"}
    return {k: v for k, v in config.to_dict().items() if k not in drop}


def _same_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize(
    ("source_arch", "target_arch"),
    [("noncausal_decoder", "causal_decoder"), ("causal_decoder", "noncausal_decoder")],
)
def test_lm_a_and_nc_a_keep_the_weights_and_change_only_the_mask(source_arch, target_arch):
    source = build_model(source_arch, SIZE, SPECIALS, seq_len=32, seed=0).eval()
    adapted = same_weights(source, target_arch).eval()
    assert adapted is not source and _same_state(adapted, source)
    assert adapted.config.to_dict() == source.config.to_dict()

    example = [Example(np.arange(20, 28), np.arange(40, 44))]
    logits = {}
    with torch.no_grad():
        for arch in ("causal_decoder", "noncausal_decoder"):
            batch = collate(example, arch, SPECIALS, input_len=8, target_len=4)
            logits[arch] = (forward_logits(adapted, arch, batch), batch.labels)
    (cd, labels_cd), (nd, labels_nd) = logits["causal_decoder"], logits["noncausal_decoder"]
    assert torch.equal(labels_cd, labels_nd)  # same tokens, same loss positions
    on_targets = labels_cd[0] != IGNORE
    assert not torch.allclose(cd[0, on_targets], nd[0, on_targets], atol=1e-4)  # only the mask differs
    with torch.no_grad():  # and the causal view is exactly the source's causal view
        batch = collate(example, "causal_decoder", SPECIALS, input_len=8, target_len=4)
        torch.testing.assert_close(forward_logits(source, "causal_decoder", batch), cd, rtol=0, atol=0)


def test_to_and_from_the_encoder_flips_the_config_flags(tmp_path):
    source = build_model("causal_decoder", SIZE, SPECIALS, seq_len=32, seed=0)
    want = _settings(build_model("encoder", SIZE, SPECIALS, seq_len=32, seed=0).config)
    source.save_pretrained(tmp_path)
    encoder = same_weights(tmp_path, "encoder")
    assert _same_state(encoder, source)
    assert _settings(encoder.config) == want
    assert all(not layer.self_attn.is_causal for layer in encoder.model.layers)
    back = same_weights(encoder, "causal_decoder")
    assert _settings(back.config) == _settings(source.config)
    assert all(layer.self_attn.is_causal for layer in back.model.layers) and _same_state(back, source)


def test_encoder_decoder_is_not_a_same_weight_target():
    source = build_model("causal_decoder", SIZE, SPECIALS, seq_len=32, seed=0)
    with pytest.raises(ValueError, match="encoder_decoder_from_decoder"):
        same_weights(source, "encoder_decoder")
