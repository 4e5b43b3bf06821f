from collections import Counter

import numpy as np
import pytest

from pretrainlab.evaluation.prompt_layout import PromptFormat
from pretrainlab.evaluation.rank_classification import encode_items
from pretrainlab.finetuning.mixture import (
    build_mixture,
    distinct_items,
    mixture_rates,
    mtf_examples,
    training_tasks,
)
from pretrainlab.models.layout import collate
from pretrainlab.objectives.example import IGNORE
from pretrainlab.synthworld import (
    HELD_OUT_CLUSTERS,
    TASK_FAMILIES,
    TRAINING_CLUSTERS,
    generate_task_items,
)

PER_TASK, CAP = 60, 40


@pytest.fixture(scope="module")
def mixture(world):
    return build_mixture(world=world, examples_per_task=PER_TASK, cap=CAP, seed=0)


def test_capped_examples_proportional_rates():
    rates = mixture_rates({"a": 10, "b": 1000, "c": 50}, cap=100)
    assert rates == {"a": 10 / 160, "b": 100 / 160, "c": 50 / 160}
    with pytest.raises(ValueError, match="cap"):
        mixture_rates({"a": 1}, cap=0)


def test_mixture_holds_no_held_out_task_or_template(mixture):
    held_out = {(name, t) for name, fam in TASK_FAMILIES.items() if fam.held_out for t in fam.templates}
    assert held_out  # the suite has held-out families to keep out
    for item in mixture:
        assert (
            not item.held_out and item.cluster in TRAINING_CLUSTERS and item.cluster not in HELD_OUT_CLUSTERS
        )
        assert not TASK_FAMILIES[item.task].held_out and (item.task, item.template) not in held_out
    # every template of every training family is in the mixture
    want = {(name, t) for name in training_tasks() for t in TASK_FAMILIES[name].templates}
    assert {(item.task, item.template) for item in mixture} == want
    assert set(training_tasks()) == {n for n, f in TASK_FAMILIES.items() if f.cluster in TRAINING_CLUSTERS}


def test_proportions_follow_the_capped_rule(mixture, world):
    sizes = {task: len(distinct_items(task, world, PER_TASK)) for task in training_tasks()}
    assert min(sizes.values()) < CAP < max(sizes.values())  # the cap binds for some tasks, not others
    counts = Counter(item.task for item in mixture)
    assert counts == {task: min(n, CAP) for task, n in sizes.items()}
    rates = mixture_rates(sizes, CAP)
    for task, count in counts.items():
        assert count / len(mixture) == pytest.approx(rates[task])
    assert len({(i.task, i.prompt) for i in mixture}) == len(mixture)  # no item twice


def test_mixture_is_deterministic_and_seeded(mixture, world):
    again = build_mixture(world=world, examples_per_task=PER_TASK, cap=CAP, seed=0)
    assert again == mixture
    other = build_mixture(world=world, examples_per_task=PER_TASK, cap=CAP, seed=1)
    assert other != mixture and Counter(i.task for i in other) == Counter(i.task for i in mixture)


def test_mixture_items_are_disjoint_from_evaluation_items(mixture, world):
    for task in training_tasks():
        eval_prompts = {
            item.prompt
            for item in generate_task_items(
                task, 100, entities=world["entities"], documents=world["documents"], seed=world["seed"]
            )
        }
        assert not eval_prompts & {item.prompt for item in mixture if item.task == task}


@pytest.mark.parametrize("arch", ["causal_decoder", "noncausal_decoder", "encoder_decoder"])
def test_examples_have_loss_only_on_the_answer_and_eos(mixture, tokenizer_and_specials, arch):
    tokenizer, specials = tokenizer_and_specials
    items = mixture[:16]
    examples = mtf_examples(
        items, tokenizer, specials, seq_len=512, arch=arch, objective="full_lm", adapted=False
    )
    for item, encoded, example in zip(items, encode_items(items, tokenizer), examples, strict=True):
        # the same tokens rank classification scores for the correct choice, then </s>
        scored = PromptFormat().example(encoded.prompt, encoded.choices[item.answer], arch=arch, seq_len=512)
        assert example.inputs.tolist() == scored.inputs.tolist()
        assert example.targets.tolist() == [*scored.targets.tolist(), specials.eos]
        assert tokenizer.decode(example.targets[:-1]) == item.choices[item.answer]
    n_in = max(len(e.inputs) for e in examples)
    n_tgt = max(len(e.targets) for e in examples)
    batch = collate(examples, arch, specials, n_in, n_tgt)
    for row, example in enumerate(examples):
        labels = batch.labels[row]
        assert labels[labels != IGNORE].tolist() == example.targets.tolist()


def test_long_prompts_are_cut_from_the_left_to_fit(mixture, tokenizer_and_specials):
    tokenizer, specials = tokenizer_and_specials
    long = max(mixture, key=lambda item: len(item.prompt))
    prompt = encode_items([long], tokenizer)[0].prompt
    for arch in ("causal_decoder", "encoder_decoder"):
        (example,) = mtf_examples(
            [long], tokenizer, specials, seq_len=24, arch=arch, objective="full_lm", adapted=True
        )
        bound = (
            len(example.inputs) + len(example.targets) if arch != "encoder_decoder" else len(example.inputs)
        )
        assert bound <= 24 and example.targets[-1] == specials.eos
        assert example.inputs.tolist() == prompt[len(prompt) - len(example.inputs) :].tolist()


def test_unadapted_span_corruption_models_get_their_prompt_format(mixture, tokenizer_and_specials):
    tokenizer, specials = tokenizer_and_specials
    (example,) = mtf_examples(
        mixture[:1],
        tokenizer,
        specials,
        seq_len=512,
        arch="encoder_decoder",
        objective="span_corruption",
        adapted=False,
    )
    s0 = specials.sentinels[0]
    assert example.inputs[-2:].tolist() == [s0, specials.eos] and example.targets[0] == s0
    with pytest.raises(ValueError, match="architecture"):
        mtf_examples(
            mixture[:1], tokenizer, specials, seq_len=64, arch="encoder", objective="mlm", adapted=False
        )


def test_targets_are_the_correct_choice(mixture, tokenizer_and_specials):
    tokenizer, specials = tokenizer_and_specials
    examples = mtf_examples(
        mixture, tokenizer, specials, seq_len=512, arch="causal_decoder", objective="full_lm", adapted=True
    )
    answers = [item.choices[item.answer] for item in mixture]
    assert [tokenizer.decode(e.targets[:-1]) for e in examples] == answers
    assert np.mean([len(e.targets) for e in examples]) < 12  # answers are short: the case for packing
