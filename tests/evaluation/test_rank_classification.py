from types import SimpleNamespace

import numpy as np
import pytest
import torch

from pretrainlab.config.schema import ModelSize
from pretrainlab.evaluation.batched_scoring import score_shared_prompts, tree_attention_mask
from pretrainlab.evaluation.rank_classification import (
    EncodedItem,
    PromptFormat,
    encode_items,
    model_scorer,
    rank_classify,
    reference_scorer,
)
from pretrainlab.evaluation.scoring_stack import scoring_stack
from pretrainlab.objectives.example import Example
from pretrainlab.tokenization.specials import SpecialTokens

SPECIALS = SpecialTokens.for_tests(vocab_size=160, num_sentinels=8)
SIZE = ModelSize(d_model=32, n_layers=2, n_heads=2, d_ff=64)
SEQ_LEN = 32
ARCHS = ("causal_decoder", "noncausal_decoder", "encoder_decoder")


def ids(*values):
    return np.asarray(values, dtype=np.int64)


@pytest.fixture(scope="module")
def models():
    from pretrainlab.models.build import build_model

    torch.manual_seed(0)
    out = {}
    for arch in ARCHS:
        model = build_model(arch, SIZE, SPECIALS, seq_len=SEQ_LEN, seed=0)
        out[arch] = model.eval()
    return out


def _regular(rng, n):
    return rng.integers(20, SPECIALS.vocab_size, size=n).astype(np.int64)


# ------------------------------------------------------------------------------ formats (no model)
def test_plain_format_and_sentinel_and_ul2_formats():
    plain = PromptFormat.for_model("full_lm", adapted=False, specials=SPECIALS)
    ex = plain.example(ids(20, 21, 22), ids(30, 31), arch="causal_decoder", seq_len=SEQ_LEN)
    assert ex.inputs.tolist() == [20, 21, 22] and ex.targets.tolist() == [30, 31]
    assert plain.skipped_targets == 0

    s0, eos = SPECIALS.sentinels[0], SPECIALS.eos
    mlm = PromptFormat.for_model("span_corruption", adapted=False, specials=SPECIALS)
    ex = mlm.example(ids(20, 21, 22), ids(30, 31), arch="encoder_decoder", seq_len=SEQ_LEN)
    assert ex.inputs.tolist() == [20, 21, 22, s0, eos] and ex.targets.tolist() == [s0, 30, 31]
    assert mlm.skipped_targets == 1

    ul2 = PromptFormat.for_model("ul2", adapted=False, specials=SPECIALS)
    ex = ul2.example(
        ids(20, 21),
        ids(
            30,
        ),
        arch="noncausal_decoder",
        seq_len=SEQ_LEN,
    )
    assert ex.inputs.tolist() == [SPECIALS.modes["S2S"], 20, 21, SPECIALS.eos]  # as UL2's S-denoiser
    assert ex.targets.tolist() == [30]

    assert PromptFormat.for_model("span_corruption", adapted=True, specials=SPECIALS) == PromptFormat()
    assert PromptFormat.for_model("ul2", adapted=True, specials=SPECIALS) == PromptFormat()


def test_long_prompts_are_cut_from_the_left():
    prompt, choice = np.arange(100, 140), ids(7, 8, 9)
    mlm = PromptFormat.for_model("span_corruption", adapted=False, specials=SPECIALS)
    ex = mlm.example(prompt, choice, arch="causal_decoder", seq_len=16)
    assert len(ex.inputs) + len(ex.targets) == 16
    assert ex.inputs[:-2].tolist() == list(range(140 - 10, 140))  # the end of the prompt survives
    assert ex.inputs[-2:].tolist() == [SPECIALS.sentinels[0], SPECIALS.eos]
    ex = PromptFormat().example(prompt, choice, arch="encoder_decoder", seq_len=16)
    assert ex.inputs.tolist() == list(range(124, 140)) and ex.targets.tolist() == [7, 8, 9]
    ex = PromptFormat().example(prompt[:3], np.arange(50, 80), arch="causal_decoder", seq_len=16)
    assert len(ex.inputs) == 1 and len(ex.targets) == 15  # an overlong choice is cut, one prompt token kept


