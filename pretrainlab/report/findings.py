"""Plain-language readings of the evaluations beyond the paper's orderings: who beats random on the
held-out clusters, whether the best held-out model's lead over the runner-up holds in a paired test,
the lowest validation loss. No sentence claims more than the paired tests support.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from pretrainlab.evaluation.paired import decide
from pretrainlab.metrics_contract import EvaluationMetrics
from pretrainlab.models.architectures import ARCHITECTURES
from pretrainlab.report.comparisons import StudyComparisons
from pretrainlab.report.significance import AboveRandom, describe


def _encoder_decoder(arch: str) -> bool:
    spec = ARCHITECTURES.get(arch)
    return spec is not None and spec.is_encoder_decoder


def _names(names: list[str]) -> str:
    quoted = [f"`{n}`" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def findings(
    evaluated: Mapping[str, EvaluationMetrics],
    held_out: list[str],
    marks: AboveRandom,
    comparisons: StudyComparisons,
) -> list[str]:
    """Plain-language sentences read off the numbers (no claim the paired tests do not support)."""
    out: list[str] = []
    scored = {n: m.held_out for n, m in evaluated.items() if m.held_out is not None}
    tasks = comparisons.held(True)
    if not scored or not tasks:
        out.append("No held-out tasks were evaluated, so nothing here speaks to zero-shot generalisation.")
    else:
        baseline = next(iter(scored.values())).random_baseline
        winners = [n for n in scored if marks.average(n, "held_out")]
        if winners:
            out.append(
                f"On the held-out clusters (average), {_names(winners)} beat{'s' if len(winners) == 1 else ''} "
                f"random ({100 * baseline:.1f}%) in a paired test against each item's chance rate."
            )
        else:
            out.append(
                "No model beats random on the held-out clusters: no held-out average is above the random "
                f"baseline ({100 * baseline:.1f}%) in a paired test against each item's chance rate."
            )
        ranked = sorted(scored, key=lambda n: comparisons.accuracy(n, tasks), reverse=True)
        if len(ranked) > 1:
            [lead] = decide([comparisons.difference(ranked[0], ranked[1], tasks)])
            best, second = (100 * comparisons.accuracy(n, tasks) for n in ranked[:2])
            out.append(
                f"The best held-out average is `{ranked[0]}` ({best:.1f}%); "
                f"its lead over `{ranked[1]}` ({second:.1f}%) "
                + ("holds" if lead.sign > 0 else "is not established")
                + f" ({describe(lead, compared=1)})."
            )
    for cluster in held_out:
        winners = [n for n, m in evaluated.items() if cluster in m.clusters and marks.cluster(n, cluster)]
        out.append(
            f"Held-out cluster `{cluster}`: "
            + (f"{_names(winners)} above random." if winners else "no model is above random.")
        )
    held_in = [n for n, m in evaluated.items() if m.held_in is not None]
    if held_in:
        winners = [n for n in held_in if marks.average(n, "held_in")]
        out.append(
            "On the held-in (training-cluster) tasks, "
            + (
                f"{_names(winners)} {'is' if len(winners) == 1 else 'are'} above random."
                if winners
                else "no model is above random."
            )
        )
    decoders = {
        n: m.val_loss
        for n, m in evaluated.items()
        if m.val_loss is not None and math.isfinite(m.val_loss) and not _encoder_decoder(m.arch)
    }
    if decoders:
        lowest = min(decoders, key=lambda n: decoders[n])
        bits = evaluated[lowest].bits_per_byte
        out.append(
            f"Lowest next-token validation loss among decoders: `{lowest}` ({decoders[lowest]:.3f} nats/token, "
            f"{float('nan') if bits is None else bits:.3f} bits/byte). Validation loss measures "
            "next-token prediction, which span-corruption models were not trained for; encoder-decoders are "
            "scored on the second half of each window only, so compare them among themselves."
        )
    return out
