"""Plain-language readings of the evaluations beyond the paper's orderings: who beats random on the
held-out clusters, whether the best held-out model's lead is outside the CIs, the lowest validation
loss. No sentence claims more than the 95% CIs support.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from pretrainlab.report.markdown import above_random


def _names(names: list[str]) -> str:
    quoted = [f"`{n}`" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def findings(evaluated: Mapping[str, dict], held_out: list[str]) -> list[str]:
    """Plain-language sentences read off the numbers (no claim the CIs do not support)."""
    out: list[str] = []
    scored = {n: m["held_out"] for n, m in evaluated.items() if m.get("held_out")}
    if not scored:
        out.append("No held-out tasks were evaluated, so nothing here speaks to zero-shot generalisation.")
    else:
        baseline = next(iter(scored.values()))["random_baseline"]
        winners = [n for n, e in scored.items() if above_random(e)]
        if winners:
            out.append(
                f"On the held-out clusters (average), {_names(winners)} beat{'s' if len(winners) == 1 else ''} "
                f"random ({100 * baseline:.1f}%) with the whole 95% CI above it."
            )
        else:
            out.append(
                f"No model beats random on the held-out clusters: every held-out average has a 95% CI that "
                f"reaches the random baseline ({100 * baseline:.1f}%) or falls below it."
            )
        ranked = sorted(scored, key=lambda n: scored[n]["accuracy"], reverse=True)
        if len(ranked) > 1:
            best, second = scored[ranked[0]], scored[ranked[1]]
            separated = best["ci95"][0] > second["ci95"][1]
            out.append(
                f"The best held-out average is `{ranked[0]}` ({100 * best['accuracy']:.1f}%); its lead over "
                f"`{ranked[1]}` ({100 * second['accuracy']:.1f}%) "
                + (
                    "is outside both CIs."
                    if separated
                    else "is within overlapping CIs, so it is not established."
                )
            )
    for cluster in held_out:
        entries = {
            n: m["clusters"][cluster] for n, m in evaluated.items() if cluster in m.get("clusters", {})
        }
        winners = [n for n, e in entries.items() if above_random(e)]
        out.append(
            f"Held-out cluster `{cluster}`: "
            + (f"{_names(winners)} above random." if winners else "no model is above random.")
        )
    held_in = {n: m["held_in"] for n, m in evaluated.items() if m.get("held_in")}
    if held_in:
        winners = [n for n, e in held_in.items() if above_random(e)]
        out.append(
            "On the held-in (training-cluster) tasks, "
            + (
                f"{_names(winners)} {'is' if len(winners) == 1 else 'are'} above random."
                if winners
                else "no model is above random."
            )
        )
    losses = {n: m["val_loss"] for n, m in evaluated.items() if isinstance(m.get("val_loss"), (int, float))}
    decoders = {
        n: v for n, v in losses.items() if evaluated[n].get("arch") != "encoder_decoder" and math.isfinite(v)
    }
    if decoders:
        best = min(decoders, key=decoders.get)
        out.append(
            f"Lowest next-token validation loss among decoders: `{best}` ({decoders[best]:.3f} nats/token, "
            f"{evaluated[best].get('bits_per_byte', float('nan')):.3f} bits/byte). Validation loss measures "
            "next-token prediction, which span-corruption models were not trained for; encoder-decoders are "
            "scored on the second half of each window only, so compare them among themselves."
        )
    return out