# -------------------------------------------------------------------------- accuracy (fake scorer)
def test_accuracy_of_a_fixed_fake_scorer():
    # The fake scorer's log-likelihood of a choice is the sum of a per-token table over its tokens.
    table = {10: -1.0, 11: -2.0, 12: -0.5, 13: -3.0}

    def scorer(examples, skip):
        return np.array([sum(table[t] for t in e.targets[s:]) for e, s in zip(examples, skip, strict=True)])

    items = [
        # sums [-1, -2]: picks 0 (right); per token the same
        EncodedItem(ids(20), (ids(10), ids(11)), answer=0, choice_bytes=(3, 3)),
        # sums [-1, -1.5]: picks 0 (wrong); per token [-1, -0.75]: picks 1 (right)
        EncodedItem(ids(20), (ids(10), ids(12, 10)), answer=1, choice_bytes=(2, 4)),
        # sums [-3, -2]: picks 1 (wrong); per token the same; per byte [-3/10, -2/2] picks 0 (right)
        EncodedItem(ids(20), (ids(13), ids(11)), answer=0, choice_bytes=(10, 2)),
        # three choices, sums [-2, -1, -0.5]: picks 2 (right) every way
        EncodedItem(ids(20), (ids(11), ids(10), ids(12)), answer=2, choice_bytes=(1, 1, 1)),
    ]
    result = rank_classify(items, scorer, PromptFormat(), arch="causal_decoder", seq_len=SEQ_LEN)
    assert result.predictions.tolist() == [0, 0, 1, 2]
    assert result.correct.tolist() == [True, False, False, True]
    assert result.correct_norm.tolist() == [True, True, False, True]
    assert result.correct_byte_norm.tolist() == [True, True, True, True]
    assert (result.accuracy, result.accuracy_norm, result.accuracy_byte_norm) == (0.5, 0.75, 1.0)

    # In the sentinel format the scorer is told to skip the sentinel, and lengths exclude it.
    mlm = PromptFormat.for_model("span_corruption", adapted=False, specials=SPECIALS)
    table[SPECIALS.sentinels[0]] = -100.0  # would dominate if it were scored
    again = rank_classify(items, scorer, mlm, arch="encoder_decoder", seq_len=SEQ_LEN)
    assert again.correct_norm.tolist() == result.correct_norm.tolist()


def test_encode_items_tokenises_prompt_and_choices_separately():
    class Tok:
        def __call__(self, texts, add_special_tokens):
            assert add_special_tokens is False
            return {"input_ids": [[ord(c) for c in t] for t in texts]}

    item = SimpleNamespace(prompt="Q?", choices=(" yes", " né"), answer=1)
    (enc,) = encode_items([item], Tok())
    assert enc.prompt.tolist() == [81, 63]
    assert enc.choices[1].tolist() == [32, 110, 233]
    assert enc.answer == 1 and enc.choice_bytes == (4, 4)  # "é" is two UTF-8 bytes


# ------------------------------------------------------------------------------- real tiny models
def _hand_log_likelihood_cd(model, prompt, choice):
    seq = torch.as_tensor(np.concatenate([prompt, choice]))[None]
    logp = torch.log_softmax(model(input_ids=seq).logits.float(), dim=-1)[0]
    positions = torch.arange(len(prompt) - 1, len(prompt) + len(choice) - 1)
    return float(logp[positions, torch.as_tensor(choice)].sum())


def test_scores_equal_a_hand_computed_log_likelihood_cd(models):
    model = models["causal_decoder"]
    rng = np.random.default_rng(0)
    pairs = [
        (_regular(rng, int(rng.integers(2, 9))), _regular(rng, int(rng.integers(1, 5)))) for _ in range(7)
    ]
    scorer = model_scorer(model, "causal_decoder", SPECIALS, max_batch_tokens=40)  # several padded batches
    got = scorer([Example(p, c) for p, c in pairs], [0] * len(pairs))
    with torch.inference_mode():
        want = [_hand_log_likelihood_cd(model, p, c) for p, c in pairs]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("arch", ARCHS)
def test_scores_do_not_depend_on_batching_or_padding(models, arch):
    rng = np.random.default_rng(1)
    examples = [
        Example(_regular(rng, int(rng.integers(2, 12))), _regular(rng, int(rng.integers(1, 6))))
        for _ in range(9)
    ]
    together = model_scorer(models[arch], arch, SPECIALS, max_batch_tokens=4096)(examples, [0] * 9)
    alone = [model_scorer(models[arch], arch, SPECIALS)([e], [0])[0] for e in examples]
    np.testing.assert_allclose(together, alone, rtol=1e-4, atol=1e-4)
    assert np.all(together < 0)


