"""Corpus stage throughput (MB of raw text per second) with MinHash near-dedup on.

Builds a ``files`` corpus from ~``--mb`` MB of synthworld documents written to JSON lines (so the
figure is the stage's own work, not the generator's), with the default filters (NFC, whitespace,
length, exact dedup, MinHash threshold 0.8, 128 permutations, 5-word shingles). It also checks, on
the first ``--check-docs`` documents, that the signatures and keep decisions equal datasketch's
``MinHash.bulk`` + ``MinHashLSH`` (the reference the stage reproduces), timing both side by side.

    python benchmarks/corpus_throughput.py [--mb 80] [--repeats 3] [--workers N]

Last line: ``corpus_throughput: mb_per_s=<median>``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from machine import spread, timed, write_result

from pretrainlab.config.schema import CorpusConfig, FilesSource, SynthworldSource
from pretrainlab.corpus import cleaning
from pretrainlab.corpus.build import build_corpus
from pretrainlab.corpus.dedup import NearDedup, word_shingles
from pretrainlab.corpus.prepare import available_cores
from pretrainlab.corpus.synthworld import generate_documents

DOC_BYTES = 400  # about the mean synthworld document


def write_corpus(folder: Path, megabytes: float) -> tuple[Path, int]:
    path = folder / "docs.jsonl"
    documents = int(megabytes * 1e6 / DOC_BYTES)
    with path.open("w") as out:
        for text in generate_documents(documents=documents, entities=max(500, documents // 40), seed=1):
            out.write(json.dumps({"text": text}) + "\n")
    return path, documents


def check_against_datasketch(path: Path, documents: int) -> dict[str, object]:
    """Signatures and keep decisions of NearDedup vs datasketch on the first ``documents`` texts."""
    import pyarrow as pa
    from datasketch import MinHash, MinHashLSH

    with path.open() as lines:
        raw = [json.loads(next(lines))["text"] for _ in range(documents)]
    texts = cleaning.clean(pa.table({"text": raw}), 0, 10**9).column("text").to_pylist()

    started = time.perf_counter()
    reference = MinHash.bulk([word_shingles(t, 5) for t in texts], num_perm=128, seed=0, scheme="affine32")
    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    keep_reference = []
    for i, minhash in enumerate(reference):
        duplicate = bool(lsh.query(minhash))
        if not duplicate:
            lsh.insert(i, minhash, check_duplication=False)
        keep_reference.append(not duplicate)
    seconds_reference = time.perf_counter() - started

    started = time.perf_counter()
    near = NearDedup(0.8, 128, 5, seed=0)
    signatures = near.signatures(texts)
    keep = np.concatenate([near.keep(signatures[i : i + 2048]) for i in range(0, len(texts), 2048)])
    seconds = time.perf_counter() - started

    identical = bool(
        all((m.hashvalues == signatures[i]).all() for i, m in enumerate(reference))
        and (keep == np.array(keep_reference)).all()
    )
    assert identical, "NearDedup differs from datasketch"
    return {
        "documents": len(texts),
        "near_duplicates": int((~keep).sum()),
        "identical_to_datasketch": identical,
        "seconds_datasketch": seconds_reference,
        "seconds_pretrainlab_one_process": seconds,
        "speedup_one_process": seconds_reference / seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=80.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None, help="default: one per available core")
    parser.add_argument("--check-docs", type=int, default=20000)
    args = parser.parse_args()
    workers = available_cores() if args.workers is None else args.workers

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path, documents = write_corpus(folder, args.mb)
        megabytes = path.stat().st_size / 1e6  # JSON lines as read; the text itself is ~1% less
        config = CorpusConfig(sources=[FilesSource(kind="files", glob="docs.jsonl")])
        out = folder / "corpus"

        def build(n: int) -> None:
            build_corpus(config, seed=0, out_dir=out, root=folder, workers=n)

        runs = [timed(lambda: build(workers)) for _ in range(args.repeats)]
        times, main_cpu = [wall for wall, _ in runs], [cpu for _, cpu in runs]
        stats = json.loads((out / "stats.json").read_text())
        one_wall, one_cpu = timed(lambda: build(1))  # all the work in this process: its whole CPU cost

        synth = CorpusConfig(
            sources=[
                SynthworldSource(kind="synthworld", documents=documents, entities=max(500, documents // 40))
            ]
        )
        started = time.perf_counter()
        build_corpus(synth, seed=0, out_dir=folder / "synth", workers=workers)
        synth_seconds = time.perf_counter() - started
        check = check_against_datasketch(path, min(args.check_docs, documents))

    rates = [megabytes / t for t in times]
    result = {
        "input_mb": megabytes,
        "documents": documents,
        "workers": workers,
        "filters": "default: NFC, whitespace, length, exact dedup, MinHash 0.8/128 perms/5-word shingles",
        "seconds": spread(times),
        "mb_per_s": spread(rates),
        "mb_per_s_one_process": megabytes / one_wall,
        # Load-independent cost: CPU seconds per MB of everything (one process), and of what stays in
        # the build's own process with workers (reading sources, dedup decisions, writing shards).
        "cpu_seconds_per_mb": one_cpu / megabytes,
        "main_process_cpu_seconds_per_mb": statistics.median(main_cpu) / megabytes,
        # What an otherwise idle machine would give if the workers scale: the serial part or the
        # total spread over the cores, whichever is slower.
        "projected_idle_mb_per_s": 1
        / max(statistics.median(main_cpu) / megabytes, one_cpu / megabytes / workers),
        "removed": stats["removed"],
        "documents_out": stats["splits"]["train"]["documents"] + stats["splits"]["val"]["documents"],
        "synthworld_source_mb_per_s": megabytes / synth_seconds,  # includes generating the documents
        "datasketch_check": check,
    }
    write_result("corpus_throughput", result)
    print(
        f"{megabytes:.1f} MB, {workers} workers: {', '.join(f'{r:.2f}' for r in rates)} MB/s; "
        f"1 process {result['mb_per_s_one_process']:.2f} MB/s, {result['cpu_seconds_per_mb']:.3f} CPU-s/MB; "
        f"projected idle {result['projected_idle_mb_per_s']:.1f} MB/s; synthworld source "
        f"{result['synthworld_source_mb_per_s']:.2f} MB/s; dedup vs datasketch "
        f"{check['speedup_one_process']:.1f}x (identical)"
    )
    print(f"corpus_throughput: mb_per_s={spread(rates)['median']:.2f}")


if __name__ == "__main__":
    main()
