"""The whole of ``params.yaml`` as frozen pydantic models: unknown keys rejected, types and ranges checked.

Cross-field checks (a cell names a defined model size, an objective fits its architecture, a budget
buys at least one step) live in :mod:`pretrainlab.config.checks` so this file reads as the shape of a
study. Key names are part of the public contract (README: "What a study declares").
"""

from __future__ import annotations

import importlib.util
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

Architecture = Literal["causal_decoder", "noncausal_decoder", "encoder_decoder", "encoder"]
ObjectiveName = Literal["full_lm", "prefix_lm", "span_corruption", "mlm", "ul2"]

# Cell and model names become stage names (``pretrain@<name>``) and directory names, so they are
# restricted to characters that are safe in both: no slashes, dots, spaces or leading dashes.
Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]


def _whole_number(value: object) -> object:
    """``1.6e4`` written for a count is the integer 16000; ``1.5``, ``true`` and ``"8"`` stay errors."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def integer(**bounds: int) -> Any:
    """The type of every integer of the study, with its ``bounds`` (``ge``, ``gt``, ``le``): strict
    (``true`` is not 1, ``"8"`` not 8), but a whole float (``1.6e4``) is the integer it spells."""
    return Annotated[int, Field(**bounds), BeforeValidator(_whole_number)]


PositiveInt = integer(gt=0)
Seed = integer(ge=0, le=2**32 - 1)  # what numpy's and torch's generators take
Fraction = Annotated[float, Field(gt=0.0, lt=1.0)]

# Upper bounds on sizes: far above any study that fits a machine, low enough that ``validate`` (which
# plans every cell) stays a matter of seconds instead of hanging on a typo such as ``seq_len: 1e9``.
MAX_VOCAB = 1 << 20
MAX_SEQ_LEN = 1 << 15  # validate samples examples this long for each cell: ~10 s for the smoke grid
MAX_WIDTH = 1 << 16  # d_model
MAX_FF = 1 << 18  # d_ff
MAX_DEPTH = 1024  # layers, heads
MAX_TOKENS = 1 << 34  # batch_tokens, eval_tokens, val_tokens
MAX_COUNT = 10**9  # documents, examples, items


class Strict(BaseModel):
    """Every section: unknown keys rejected; strict types (no ``true`` for 1, no ``"8"`` for 8); no
    ``.inf``/``.nan`` in any float (a budget, a learning rate or a weight of ``.inf`` breaks later)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


# ---------------------------------------------------------------------------------------- corpus
# A source's share of the training token stream, relative to the others' (``None``: no mixing, every
# source counts as-is). See :mod:`pretrainlab.tokenization.mixing`.
Weight = Annotated[float, Field(ge=0.0)] | None


class SynthworldSource(Strict):
    kind: Literal["synthworld"]
    documents: integer(gt=0, le=MAX_COUNT) = 20000
    entities: integer(ge=20, le=MAX_COUNT) = 2000
    seed: Seed = 0
    weight: Weight = None


class FilesSource(Strict):
    kind: Literal["files"]
    glob: Annotated[str, Field(min_length=1)]
    text_field: str = "text"
    weight: Weight = None


class HFSource(Strict):
    kind: Literal["hf"]
    path: Annotated[str, Field(min_length=1)]
    name: str | None = None
    split: str = "train"
    data_files: str | list[str] | None = None
    text_field: str = "text"
    max_documents: integer(gt=0, le=MAX_COUNT) | None = None
    streaming: bool = False
    weight: Weight = None


Source = Annotated[SynthworldSource | FilesSource | HFSource, Field(discriminator="kind")]


class MinHashFilter(Strict):
    threshold: Annotated[float, Field(gt=0.0, le=1.0)] = 0.8
    num_perm: integer(ge=16, le=1024) = 128
    shingle_words: integer(ge=1, le=32) = 5


class CorpusFilters(Strict):
    min_chars: integer(ge=0) = 32
    max_chars: PositiveInt = 20000
    exact_dedup: bool = True
    minhash: MinHashFilter | None = MinHashFilter()

    @model_validator(mode="after")
    def _range(self) -> CorpusFilters:
        if self.max_chars <= self.min_chars:
            raise ValueError(f"max_chars ({self.max_chars}) must exceed min_chars ({self.min_chars})")
        return self


