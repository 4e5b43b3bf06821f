"""lm-evaluation-harness LM scored by our own feature converter: the non-causal (prefix-LM) decoder,
and any architecture whose prompt format is not the plain one.

HFLM's causal backend calls the model with no mask (so attention is causal everywhere) and has no
place for a per-row prefix length, and no stock backend adds a sentinel or a mode token, so
:class:`PretrainlabLM` keeps HFLM's tokenisation, request handling and config but scores
``(context, continuation)`` token pairs the way our rank classification does: the model's
:class:`~pretrainlab.evaluation.prompt_layout.PromptFormat` (from its card,
:mod:`pretrainlab.evaluation.prompt_formats`) builds ``Example(inputs=context, targets=continuation)``
→ :func:`~pretrainlab.models.layout.collate` → :func:`~pretrainlab.models.layout.forward_logits`
(for ND the prefix-LM additive mask). Only continuation tokens are scored (a leading sentinel target
is not), and too long a pair is cut as rank classification cuts it (prompt from the left, at least
one prompt token kept).

Generation (``generate_until`` tasks) is not offered: the bridge refuses generative tasks for ND.

Importing this module imports lm-eval (the optional ``[eval]`` extra); the bridge imports it lazily.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from lm_eval.api.registry import register_model
from lm_eval.models.huggingface import HFLM

from pretrainlab.evaluation.prompt_layout import PromptFormat
from pretrainlab.models.architectures import architecture
from pretrainlab.models.layout import collate, forward_logits
from pretrainlab.objectives.example import IGNORE
from pretrainlab.tokenization.specials import SpecialTokens

ARCH = "noncausal_decoder"
MODEL_NAME = "pretrainlab-noncausal"


class PretrainlabLM(HFLM):
    """HFLM over ``arch`` scored in ``prompt_format``: a loaded model, or a saved model directory (then
    the prompt format is read from its card)."""

    def __init__(
        self,
        pretrained,
        arch: str = ARCH,
        specials: SpecialTokens | None = None,
        prompt_format: PromptFormat | None = None,
        device: str | None = None,
        **kwargs,
    ) -> None:
        if isinstance(pretrained, (str, os.PathLike)):
            from pretrainlab.evaluation.lm_eval_bridge import hflm_options, load_for_lm_eval
            from pretrainlab.evaluation.prompt_formats import card_prompt_format
            from pretrainlab.evaluation.prompt_formats import prompt_format as format_named

            name = card_prompt_format(Path(pretrained))  # a card without it: UserInputError before loading
            device = device or ("cuda" if torch.cuda.is_available() else "cpu")
            pretrained, tokenizer, specials = load_for_lm_eval(Path(pretrained), arch, device=device)
            kwargs = {**hflm_options(pretrained, tokenizer), **kwargs}
            prompt_format = prompt_format or format_named(name, specials)
        backend = "seq2seq" if architecture(arch).is_encoder_decoder else "causal"
        super().__init__(pretrained=pretrained, backend=backend, **kwargs)
        self.arch = arch
        self.prompt_format = prompt_format or PromptFormat()
        self.specials = specials or SpecialTokens.from_vocab(self.tokenizer.get_vocab(), len(self.tokenizer))

    def _loglikelihood_tokens(self, requests, disable_tqdm: bool = False, override_bs=None):
        """(sum log p(continuation | context), whether every continuation token is the argmax), per request."""
        fmt, skip = self.prompt_format, self.prompt_format.skipped_targets
        examples = [
            fmt.example(np.asarray(ctx), np.asarray(cont), arch=self.arch, seq_len=self.max_length)
            for _, ctx, cont in requests
        ]
        size = override_bs or (self.batch_size if isinstance(self.batch_size, int) else self.max_batch_size)
        order = sorted(
            range(len(examples)), key=lambda i: -(len(examples[i].inputs) + len(examples[i].targets))
        )
        out: list[tuple[float, bool]] = [(0.0, False)] * len(examples)
        with torch.inference_mode():
            for start in range(0, len(order), size):
                idx = order[start : start + size]
                chunk = [examples[i] for i in idx]
                input_len = max(len(e.inputs) for e in chunk)
                target_len = max(len(e.targets) for e in chunk)
                batch = collate(chunk, self.arch, self.specials, input_len, target_len).to(self.device)
                logits = forward_logits(self.model, self.arch, batch).float()
                log_probs = torch.log_softmax(logits, dim=-1)
                valid = batch.labels != IGNORE
                scored = valid & (torch.cumsum(valid.long(), dim=1) > skip)  # not a leading sentinel
                labels = torch.where(valid, batch.labels, 0)
                picked = log_probs.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
                sums = torch.where(scored, picked, 0.0).sum(dim=1)
                greedy = ((log_probs.argmax(dim=-1) == labels) | ~scored).all(dim=1)
                for row, i in enumerate(idx):
                    out[i] = (float(sums[row]), bool(greedy[row]))
        for (request, _, _), answer in zip(requests, out, strict=True):
            if request is not None:
                self.cache_hook.add_partial("loglikelihood", request, answer)
        return out

    def generate_until(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError(
            f"{MODEL_NAME}: generation in our prompt formats is not implemented; use log-likelihood tasks"
        )


@register_model(MODEL_NAME)
class NonCausalDecoderLM(PretrainlabLM):
    """:class:`PretrainlabLM` over a non-causal decoder, registered so that lm-eval can name it, e.g.
    ``lm_eval.simple_evaluate(model="pretrainlab-noncausal", model_args={"pretrained": DIR}, tasks=[...])``
    once this module is imported (lm-eval's own CLI imports no third-party module, so it cannot name it)."""

    def __init__(
        self, pretrained, specials: SpecialTokens | None = None, device: str | None = None, **kwargs
    ):
        super().__init__(pretrained, ARCH, specials=specials, device=device, **kwargs)
