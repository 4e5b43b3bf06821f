"""How long ``pretrainlab validate`` takes, from a fresh process, on the default study and the GPU preset.

Each run is ``python -m pretrainlab.cli validate <params file>`` in a new interpreter (wall seconds from
spawn to exit, CPU seconds, peak RSS), after one untimed warm-up run that caches the bytecode; one more
run under ``-X importtime`` records whether torch or transformers were imported. ``--tree`` measures
another checkout of the code on the same params files, for a before/after pair::

    git worktree add /tmp/before <commit>
    python benchmarks/validate_time.py --tree /tmp/before --label before
    python benchmarks/validate_time.py --label after

Writes ``runs.<label>`` of benchmarks/results/validate_time.json (other labels are kept); the last line
printed is ``validate_time[<label>]: <file> <median> s (min-max) ...`` for each params file.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from process_timing import record, run, summary, warm_up

ROOT = Path(__file__).resolve().parents[1]
PARAMS_FILES = ("params.yaml", "presets/gpu-125m.yaml")


def heavy_imports(tree: Path, params: Path) -> list[str]:
    """Which of torch / transformers one validate run imports (``-X importtime`` lists every module)."""
    importtime = run(["-X", "importtime", "-c", _STDERR_TO_STDOUT, "validate", str(params)], tree).stdout
    names = set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", importtime, flags=re.M))
    return sorted({"torch", "transformers"} & names)


# -X importtime writes to stderr; this runs the CLI with stderr sent to stdout so run() returns it.
_STDERR_TO_STDOUT = (
    "import os, sys; os.dup2(1, 2); sys.argv[0] = 'pretrainlab'; "
    "from pretrainlab.cli import app; app(sys.argv[1:])"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout whose code runs")
    parser.add_argument("--label", default="after", help="where the result goes (before / after)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    tree = args.tree.resolve()
    result: dict[str, object] = {"tree": str(tree), "bytecode": "cached (one warm-up run per file)"}
    lines = []
    for name in PARAMS_FILES:
        params = ROOT / name  # the same input for every tree
        command = ["-m", "pretrainlab.cli", "validate", str(params)]
        warm_up(command, tree)
        runs = [run(command, tree) for _ in range(args.repeats)]
        stats = summary(runs)
        stats["imports"] = heavy_imports(tree, params)
        result[name] = stats
        wall = stats["wall_s"]
        lines.append(
            f"{name} {wall['median']:.2f} s ({wall['min']:.2f}-{wall['max']:.2f}), "
            f"cpu {stats['cpu_s']['median']:.2f} s, {stats['max_rss_mb']:.0f} MB, "
            f"load {min(stats['load_1m_per_run']):.1f}-{max(stats['load_1m_per_run']):.1f}, "
            f"imports {stats['imports'] or 'no torch/transformers'}"
        )
    path = record("validate_time", args.label, result)
    print(f"wrote {path}")
    print(f"validate_time[{args.label}]: " + "; ".join(lines))


if __name__ == "__main__":
    main()
