"""lm-evaluation-harness LM for the non-causal (prefix-LM) decoder: the context is the bidirectional
prefix, the continuation is causal after it — the layout ND models are pretrained and scored with here.

HFLM's causal backend calls the model with no mask (so attention is causal everywhere) and has no
place for a per-row prefix length, so :class:`NonCausalDecoderLM` keeps HFLM's tokenisation,
request handling and config but scores ``(context, continuation)`` token pairs with our own feature
converter: ``Example(inputs=context, targets=continuation)`` → :func:`~pretrainlab.models.layout.collate`
→ :func:`~pretrainlab.models.layout.forward_logits` (the prefix-LM additive mask). Too long a pair is
cut as rank classification cuts it (prompt from the left, at least one prompt token kept).

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

from pretrainlab.evaluation.rank_classification import PromptFormat
from pretrainlab.models.layout import collate, forward_logits
from pretrainlab.objectives.example import IGNORE
from pretrainlab.tokenization.specials import SpecialTokens

ARCH = "noncausal_decoder"
MODEL_NAME = "pretrainlab-noncausal"


@register_model(MODEL_NAME)
class NonCausalDecoderLM(HFLM):
    """HFLM over a non-causal decoder: a loaded model, or a saved model directory — what lm-eval passes
    when the model is named, e.g. ``lm_eval.simple_evaluate(model="pretrainlab-noncausal",
    model_args={"pretrained": DIR}, tasks=[...])`` once this module is imported (lm-eval's own CLI
    imports no third-party module, so it cannot name it)."""

    def __init__(
        self, pretrained, specials: SpecialTokens | None = None, device: str | None = None, **kwargs
    ) -> None:
        if isinstance(pretrained, (str, os.PathLike)):
            from pretrainlab.evaluation.lm_eval_bridge import hflm_options, load_for_lm_eval

            device = device or ("cuda" if torch.cuda.is_available() else "cpu")
            pretrained, tokenizer, specials = load_for_lm_eval(Path(pretrained), ARCH, device=device)
            kwargs = {**hflm_options(pretrained, tokenizer), **kwargs}
        super().__init__(pretrained=pretrained, backend="causal", **kwargs)
        self.specials = specials or SpecialTokens.from_vocab(self.tokenizer.get_vocab(), len(self.tokenizer))

    def _loglikelihood_tokens(self, requests, disable_tqdm: bool = False, override_bs=None):
        """(sum log p(continuation | context), whether every continuation token is the argmax), per request."""
        fmt = PromptFormat()
        examples = [
            fmt.example(np.asarray(ctx), np.asarray(cont), arch=ARCH, seq_len=self.max_length)
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
                batch = collate(chunk, ARCH, self.specials, input_len, target_len).to(self.device)
                logits = forward_logits(self.model, ARCH, batch).float()
                log_probs = torch.log_softmax(logits, dim=-1)
                valid = batch.labels != IGNORE
                labels = torch.where(valid, batch.labels, 0)
                picked = log_probs.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
                sums = torch.where(valid, picked, 0.0).sum(dim=1)
                greedy = ((log_probs.argmax(dim=-1) == labels) | ~valid).all(dim=1)
                for row, i in enumerate(idx):
                    out[i] = (float(sums[row]), bool(greedy[row]))
        for (request, _, _), answer in zip(requests, out, strict=True):
            if request is not None:
                self.cache_hook.add_partial("loglikelihood", request, answer)
        return out

    def generate_until(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError(
            f"{MODEL_NAME}: generation with a prefix-LM mask is not implemented; use log-likelihood tasks"
        )