class CorpusConfig(Strict):
    sources: Annotated[list[Source], Field(min_length=1)]
    filters: CorpusFilters = CorpusFilters()
    val_fraction: Annotated[float, Field(gt=0.0, lt=0.5)] = 0.02

    @model_validator(mode="after")
    def _weights(self) -> CorpusConfig:
        weights = [source.weight for source in self.sources]
        if all(weight is None for weight in weights):
            return self
        missing = [i for i, weight in enumerate(weights) if weight is None]
        if missing:
            raise ValueError(
                f"corpus.sources[{missing[0]}].weight: missing; give a weight to every source or to none"
            )
        if sum(weights) <= 0:  # type: ignore[arg-type]
            raise ValueError(
                f"corpus.sources[0].weight to corpus.sources[{len(weights) - 1}].weight: all 0; give at "
                "least one source a positive weight"
            )
        return self


# ------------------------------------------------------------------------------------- tokenizer
class TokenizerConfig(Strict):
    """Either train a byte-level BPE (``vocab_size``) or reuse a directory (``pretrained``)."""

    vocab_size: integer(ge=300, le=MAX_VOCAB) | None = None
    sentinels: integer(ge=0, le=1000) = 100
    min_frequency: integer(ge=1) = 2
    pretrained: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> TokenizerConfig:
        if (self.vocab_size is None) == (self.pretrained is None):
            raise ValueError("give exactly one of vocab_size (train a BPE) or pretrained (a tokenizer dir)")
        return self


# ---------------------------------------------------------------------------------------- models
class ModelSize(Strict):
    d_model: integer(gt=0, le=MAX_WIDTH)
    n_layers: integer(gt=0, le=MAX_DEPTH)
    n_heads: integer(gt=0, le=MAX_DEPTH)
    d_ff: integer(gt=0, le=MAX_FF)
    n_kv_heads: integer(gt=0, le=MAX_DEPTH) | None = None
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0

    @model_validator(mode="after")
    def _heads_divide(self) -> ModelSize:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        if self.n_kv_heads is not None and self.n_heads % self.n_kv_heads:
            raise ValueError(f"n_heads ({self.n_heads}) must be divisible by n_kv_heads ({self.n_kv_heads})")
        return self

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads


# ------------------------------------------------------------------------------------ objectives
class SpanCorruptionOptions(Strict):
    """T5 defaults: 15% of tokens corrupted in spans of mean length 3."""

    noise_density: Fraction = 0.15
    mean_noise_span_length: Annotated[float, Field(ge=1.0)] = 3.0


class PrefixLMOptions(Strict):
    """Split point uniform on [1, L) unless ``fixed_prefix_fraction`` pins it."""

    fixed_prefix_fraction: Fraction | None = None


class MLMOptions(Strict):
    """BERT defaults: 15% of positions selected; of those 80% [MASK], 10% random, 10% kept."""

    mask_rate: Fraction = 0.15
    mask_token_fraction: Annotated[float, Field(ge=0.0, le=1.0)] = 0.8
    random_token_fraction: Annotated[float, Field(ge=0.0, le=1.0)] = 0.1

    @model_validator(mode="after")
    def _sum(self) -> MLMOptions:
        if self.mask_token_fraction + self.random_token_fraction > 1.0:
            raise ValueError("mask_token_fraction + random_token_fraction must not exceed 1")
        return self


class Denoiser(Strict):
    """One UL2 denoiser: span corruption (mean span ``mu``, rate ``r``) or prefix LM (``prefix_lm``)."""

    mode: Literal["NLU", "NLG", "S2S"]
    mu: Annotated[float, Field(ge=1.0)] | None = None
    r: Fraction
    prefix_lm: bool = False
    weight: Annotated[float, Field(gt=0.0)] = 1.0

    @model_validator(mode="after")
    def _kind(self) -> Denoiser:
        if self.prefix_lm == (self.mu is not None):
            raise ValueError("a denoiser is either prefix_lm: true or has a mean span length mu")
        return self


def _ul2_default_denoisers() -> list[Denoiser]:
    # UL2 paper §3.1.2 denoisers; S drawn 20% (§4.5), R and X 40% each (pretrainlab.objectives.ul2).
    r = [Denoiser(mode="NLU", mu=3, r=0.15, weight=0.2), Denoiser(mode="NLU", mu=8, r=0.15, weight=0.2)]
    s = [Denoiser(mode="S2S", r=0.25, prefix_lm=True, weight=0.2)]
    x = [
        Denoiser(mode="NLG", mu=3, r=0.5, weight=0.1),
        Denoiser(mode="NLG", mu=8, r=0.5, weight=0.1),
        Denoiser(mode="NLG", mu=64, r=0.15, weight=0.1),
        Denoiser(mode="NLG", mu=64, r=0.5, weight=0.1),
    ]
    return r + s + x


