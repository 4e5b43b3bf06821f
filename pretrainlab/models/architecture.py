"""What the pipeline needs to know about one architecture, in one object (after torchtitan's ``ModelSpec``
and seqio's feature converters): the model it builds and loads, how examples lay out on it, what it costs.

Code outside ``pretrainlab/models`` asks a spec (``spec.is_decoder``, ``spec.collate(...)``), never compares
architecture names. The base class is a *single-stack* model that reads ``inputs ⊕ targets`` as one
sequence (the causal and non-causal decoders, the BERT-style encoder);
:class:`~pretrainlab.models.encoder_decoder.EncoderDecoderSpec` puts inputs in an encoder and targets in a
decoder. Each architecture module (``causal_decoder.py``, ...) holds one ``SPEC``;
:mod:`pretrainlab.models.architectures` lists them.

Importing this module imports neither torch nor transformers: model classes, layouts and FLOPs formulas are
imported when a method that needs them runs, so ``pretrainlab validate`` can ask a spec without torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedConfig, PreTrainedModel

    from pretrainlab.config.schema import ModelSize
    from pretrainlab.models.flops import Flops
    from pretrainlab.models.layout import ModelBatch
    from pretrainlab.models.param_count import StackParams
    from pretrainlab.objectives.example import Example
    from pretrainlab.tokenization.specials import SpecialTokens

ConfigBuilder = Callable[..., "PreTrainedConfig"]  # (size, vocab_size, seq_len, specials) -> config
StackCounter = Callable[["ModelSize", int], "StackParams"]  # (size, vocab_size) -> parameters by part


@dataclass(frozen=True)
class ArchitectureSpec:
    """One architecture. The methods here lay out a single stack over ``inputs ⊕ targets``."""

    name: str  # the params value: "causal_decoder"
    short: str  # the paper's label: "CD"
    build_config: ConfigBuilder  # the transformers config of a named size (imports transformers when called)
    model_class_name: str  # the transformers class built and trained: "Gemma2ForCausalLM"
    auto_class_name: str  # the stock Auto class that loads a saved checkpoint: "AutoModelForCausalLM"
    model_type: str  # the ``model_type`` a checkpoint's config.json must hold: "gemma2"
    is_decoder: bool = False  # predicts the next token of inputs ⊕ targets
    bidirectional_prefix: bool = False  # the inputs attend to each other both ways (ND prefix, ED encoder)
    aligned_labels: bool = False  # the output at a position predicts the token there (BERT mlm)
    packable: bool = False  # several examples per row under a segment mask (finetuning)
    initialised_from: tuple[str, ...] = ()  # model types whose checkpoints an adaptation converts into this
    # Closed-form parameter counts (:mod:`pretrainlab.models.param_count`); None: counted on the meta device
    count_stacks: StackCounter | None = None
    is_encoder_decoder: ClassVar[bool] = False  # inputs in an encoder, targets in a cross-attending decoder

    # --- the model ------------------------------------------------------------------------------------

    def config(
        self, size: ModelSize, vocab_size: int, seq_len: int, specials: SpecialTokens | None = None
    ) -> PreTrainedConfig:
        """The transformers config of ``size`` (special ids default to 0/1/2 without ``specials``)."""
        return self.build_config(size, vocab_size, seq_len, specials)

    @property
    def model_class(self) -> type[PreTrainedModel]:
        return getattr(importlib.import_module("transformers"), self.model_class_name)

    @property
    def auto_class(self) -> Any:
        return getattr(importlib.import_module("transformers"), self.auto_class_name)

    @property
    def predicts_targets(self) -> bool:
        """Whether the model predicts ``targets`` from ``inputs`` (prompt → answer: MTF, rank scoring)."""
        return not self.aligned_labels

    def shares_weights_with(self, other: ArchitectureSpec) -> bool:
        """Whether a checkpoint of ``other`` is one of this architecture as it is (only masks differ)."""
        return self.model_type == other.model_type

    def initialises_from_weights_of(self, source: ArchitectureSpec) -> bool:
        """Whether an adaptation converts a ``source`` checkpoint into this architecture."""
        return not self.shares_weights_with(source) and source.model_type in self.initialised_from

    # --- how tokens split between encoder and decoder ----------------------------------------------------

    def padded_lengths(self, max_inputs: int, max_targets: int, max_total: int) -> tuple[int, int]:
        """Static (input_len, target_len) for :meth:`collate` given the longest inputs, targets and
        ``inputs ⊕ targets``: one sequence only needs their sum to bound the longest example."""
        return max_total - max_targets, max_targets

    def input_len(self, seq_len: int, target_len: int) -> int:
        """The padded input length when ``seq_len`` bounds an example (one sequence: inputs ⊕ targets)."""
        return seq_len - target_len

    def side_lengths(self, inputs: float, targets: float) -> tuple[float, float]:
        """(encoder-side, decoder-side) positions of an example: one sequence is all on the first side."""
        return inputs + targets, 0.0

    # --- batches and logits -------------------------------------------------------------------------------

    def collate(
        self, examples: Sequence[Example], specials: SpecialTokens, input_len: int, target_len: int
    ) -> ModelBatch:
        """Pad ``examples`` to static lengths (:mod:`pretrainlab.models.layout`)."""
        from pretrainlab.models.layout import collate_one_sequence

        return collate_one_sequence(self, examples, specials, input_len, target_len)

    def forward_logits(self, model: PreTrainedModel, batch: ModelBatch) -> torch.Tensor:
        """Logits aligned with ``batch.labels`` under this architecture's exact mask."""
        from pretrainlab.models.layout import forward_one_sequence

        return forward_one_sequence(self, model, batch)

    # --- FLOPs ---------------------------------------------------------------------------------------------

    def step_flops(
        self, size: ModelSize, vocab_size: int, batch_size: int, input_len: float, target_len: float
    ) -> Flops:
        """Training FLOPs of one step, by term (:mod:`pretrainlab.models.flops`)."""
        from pretrainlab.models.flops import one_stack_step_flops

        return one_stack_step_flops(self, size, vocab_size, batch_size, input_len, target_len)

    def flops_per_token(self, size: ModelSize, vocab_size: int, context_len: int) -> float:
        """Training FLOPs of one position at sequence length ``context_len``."""
        from pretrainlab.models.flops import one_stack_flops_per_token

        return one_stack_flops_per_token(self, size, vocab_size, context_len)
