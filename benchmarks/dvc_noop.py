"""What a no-op `dvc repro` and `dvc status` of the default study cost, against an empty DVC project
with the same number of stages measured in the same run (so our share of the cost is visible).

The study project is the checkout's tracked files with the shipped params.yaml (git HEAD's, the default
study), its always-changed stages run for real (a no-op `dvc repro` runs them too) and every other
stage's outputs stood in for by small placeholder files and recorded with `dvc commit` (no stage runs): a no-op then hashes the same code deps and reads the same params as after a real run,
and only the outputs are smaller. The reference project has as many stages, each `cmd: true` with one
dep and one output. The two are timed alternately, ``--repeats`` times each, in new processes.

    python benchmarks/dvc_noop.py                      # the default study
    python benchmarks/dvc_noop.py --params presets/smoke.yaml

Writes benchmarks/results/dvc_noop.json; the last line printed is
``dvc_noop: repro <median> s, status <median> s (reference <median> s, <median> s) over <n> stages``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "dvc_noop.json"
GIT = ["git", "-c", "user.name=b", "-c", "user.email=b@b"]


def sh(cmd: list[str], cwd: Path) -> str:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed in {cwd}:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def dvc(*args: str) -> list[str]:
    return [sys.executable, "-m", "dvc", *args]


def stage_outputs(project: Path) -> tuple[int, list[str], list[str]]:
    """The number of stages, the always-changed stages and the other stages' outputs (outs, metrics,
    plots) of the project's dvc.yaml."""
    code = (
        "import json, sys; from dvc.repo import Repo; stages = Repo(sys.argv[1]).index.stages; "
        "always = [s.addressing for s in stages if s.always_changed]; "
        "print(json.dumps([len(stages), always, "
        "[o.def_path for s in stages if not s.always_changed for o in s.outs]]))"
    )
    count, always, outs = json.loads(sh([sys.executable, "-c", code, str(project)], project))
    return count, always, outs


def placeholders(project: Path, outs: list[str]) -> None:
    """A small file for each output (a folder with one file where the path has no suffix)."""
    for out in outs:
        path = project / out
        if path.suffix:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("step,tokens,train_loss,val_loss,lr\n" if path.suffix == ".csv" else "{}\n")
        else:
            path.mkdir(parents=True, exist_ok=True)
            (path / "placeholder.txt").write_text(out)


def commit(project: Path) -> None:
    sh(["git", "init", "-q"], project)
    if not (project / ".dvc").exists():
        sh(dvc("init", "-q"), project)
    sh(dvc("config", "core.analytics", "false"), project)
    sh(GIT + ["add", "-A"], project)
    sh(GIT + ["commit", "-qm", "init"], project)
    sh(dvc("commit", "-f", "-q"), project)  # dvc.lock as if every stage had run; nothing runs
    changed = json.loads(sh(dvc("status", "--json"), project) or "{}")
    if any(change != ["always changed"] for change in changed.values()):
        raise SystemExit(f"{project}: not up to date after dvc commit: {changed}")


def study_project(dest: Path, params: Path) -> int:
    """The checkout's tracked files with ``params`` as params.yaml, outputs as placeholders."""
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    shutil.copy2(params, dest / "params.yaml")
    sh(["git", "init", "-q"], dest)
    count, always, outs = stage_outputs(dest)
    for stage in always:  # they run in every no-op `dvc repro`: their real outputs, so nothing follows
        sh(dvc("repro", "-s", stage), dest)
    placeholders(dest, outs)
    commit(dest)
    return count


def reference_project(dest: Path, stages: int) -> None:
    """``stages`` stages, each ``cmd: true`` with one dep and one output."""
    dest.mkdir(parents=True)
    (dest / "in.txt").write_text("in\n")
    (dest / ".gitignore").write_text("/out/\n")
    lines = ["stages:"]
    for index in range(stages):
        lines += [f"  s{index}:", "    cmd: 'true'", "    deps: [in.txt]", f"    outs: [out/{index}.txt]"]
    (dest / "dvc.yaml").write_text("\n".join(lines) + "\n")
    placeholders(dest, [f"out/{index}.txt" for index in range(stages)])
    commit(dest)


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    sh(cmd, cwd)
    return time.perf_counter() - start


def spread(samples: list[float]) -> dict[str, float]:
    return {
        "median_s": round(statistics.median(samples), 2),
        "min_s": round(min(samples), 2),
        "max_s": round(max(samples), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=None, help="default: git HEAD's params.yaml")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="dvc-noop-"))
    params = args.params
    if params is None:
        params = work / "params.yaml"
        params.write_bytes(
            subprocess.run(["git", "show", "HEAD:params.yaml"], cwd=ROOT, capture_output=True).stdout
        )
    stages = study_project(work / "study", params)
    reference_project(work / "reference", stages)
    load_before = os.getloadavg()
    samples: dict[str, list[float]] = {}
    for _ in range(args.repeats):
        for project in ("study", "reference"):
            for command in ("repro", "status"):
                took = timed(dvc(command), work / project)  # `status -q` exits 1 on a change
                samples.setdefault(f"{project}_{command}", []).append(took)
    load_after = os.getloadavg()
    shutil.rmtree(work, ignore_errors=True)

    record = {
        "params": str(args.params) if args.params else "params.yaml (git HEAD: the default study)",
        "stages": stages,
        "repeats": args.repeats,
        **{name: spread(got) for name, got in samples.items()},
        "machine": {
            "cpus": os.cpu_count(),
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in load_after],
            "python": platform.python_version(),
            "dvc": sh(dvc("--version"), ROOT).strip(),
        },
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(record, indent=2) + "\n")
    for name, got in samples.items():
        s = spread(got)
        print(f"{name:>18}: {s['median_s']:6.2f} s median ({s['min_s']:.2f}-{s['max_s']:.2f})")
    print(f"load average {load_before[0]:.2f} -> {load_after[0]:.2f}")
    med = {name: statistics.median(got) for name, got in samples.items()}
    print(
        f"dvc_noop: repro {med['study_repro']:.2f} s, status {med['study_status']:.2f} s "
        f"(reference {med['reference_repro']:.2f} s, {med['reference_status']:.2f} s) over {stages} stages"
    )


if __name__ == "__main__":
    main()