class UL2Options(Strict):
    """UL2's mixture of denoisers (R, S, X), sampled per example by ``weight`` (S 20% by default)."""

    denoisers: Annotated[list[Denoiser], Field(min_length=1)] = Field(default_factory=_ul2_default_denoisers)


OPTIONS_BY_OBJECTIVE: dict[str, type[Strict]] = {
    "full_lm": Strict,
    "prefix_lm": PrefixLMOptions,
    "span_corruption": SpanCorruptionOptions,
    "mlm": MLMOptions,
    "ul2": UL2Options,
}


# --------------------------------------------------------------------------------------- training
class Budget(Strict):
    """How long a cell trains: ``tokens`` seen by the model, or training ``flops``; exactly one."""

    tokens: Annotated[float, Field(gt=0)] | None = None
    flops: Annotated[float, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Budget:
        if (self.tokens is None) == (self.flops is None):
            raise ValueError("give exactly one of tokens or flops")
        return self


class OptimizerConfig(Strict):
    lr: Annotated[float, Field(gt=0.0, le=1.0)] = 3.0e-3
    weight_decay: Annotated[float, Field(ge=0.0)] = 0.1
    warmup_steps: integer(ge=0) = 50
    # inverse_sqrt (T5X rsqrt_decay: constant for warmup_steps, then 1/sqrt(step)) and constant keep a
    # curve's intermediate points comparable with shorter runs; cosine/linear anneal only at the end.
    schedule: Literal["inverse_sqrt", "constant", "cosine", "linear"] = "cosine"
    min_lr_ratio: Annotated[float, Field(ge=0.0, le=1.0)] = 0.1
    beta1: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.9
    beta2: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.95
    grad_clip: Annotated[float, Field(ge=0.0)] = 1.0


class EvalAt(Strict):
    """Declared evaluation points of a training stage: at each of ``tokens`` — after the whole steps
    that many tokens pay for, the budget's rule (:func:`pretrainlab.training.plan.steps_for`), counted
    from the stage's first step — a snapshot of the model is kept beside the final one and evaluated."""

    tokens: list[integer(gt=0)] = Field(default_factory=list)

    @field_validator("tokens")
    @classmethod
    def _increasing(cls, tokens: list[int]) -> list[int]:
        for before, after in zip(tokens, tokens[1:], strict=False):
            if after <= before:
                what = "repeated" if after == before else f"out of order (after {before})"
                raise ValueError(f"{after} is {what}; list the points in increasing order, once each")
        return tokens


class PretrainCell(Strict):
    arch: Architecture
    objective: ObjectiveName
    model: Name
    budget: Budget
    options: dict[str, object] = Field(default_factory=dict)  # checked against the objective in checks.py

    def objective_options(self) -> Strict:
        """The typed options of this cell's objective (defaults filled in)."""
        return OPTIONS_BY_OBJECTIVE[self.objective].model_validate(self.options)


class PretrainConfig(Strict):
    seq_len: integer(ge=8, le=MAX_SEQ_LEN)
    batch_tokens: integer(gt=0, le=MAX_TOKENS)
    eval_tokens: integer(gt=0, le=MAX_TOKENS)
    optimizer: OptimizerConfig
    cells: Annotated[dict[Name, PretrainCell], Field(min_length=1)]
    eval_at: EvalAt  # every cell's (and replicate's) snapshots; dvc.yaml names the key

    @model_validator(mode="after")
    def _batch(self) -> PretrainConfig:
        if self.batch_tokens < self.seq_len:
            raise ValueError(f"batch_tokens ({self.batch_tokens}) must be at least seq_len ({self.seq_len})")
        return self

    @property
    def batch_size(self) -> int:
        """Sequences per optimizer step."""
        return self.batch_tokens // self.seq_len


# ------------------------------------------------------------------------------ adapt and finetune
# A model reference names the stage that made it and its name, like its artifact path under
# data/models/: ``pretrain/nd-mlm`` or ``adapt/nd-mlm-to-cd-flm``.
ModelRef = Annotated[str, StringConstraints(pattern=r"^(pretrain|adapt)/[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]


class AdaptCell(Strict):
    """Continue training a model under another architecture, objective or corpus (one cell each).

    LM-A: ``{from: pretrain/nd-mlm, arch: causal_decoder, objective: full_lm}``; NC-A: the reverse;
    decoder -> encoder-decoder (T5Gemma): ``arch: encoder_decoder`` from a decoder, cross-attention
    copied from self-attention or random with ``warmup_steps`` that train only cross-attention;
    continued pretraining: the same arch/objective with ``sources`` (another corpus).

    ``budget`` covers every step the adaptation takes, the cross-attention ``warmup_steps`` included;
    ``optimizer`` is the adaptation's own (default: constant lr 1e-3 after 10 warm-up steps).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: ModelRef = Field(alias="from")
    arch: Architecture
    objective: ObjectiveName
    budget: Budget
    options: dict[str, object] = Field(default_factory=dict)
    # its own, never pretrain.optimizer: every step (lr warm-up included) is adaptation compute
    optimizer: OptimizerConfig = OptimizerConfig(lr=1.0e-3, warmup_steps=10, schedule="constant")
    cross_attention: Literal["copy", "random"] = "copy"
    warmup_steps: integer(ge=0) = 0
    sources: Annotated[list[Source], Field(min_length=1)] | None = None
    eval_at: EvalAt = EvalAt()  # snapshots, by tokens spent adapting (warm-up included)

    def objective_options(self) -> Strict:
        return OPTIONS_BY_OBJECTIVE[self.objective].model_validate(self.options)


class PromptColumns(Strict):
    """The columns of a prompted dataset (P3's names by default): the rendered prompt, the target and,
    for a rank-classification task, the answer choices."""

    inputs: Annotated[str, Field(min_length=1)] = "inputs_pretokenized"
    targets: Annotated[str, Field(min_length=1)] = "targets_pretokenized"
    choices: Annotated[str, Field(min_length=1)] = "answer_choices"


class PromptedTask(Strict):
    """What every prompted source declares: its task (one task of the mixture: dataset x template), the
    task's cluster (checked against the evaluation's held-out clusters) and its columns;
    ``rank_classification``: every row must carry answer choices, the target among them."""

    cluster: Annotated[str, Field(min_length=1)]
    task: Annotated[str, Field(min_length=1)]
    columns: PromptColumns = PromptColumns()
    rank_classification: bool = False


class PromptedHFSource(PromptedTask):
    """A dataset ``datasets.load_dataset`` opens: a hub id (``bigscience/P3`` + ``name``) or a folder."""

    kind: Literal["hf"]
    path: Annotated[str, Field(min_length=1)]
    name: str | None = None
    split: str = "train"
    data_files: str | list[str] | None = None
    streaming: bool = False


class PromptedFilesSource(PromptedTask):
    """Parquet or JSON-lines files matched by ``glob`` (relative to the repo root)."""

    kind: Literal["files"]
    glob: Annotated[str, Field(min_length=1)]


class PromptedDiskSource(PromptedTask):
    """A ``Dataset.save_to_disk`` (or ``DatasetDict``) directory; ``split`` picks from a DatasetDict."""

    kind: Literal["disk"]
    path: Annotated[str, Field(min_length=1)]
    split: str = "train"


class SynthworldTasks(Strict):
    """synthworld's training-cluster tasks (the corpus's world), next to real prompted sources."""

    kind: Literal["synthworld"]


PromptedSource = Annotated[
    PromptedHFSource | PromptedFilesSource | PromptedDiskSource | SynthworldTasks,
    Field(discriminator="kind"),
]


class FinetuneCell(Strict):
    """Multitask prompted finetuning (T0-style): by default on the synthworld training clusters; with
    ``sources``, on those prompted datasets (``{kind: synthworld}`` among them adds synthworld's tasks).
    Each task gets ``min(n_i, cap)`` examples (T0's cap is 500,000); ``examples_per_task`` is synthworld's."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: ModelRef = Field(alias="from")
    budget: Budget
    examples_per_task: integer(ge=1, le=MAX_COUNT) = 500
    cap: integer(ge=1, le=MAX_COUNT) = 300
    packing: bool = True
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.1
    optimizer: OptimizerConfig = OptimizerConfig(lr=1.0e-3, warmup_steps=10, schedule="constant")
    eval_at: EvalAt = EvalAt()  # snapshots, by tokens spent finetuning
    sources: Annotated[list[PromptedSource], Field(min_length=1)] | None = None

    @property
    def uses_synthworld(self) -> bool:
        return self.sources is None or any(s.kind == "synthworld" for s in self.sources)


# ------------------------------------------------------------------------------------- evaluation
class LmEvalConfig(Strict):
    """lm-evaluation-harness tasks run on every evaluated model that supports them (extra ``[eval]``)."""

    tasks: Annotated[list[str], Field(min_length=1)]  # lm-eval task/group/tag names
    include_path: str | None = None  # folder of local task YAMLs (relative to the repo root)
    limit: PositiveInt | None = None  # items per task; smoke/testing only
    # hub dataset as a task YAML names it, ``dataset_path`` or ``dataset_path/dataset_name`` (e.g.
    # ``aps/super_glue/cb``) -> a local folder of ``<split>.{jsonl,json,parquet,csv}`` files or one file
    # (the split the task scores), in the hub dataset's columns; read instead of the hub
    dataset_paths: dict[Annotated[str, Field(min_length=1)], Annotated[str, Field(min_length=1)]] = Field(
        default_factory=dict
    )


class EvaluateConfig(Strict):
    models: dict[Name, Literal["pretrain", "adapt", "finetune"]]
    tasks: list[str] | Literal["all"]
    items_per_task: integer(ge=10, le=100000)  # per task of the training clusters
    held_out_items_per_task: integer(
        ge=10, le=100000
    )  # per held-out task: the held-out average rests on them
    bootstrap_samples: integer(ge=100, le=100000)
    val_tokens: integer(gt=0, le=MAX_TOKENS)
    seed: Seed
    lm_eval: LmEvalConfig | None  # null: off; a required key because dvc.yaml lists it


class ReportConfig(Strict):
    title: str = "pretrainlab study"


class Replication(Strict):
    """``seeds``: replicate every pretrain cell under each of these seeds (the cell itself uses ``seed``)."""

    seeds: list[Seed] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> Replication:
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds must be unique")
        return self


# ---------------------------------------------------------------------------- operational (no cache)
def host_and_port(endpoint: str) -> tuple[str, int]:
    """``host:port`` (a host name, an IPv4 address or a bracketed IPv6 address) -> ``(host, port)``.

    >>> host_and_port("node001:29500"), host_and_port("[::1]:29500")
    (('node001', 29500), ('::1', 29500))
    """
    match = re.fullmatch(
        r"(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)):(\d{1,5})", endpoint
    )
    if match is None or not 0 < int(match[3]) < 65536:
        raise ValueError(f"{endpoint!r} is not host:port (e.g. node001:29500, 10.0.0.1:29500, [::1]:29500)")
    return match[1] or match[2], int(match[3])


class RendezvousConfig(Strict):
    """Where the nodes of one multi-node run meet (torchrun's ``--rdzv_*``): every node runs the same
    stage command, and the node ranks come from the rendezvous."""

    backend: Literal["c10d"] = "c10d"
    endpoint: str  # host:port of one of the nodes (it hosts the rendezvous store)
    id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")]  # same on every node

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, endpoint: str) -> str:
        host_and_port(endpoint)
        return endpoint


class SlurmConfig(Strict):
    """The SLURM job a training stage submits itself as (``resources.launcher: slurm``): one task on
    each of ``resources.nnodes`` nodes, each running torchrun with ``resources.nproc_per_node`` workers."""

    executor: Literal["slurm", "local"] = "slurm"  # local: submitit runs the job here (one node; tries)
    partition: str | None = None
    account: str | None = None
    gpus_per_node: integer(ge=0) | None = None  # None: nproc_per_node, or 0 with device: cpu
    cpus_per_task: PositiveInt | None = None
    mem_gb: PositiveInt | None = None
    time_min: PositiveInt = 60  # then SLURM stops the job; it is requeued and resumes
    constraint: str | None = None
    sbatch: dict[str, str | int | bool] = {}  # more #SBATCH options by name: {qos: high} -> --qos=high
    folder: Annotated[str, Field(min_length=1)] = ".slurm"  # the jobs' files and logs (shared filesystem)


class ResourcesConfig(Strict):
    """Where and how fast to run; never part of a stage's cache key."""

    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    nproc_per_node: PositiveInt = 1
    nnodes: PositiveInt = 1  # > 1: the stage runs on every node, which meet at rdzv
    rdzv: RendezvousConfig | None = None
    launcher: Literal["local", "slurm"] = "local"  # slurm: training and evaluate stages run as SLURM jobs
    slurm: SlurmConfig = SlurmConfig()
    parallelism: Literal["ddp", "fsdp"] = "ddp"  # with nproc_per_node > 1: DDP, or FSDP2 for large models
    compile: bool = False
    log_interval: PositiveInt = 10
    checkpoint_interval: PositiveInt = 100
    num_threads: integer(ge=0) = 0

    @model_validator(mode="after")
    def _nodes(self) -> ResourcesConfig:
        if self.launcher == "slurm":
            if self.rdzv is not None:
                raise ValueError(
                    "rdzv: leave it out with launcher: slurm (the job's nodes meet on its first node)"
                )
            if self.slurm.executor == "local" and self.nnodes > 1:
                raise ValueError(f"slurm.executor: local runs one node, but nnodes is {self.nnodes}")
        elif self.nnodes > 1 and self.rdzv is None:
            raise ValueError(
                f"rdzv: required with nnodes {self.nnodes} (where the nodes meet: "
                "{backend: c10d, endpoint: host:port, id: a name})"
            )
        return self


class OrchestrationConfig(Strict):
    max_parallel: PositiveInt = 2


# The experiment trackers (pretrainlab.tracking), each with the module it needs and the extra that
# installs it; the dvclive sink writes DVCLive's files itself and needs nothing.
SINK_MODULES = {"dvclive": None, "tensorboard": "tensorboard", "mlflow": "mlflow", "wandb": "wandb"}
SinkName = Literal["dvclive", "tensorboard", "mlflow", "wandb"]


def _installed(sink: str) -> str:
    """A sink whose package is missing is refused with the study (``validate`` too), before any work."""
    module = SINK_MODULES[sink]
    if module is not None and importlib.util.find_spec(module) is None:
        raise ValueError(
            f"{sink} needs the {module} package, not installed: pip install 'pretrainlab[{sink}]'"
        )
    return sink


class DvcLiveOptions(Strict):
    # one folder per run, <dir>/<stage>@<name>; DVC reads a dvc.yaml only outside git-ignored folders
    dir: Annotated[str, Field(min_length=1)] = "dvclive"


class TensorBoardOptions(Strict):
    dir: Annotated[str, Field(min_length=1)] = "runs/tensorboard"  # `tensorboard --logdir runs/tensorboard`


class MlflowOptions(Strict):
    tracking_uri: Annotated[str, Field(min_length=1)] = "sqlite:///runs/mlflow.db"  # or http(s)://server
    experiment: str | None = None  # default: the group


class WandbOptions(Strict):
    project: Annotated[str, Field(min_length=1)] = "pretrainlab"
    entity: str | None = None
    mode: Literal["offline", "online"] = "offline"  # offline: `wandb sync runs/wandb/offline-run-*` later
    dir: Annotated[str, Field(min_length=1)] = "runs"  # wandb writes <dir>/wandb/


class TrackingConfig(Strict):
    """Experiment trackers the training and evaluate stages also log to (rank 0 only); never part of a
    stage's cache key. A tracker that fails warns once and is dropped: the stage never fails for it."""

    sinks: list[Annotated[SinkName, AfterValidator(_installed)]] = Field(default_factory=list)
    group: Annotated[str, Field(min_length=1)] | None = None  # a study's runs together; default: report.title
    dvclive: DvcLiveOptions = DvcLiveOptions()
    tensorboard: TensorBoardOptions = TensorBoardOptions()
    mlflow: MlflowOptions = MlflowOptions()
    wandb: WandbOptions = WandbOptions()

    @field_validator("sinks")
    @classmethod
    def _once(cls, sinks: list[str]) -> list[str]:
        if repeated := sorted({sink for sink in sinks if sinks.count(sink) > 1}):
            raise ValueError(f"{repeated[0]} is listed twice; list each tracker once")
        return sinks


# -------------------------------------------------------------------------------------------- study
class Study(Strict):
    """The study. Keys that dvc.yaml names one by one are required (DVC needs them in the file);
    operational sections may be left out."""

    seed: Seed
    study: Replication
    corpus: CorpusConfig
    tokenizer: TokenizerConfig
    models: Annotated[dict[Name, ModelSize], Field(min_length=1)]
    pretrain: PretrainConfig
    adapt: dict[Name, AdaptCell]  # may be {}: DVC reads the section
    finetune: dict[Name, FinetuneCell]
    evaluate: EvaluateConfig
    report: ReportConfig
    resources: ResourcesConfig = ResourcesConfig()
    orchestration: OrchestrationConfig = OrchestrationConfig()
    tracking: TrackingConfig = TrackingConfig()

    @property
    def replicate_seeds(self) -> list[int]:
        """``study.seeds``: every pretrain cell is trained again under each (``<cell>-seed<N>``)."""
        return list(self.study.seeds)