def test_encoder_decoder_scores_match_stock_transformers_loss(models):
    model = models["encoder_decoder"]
    rng = np.random.default_rng(2)
    prompt, choice = _regular(rng, 6), _regular(rng, 4)
    got = model_scorer(model, "encoder_decoder", SPECIALS)([Example(prompt, choice)], [0])[0]
    with torch.inference_mode():
        out = model(input_ids=torch.as_tensor(prompt)[None], labels=torch.as_tensor(choice)[None])
    assert got == pytest.approx(-float(out.loss) * len(choice), rel=1e-4, abs=1e-4)


@pytest.mark.parametrize("arch", ARCHS)
def test_sentinel_log_prob_is_the_same_for_every_choice(models, arch):
    rng = np.random.default_rng(3)
    fmt = PromptFormat.for_model("span_corruption", adapted=False, specials=SPECIALS)
    prompt = _regular(rng, 7)
    examples = [fmt.example(prompt, _regular(rng, n), arch=arch, seq_len=SEQ_LEN) for n in (1, 2, 4)]
    scorer = model_scorer(models[arch], arch, SPECIALS)
    with_sentinel = scorer(examples, [0, 0, 0])
    choice_only = scorer(examples, [1, 1, 1])
    sentinel = with_sentinel - choice_only
    assert np.all(sentinel < 0)
    np.testing.assert_allclose(sentinel, sentinel[0], rtol=1e-4, atol=1e-5)


def test_greedy_continuation_wins_for_a_causal_decoder(models):
    """A 'cheating' item whose right answer is the model's own greedy continuation is always solved."""
    model = models["causal_decoder"]
    rng = np.random.default_rng(4)
    items = []
    for k in range(6):
        prompt = _regular(rng, 5)
        seq = torch.as_tensor(prompt)[None]
        with torch.inference_mode():
            for _ in range(3):
                logits = model(input_ids=seq).logits[0, -1]
                logits[list(SPECIALS.all_ids)] = -torch.inf
                seq = torch.cat([seq, logits.argmax().view(1, 1)], dim=1)
        greedy = seq[0, len(prompt) :].numpy()
        # Distractors share the greedy prefix and change the last token, so they are strictly less likely
        # (the last step's argmax is the greedy token); one single-token item is included as well.
        distractors = [
            np.concatenate([greedy[:2], [t]]) for t in rng.choice(np.setdiff1d(np.arange(20, 160), greedy), 3)
        ]
        choices = [greedy, *distractors] if k % 2 else [*distractors, greedy]
        items.append(EncodedItem(prompt, tuple(choices), answer=0 if k % 2 else 3, choice_bytes=(3,) * 4))
    first = items[0].prompt
    single = torch.as_tensor(first)[None]
    with torch.inference_mode():
        top = int(model(input_ids=single).logits[0, -1, 20:].argmax()) + 20
    others = [t for t in (21, 22, 23, 24) if t != top][:2]
    items.append(
        EncodedItem(first, (ids(others[0]), ids(top), ids(others[1])), answer=1, choice_bytes=(1, 1, 1))
    )
    scorer = model_scorer(model, "causal_decoder", SPECIALS)
    result = rank_classify(items, scorer, PromptFormat(), arch="causal_decoder", seq_len=SEQ_LEN)
    assert result.correct.all(), result.predictions


# ------------------------------------------------- shared-prompt scoring == the per-choice reference
FORMATS = {"plain": "full_lm", "sentinel": "span_corruption", "ul2": "ul2"}


def _random_items(rng, n):
    """Items with 2-4 choices of 1-5 tokens; prompts up to 40 tokens, so some exceed SEQ_LEN and are
    cut differently per choice length; some items repeat a choice or share a prompt."""
    items = []
    for k in range(n):
        prompt = _regular(rng, int(rng.integers(1, 41)))
        choices = [_regular(rng, int(rng.integers(1, 6))) for _ in range(int(rng.integers(2, 5)))]
        if k % 5 == 0:
            choices.append(choices[0].copy())  # the same choice twice
        if k % 7 == 3:
            prompt = items[-1].prompt  # the previous item's prompt again
        items.append(EncodedItem(prompt, tuple(choices), answer=0, choice_bytes=(1,) * len(choices)))
    return items


