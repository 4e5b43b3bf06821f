"""A corpus far larger than the batches it flows through keeps memory bounded: ≥200 MB of JSON lines
through the corpus stage with the peak RSS of every process under 1.5 GB (measured in a wrapper
process whose only children are the stage and its workers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.conftest import SMOKE

pytestmark = pytest.mark.slow

CORPUS_BYTES = 210 * 1024 * 1024
PEAK_RSS_LIMIT = 1.5 * 1024**3

MEASURE = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:]).returncode
print("PEAK_RSS_KB", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(code)
"""


def write_jsonl(path: Path, target_bytes: int) -> int:
    """Distinct random-word documents (~2 KB each) until ``target_bytes``; returns the count."""
    rng = np.random.default_rng(0)
    words = np.array([f"w{i}x{i * 7 % 13}" for i in range(5000)])
    written = count = 0
    with path.open("w") as handle:
        while written < target_bytes:
            block = words[rng.integers(0, len(words), size=(1000, 300))]
            lines = "".join(json.dumps({"text": " ".join(row)}) + "\n" for row in block)
            handle.write(lines)
            written += len(lines)
            count += len(block)
    return count


def test_a_200mb_corpus_streams_with_bounded_memory(tmp_path):
    (tmp_path / "raw").mkdir()
    documents = write_jsonl(tmp_path / "raw" / "big.jsonl", CORPUS_BYTES)
    params = yaml.safe_load(SMOKE.read_text())
    params["corpus"]["sources"] = [{"kind": "files", "glob": "raw/*.jsonl", "text_field": "text"}]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, "pretrainlab", "stage", "corpus"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    peak = (
        int(next(line for line in result.stdout.splitlines() if line.startswith("PEAK_RSS_KB")).split()[1])
        * 1024
    )
    print(f"corpus stage on {CORPUS_BYTES / 1024**2:.0f} MB: peak RSS {peak / 1024**2:.0f} MB")
    assert peak < PEAK_RSS_LIMIT, f"peak RSS {peak / 1024**2:.0f} MB"
    stats = json.loads((tmp_path / "data" / "corpus" / "stats.json").read_text())
    assert stats["documents_in"] == documents
    assert stats["documents_out"] > 0.99 * documents  # distinct random documents: almost none removed
