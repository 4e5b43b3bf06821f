"""One step rule for every training stage (``plan.steps_for``: whole steps, rounded down), and the
shipped studies' step counts pinned: the smoke preset's and params.yaml's cells train exactly as many
steps as before pretrain, adapt and finetune shared the rule (finetune used to floor-divide and
force at least one step)."""

from __future__ import annotations

import pytest

from pretrainlab.config.budget_checks import specials_for_validation
from pretrainlab.config.lineage import model_size
from pretrainlab.config.load import load_params
from pretrainlab.config.schema import Budget, FinetuneCell, SynthworldSource
from pretrainlab.errors import UserInputError
from pretrainlab.training.plan import plan_cell, steps_for
from tests.checkout import ROOT, shipped

# (pretrain and adapt: (frozen warm-up steps, main steps); finetune: steps, with tests/tiny_tokenizer)
PINNED = {
    "presets/smoke.yaml": {
        "pretrain/cd-flm": (0, 33),
        "pretrain/nd-plm": (0, 33),
        "pretrain/ed-mlm": (0, 43),
        "pretrain/nd-ul2": (0, 33),
        "pretrain/enc-mlm": (0, 33),
        "adapt/nd-ul2-to-cd-flm": (0, 11),
        "adapt/cd-flm-to-nd-mlm": (0, 11),
        "adapt/cd-flm-to-ed-plm": (3, 10),
        "adapt/cd-flm-continued": (0, 11),
        "finetune/cd-flm-mtf": 169,
        "finetune/cd-flm-to-nd-mlm-mtf": 169,
    },
    "params.yaml": {
        **{f"pretrain/{cell}": (0, 78) for cell in ("cd-flm", "cd-mlm", "nd-plm", "nd-mlm")},
        **{f"pretrain/{cell}": (0, 78) for cell in ("ed-plm", "ed-mlm", "nd-ul2")},
        "pretrain/nd-mlm-ref": (0, 156),
        "pretrain/cd-flm-long": (0, 390),
        "adapt/nd-mlm-to-cd-flm": (0, 23),
        "adapt/cd-flm-to-nd-mlm": (0, 23),
        "adapt/cd-flm-to-ed-plm": (0, 23),
        "finetune/cd-flm-mtf": 31,
        "finetune/nd-mlm-mtf": 31,
        "finetune/ed-mlm-mtf": 49,
        "finetune/cd-flm-to-nd-mlm-mtf": 31,
    },
}


@pytest.fixture(scope="module")
def tokenizer_and_specials():
    """A BPE trained on a small synthworld (the finetune counts above were pinned with it)."""
    from pretrainlab.synthworld import generate_documents
    from tests.tiny_tokenizer import tiny_tokenizer

    return tiny_tokenizer(generate_documents(entities=80, documents=400, seed=0))


def test_steps_are_whole_steps_rounded_down_by_tokens_or_flops():
    assert steps_for(Budget(tokens=1000.0), tokens_per_step=100.0, flops_per_step=1e9) == 10
    assert steps_for(Budget(tokens=999.0), tokens_per_step=100.0, flops_per_step=1e9) == 9
    assert steps_for(Budget(flops=2.5e9), tokens_per_step=100.0, flops_per_step=1e9) == 2
    assert (
        steps_for(Budget(tokens=99.0), tokens_per_step=100.0, flops_per_step=1e9) == 0
    )  # refused by callers


def _finetune_steps(study, name: str, cell: FinetuneCell, tokenizer, specials) -> int:
    from pretrainlab.finetuning.mixture import build_mixture, mtf_examples
    from pretrainlab.finetuning.steps import mixture_training

    world = next(s for s in study.corpus.sources if isinstance(s, SynthworldSource))
    items = build_mixture(
        world={"entities": world.entities, "documents": world.documents, "seed": world.seed},
        examples_per_task=cell.examples_per_task,
        cap=cell.cap,
        seed=study.seed,
    )
    kind, source_name = cell.from_.split("/")
    source = study.pretrain.cells[source_name] if kind == "pretrain" else study.adapt[source_name]
    seq_len = study.pretrain.seq_len
    examples = mtf_examples(
        items,
        tokenizer,
        specials,
        seq_len=seq_len,
        arch=source.arch,
        objective=source.objective,
        adapted=True,
    )
    mixture = mixture_training(
        examples,
        cell,
        source.arch,
        specials,
        model_size(study, f"finetune/{name}"),
        seq_len=seq_len,
        batch_tokens=study.pretrain.batch_tokens,
        seed=study.seed,
        key=f"finetune.{name}",
    )
    return mixture.plan.steps


@pytest.mark.parametrize("preset", list(PINNED))
def test_shipped_studies_train_the_pinned_number_of_steps(preset, tokenizer_and_specials, tmp_path):
    study = load_params(shipped(preset, tmp_path / "params.yaml"))
    specials = specials_for_validation(study, ROOT)
    got: dict[str, object] = {}
    cells = {f"pretrain/{n}": c for n, c in study.pretrain.cells.items()}
    cells |= {f"adapt/{n}": c for n, c in study.adapt.items()}
    for ref, cell in cells.items():
        plan = plan_cell(
            cell,
            model_size(study, ref),
            specials,
            seq_len=study.pretrain.seq_len,
            batch_tokens=study.pretrain.batch_tokens,
        )
        got[ref] = (plan.frozen_warmup_steps, plan.steps)
    tokenizer, tiny_specials = tokenizer_and_specials
    for name, cell in study.finetune.items():
        got[f"finetune/{name}"] = _finetune_steps(study, name, cell, tokenizer, tiny_specials)
    assert got == PINNED[preset]


def test_finetuning_budget_below_one_step_is_refused_naming_the_key(tokenizer_and_specials):
    study = load_params(ROOT / "presets" / "smoke.yaml")
    name, cell = next(iter(study.finetune.items()))
    tiny = cell.model_copy(update={"budget": Budget(tokens=10.0)})
    tokenizer, specials = tokenizer_and_specials
    with pytest.raises(UserInputError, match=rf"^finetune\.{name}\.budget\.tokens: 10 is less than one step"):
        _finetune_steps(study, name, tiny, tokenizer, specials)