def _both(model, arch, fmt, items, max_batch_tokens):
    examples = [fmt.example(i.prompt, c, arch=arch, seq_len=SEQ_LEN) for i in items for c in i.choices]
    skip = [fmt.skipped_targets] * len(examples)
    want = reference_scorer(model, arch, SPECIALS)(examples, skip)
    got = model_scorer(model, arch, SPECIALS, max_batch_tokens=max_batch_tokens)(examples, skip)
    return got, want


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("name", FORMATS)
def test_shared_prompt_scores_equal_the_per_choice_reference(models, arch, name):
    fmt = PromptFormat.for_model(FORMATS[name], adapted=False, specials=SPECIALS)
    items = _random_items(np.random.default_rng(5), 24)
    for max_batch_tokens in (8192, 24):  # one batch; and rows split between batches and branches
        got, want = _both(models[arch], arch, fmt, items, max_batch_tokens)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    assert np.all(want < 0)
    ranked = rank_classify(items, model_scorer(models[arch], arch, SPECIALS), fmt, arch=arch, seq_len=SEQ_LEN)
    reference = rank_classify(
        items, reference_scorer(models[arch], arch, SPECIALS), fmt, arch=arch, seq_len=SEQ_LEN
    )
    assert ranked.predictions.tolist() == reference.predictions.tolist()


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("name", FORMATS)
def test_choices_that_are_prefixes_of_each_other_score_as_alone(models, arch, name):
    """Leading tokens every choice shares are read once (the trunk); a choice that the shared part
    covers entirely is scored in the trunk alone."""
    fmt = PromptFormat.for_model(FORMATS[name], adapted=False, specials=SPECIALS)
    rng = np.random.default_rng(11)
    items = []
    for _ in range(6):
        stem = _regular(rng, 3)
        choices = (stem[:1], stem[:2], stem, np.concatenate([stem, _regular(rng, 2)]))
        items.append(EncodedItem(_regular(rng, int(rng.integers(2, 12))), choices, 0, (1,) * 4))
    got, want = _both(models[arch], arch, fmt, items, 8192)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


def test_bert_style_encoder_scores_equal_the_reference():
    from pretrainlab.models.build import build_model

    model = build_model("encoder", SIZE, SPECIALS, seq_len=SEQ_LEN, seed=0).eval()
    fmt = PromptFormat.for_model("mlm", adapted=False, specials=SPECIALS)
    items = _random_items(np.random.default_rng(6), 16)
    for max_batch_tokens in (8192, 24):
        got, want = _both(model, "encoder", fmt, items, max_batch_tokens)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    assert np.all(want < 0)


def test_shared_prompt_scores_equal_the_reference_under_sdpa():
    from pretrainlab.models.build import build_model

    arch = "noncausal_decoder"
    model = build_model(arch, SIZE, SPECIALS, seq_len=SEQ_LEN, seed=0, attn_implementation="sdpa").eval()
    got, want = _both(model, arch, PromptFormat(), _random_items(np.random.default_rng(7), 12), 8192)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


def _count_embedded_tokens(model, counts):
    """Hooks on every token embedding (ED has two) that append the tokens each forward pass embeds."""
    embeddings = [m for m in model.modules() if isinstance(m, torch.nn.Embedding)]
    return [e.register_forward_hook(lambda _, args, __: counts.append(args[0].numel())) for e in embeddings]


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("arch", ARCHS)
def test_the_prompt_is_read_once_for_all_choices(models, arch, fast):
    model = models[arch]
    prompt, choices = (
        _regular(np.random.default_rng(8), 20),
        [ids(30, 31), ids(32, 33), ids(34, 35), ids(36, 37)],
    )
    examples = [Example(prompt, c) for c in choices]
    positions = []
    hooks = _count_embedded_tokens(model, positions)
    try:
        with torch.inference_mode():
            score_shared_prompts(
                model,
                arch,
                SPECIALS,
                examples,
                [0] * 4,
                max_batch_tokens=8192,
                device=torch.device("cpu"),
                fast=fast,
            )
    finally:
        for hook in hooks:
            hook.remove()
    # one pass: the prompt once, then each choice (reference: 4 x 22); the ED decoder's bos is shared too
    assert sum(positions) == (20 + 1 + 4 if arch == "encoder_decoder" else 20 + 4 * 2)


@pytest.mark.parametrize("arch", [*ARCHS, "encoder"])
def test_the_models_own_forward_gives_the_same_scores(arch):
    """The fallback for models :mod:`.scoring_stack` does not know (the model's forward) scores alike."""
    from pretrainlab.models.build import build_model

    model = build_model(arch, SIZE, SPECIALS, seq_len=SEQ_LEN, seed=0).eval()
    fmt = PromptFormat.for_model(
        "mlm" if arch == "encoder" else "span_corruption", adapted=False, specials=SPECIALS
    )
    items = _random_items(np.random.default_rng(9), 12)
    examples = [fmt.example(i.prompt, c, arch=arch, seq_len=SEQ_LEN) for i in items for c in i.choices]
    skip = [fmt.skipped_targets] * len(examples)
    with torch.inference_mode():
        fast, stock = (
            score_shared_prompts(
                model, arch, SPECIALS, examples, skip, max_batch_tokens=64, device=torch.device("cpu"), fast=f
            )
            for f in (True, False)
        )
    assert scoring_stack(model) is not None  # the study's models take the fast path
    np.testing.assert_allclose(fast, stock, rtol=0, atol=1e-5)
    np.testing.assert_allclose(
        fast, reference_scorer(model, arch, SPECIALS)(examples, skip), rtol=0, atol=1e-5
    )


@pytest.mark.parametrize("arch", [*ARCHS, "encoder"])
def test_grouped_query_attention_scores_equal_the_reference(arch):
    from pretrainlab.models.build import build_model

    size = ModelSize(d_model=32, n_layers=2, n_heads=4, d_ff=64, n_kv_heads=2)
    model = build_model(arch, size, SPECIALS, seq_len=SEQ_LEN, seed=1).eval()
    fmt = PromptFormat.for_model("mlm" if arch == "encoder" else "full_lm", adapted=False, specials=SPECIALS)
    got, want = _both(model, arch, fmt, _random_items(np.random.default_rng(10), 10), 8192)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


def test_tree_mask_worked_example():
    # inputs [a b c], choices [x y] and [z] -> one row [a b c x y z] (the batched_scoring docstring)
    real = torch.ones(1, 6, dtype=torch.bool)
    branch = torch.tensor([[0, 0, 0, 1, 1, 2]])
    expected_cd = [
        [1, 0, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0],
        [1, 1, 1, 0, 0, 0],
        [1, 1, 1, 1, 0, 0],  # x sees the prompt and itself
        [1, 1, 1, 1, 1, 0],  # y sees the prompt, x and itself
        [1, 1, 1, 0, 0, 1],  # z sees the prompt and itself, never the other choice
    ]
    causal = torch.zeros(1, 6, dtype=torch.bool)
    allowed = tree_attention_mask(real, branch, causal, torch.float32)[0, 0] == 0
    assert allowed.int().tolist() == expected_cd
    prefix = torch.tensor([[True, True, True, False, False, False]])  # ND: the prompt is bidirectional
    allowed = tree_attention_mask(real, branch, prefix, torch.float32)[0, 0] == 0
    assert allowed[:3].int().tolist() == [[1, 1, 1, 0, 0, 0]] * 3
    assert allowed[3:].int().tolist() == expected_cd[3:]


def test_scoring_restores_training_mode_and_rejects_mismatched_examples(models):
    model = models["causal_decoder"].train()
    try:
        model_scorer(model, "causal_decoder", SPECIALS)([Example(ids(20, 21), ids(22))], [0])
        assert model.training
    finally:
        model.eval()
    labelled = Example(ids(20, SPECIALS.mask), ids(), aligned_labels=ids(-100, 22))
    with pytest.raises(ValueError, match="aligned_labels"):
        model_scorer(model, "causal_decoder", SPECIALS)([labelled], [0])
    with pytest.raises(ValueError, match="aligned_labels"):
        model_scorer(model, "encoder", SPECIALS)([Example(ids(20), ids(22))], [0])
