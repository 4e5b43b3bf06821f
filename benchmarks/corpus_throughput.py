"""Corpus stage throughput (MB of raw text per second) with MinHash near-dedup on.

Builds a ``files`` corpus from ~``--mb`` MB of synthworld documents written to JSON lines (so the
figure is the stage's own work, not the generator's), with the default filters (NFC, whitespace,
length, exact dedup, MinHash threshold 0.8, 128 permutations, 5-word shingles), ``--repeats`` times.
Each build alternates with one using the previous shingle hash (SHA-1 per shingle, as datasketch's
default), so the ratio between the two is measured under the same load. On the first ``--check-docs``
documents it checks that the signatures and keep decisions equal datasketch's ``MinHash.bulk`` +
``MinHashLSH`` with ``hashfunc=shingle_hash`` (and, for the SHA-1 path, with datasketch's default),
and lists the documents whose near-duplicate decision differs between the two hashes. Builds in this
process share its warm worker forkserver; ``cold_process`` times whole fresh processes (interpreter,
imports, workers' start and one build), as the corpus stage runs it, less its CLI and params.

    python benchmarks/corpus_throughput.py [--mb 40] [--repeats 5] [--workers N]

Last line: ``corpus_throughput: mb_per_s=<median>``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from machine import spread, timed, write_result

from pretrainlab.config.schema import CorpusConfig, FilesSource, SynthworldSource
from pretrainlab.corpus import build as build_module
from pretrainlab.corpus import cleaning
from pretrainlab.corpus.build import BATCH_DOCUMENTS, build_corpus
from pretrainlab.corpus.dedup import ExactDedup, MinHasher, NearDedup, _fmix32, shingle_hash, word_shingles
from pretrainlab.corpus.prepare import available_cores
from pretrainlab.synthworld import generate_documents

DOC_BYTES = 400  # about the mean synthworld document
NUM_PERM, SHINGLE_WORDS, THRESHOLD, SEED = 128, 5, 0.8, 0


class Sha1MinHasher(MinHasher):
    """The previous shingle hash: the first 4 bytes of each shingle's SHA-1 (datasketch's default)."""

    def signatures(self, texts: Sequence[str]) -> np.ndarray:
        sha1 = hashlib.sha1
        shingles = [word_shingles(text, self.shingle_words) for text in texts]
        counts = np.fromiter(map(len, shingles), dtype=np.int64, count=len(shingles))
        digests = b"".join([sha1(s).digest() for doc in shingles for s in doc])
        hashes = np.frombuffer(digests, dtype="<u4")[::5].astype(np.uint32)  # SHA-1 is 20 bytes
        return self.permute(_fmix32(hashes), counts)


class Sha1NearDedup(NearDedup):
    def __init__(self, threshold: float, num_perm: int, shingle_words: int, seed: int) -> None:
        super().__init__(threshold, num_perm, shingle_words, seed)
        self.hasher = Sha1MinHasher(shingle_words, self.hasher.permutations)


@contextlib.contextmanager
def sha1_shingles() -> Iterator[None]:
    """Builds inside use :class:`Sha1MinHasher` (it travels to the workers with the batch job)."""
    build_module.NearDedup = Sha1NearDedup  # type: ignore[misc]
    try:
        yield
    finally:
        build_module.NearDedup = NearDedup  # type: ignore[misc]


def write_corpus(folder: Path, megabytes: float) -> tuple[Path, int]:
    path = folder / "docs.jsonl"
    documents = int(megabytes * 1e6 / DOC_BYTES)
    with path.open("w") as out:
        for text in generate_documents(documents=documents, entities=max(500, documents // 40), seed=1):
            out.write(json.dumps({"text": text}) + "\n")
    return path, documents


COLD_BUILD = """
from pathlib import Path
from pretrainlab.config.schema import CorpusConfig, FilesSource
from pretrainlab.corpus.build import build_corpus
if __name__ == "__main__":
    folder = Path({folder!r})
    config = CorpusConfig(sources=[FilesSource(kind="files", glob="docs.jsonl")])
    build_corpus(config, seed={seed}, out_dir=folder / "cold", root=folder, workers={workers})
"""


def cold_process_seconds(folder: Path, workers: int) -> float:
    """Wall seconds of a fresh Python process that builds the corpus once."""
    script = folder / "cold_build.py"
    script.write_text(COLD_BUILD.format(folder=str(folder), seed=SEED, workers=workers))
    started = time.perf_counter()
    subprocess.run([sys.executable, str(script)], check=True)
    return time.perf_counter() - started


def datasketch_keep(minhashes: list, threshold: float) -> tuple[list[bool], list[list[int]]]:
    """datasketch's LSH, queried then inserted document by document: keep mask and who collided."""
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    keep, collided = [], []
    for i, minhash in enumerate(minhashes):
        found = sorted(lsh.query(minhash))
        if not found:
            lsh.insert(i, minhash, check_duplication=False)
        keep.append(not found)
        collided.append(found)
    return keep, collided


def pretrainlab_keep(near: NearDedup, texts: list[str]) -> tuple[np.ndarray, np.ndarray, float]:
    """Signatures and keep mask in batches of the build's size; CPU seconds (one process)."""
    started = time.process_time()
    batches = [texts[i : i + BATCH_DOCUMENTS] for i in range(0, len(texts), BATCH_DOCUMENTS)]
    signatures = [near.signatures(batch) for batch in batches]
    keep = np.concatenate([near.keep(batch) for batch in signatures])
    return np.concatenate(signatures), keep, time.process_time() - started


def jaccard(a: set[bytes], b: set[bytes]) -> float:
    return len(a & b) / len(a | b)


def check_against_datasketch(path: Path, documents: int) -> dict[str, object]:
    """NearDedup vs datasketch (same hash function) on the first ``documents`` texts, for both hashes."""
    import pyarrow as pa
    from datasketch import MinHash

    with path.open() as lines:
        raw = [json.loads(next(lines))["text"] for _ in range(documents)]
    table = ExactDedup()(cleaning.clean(pa.table({"text": raw}), 0, 10**9))  # as the build: exact first
    texts = table.column("text").to_pylist()
    shingles = [word_shingles(t, SHINGLE_WORDS) for t in texts]
    options = {"num_perm": NUM_PERM, "seed": SEED, "scheme": "affine32"}

    reference_new = MinHash.bulk(shingles, hashfunc=shingle_hash, **options)
    keep_reference_new, collided_new = datasketch_keep(reference_new, THRESHOLD)
    started = time.process_time()
    reference_sha1 = MinHash.bulk(shingles, **options)  # datasketch's default hash: SHA-1
    keep_reference_sha1, collided_sha1 = datasketch_keep(reference_sha1, THRESHOLD)
    seconds_datasketch = time.process_time() - started

    signatures, keep, seconds = pretrainlab_keep(NearDedup(THRESHOLD, NUM_PERM, SHINGLE_WORDS, SEED), texts)
    signatures_sha1, keep_sha1, seconds_sha1 = pretrainlab_keep(
        Sha1NearDedup(THRESHOLD, NUM_PERM, SHINGLE_WORDS, SEED), texts
    )
    identical = bool(
        all((m.hashvalues == signatures[i]).all() for i, m in enumerate(reference_new))
        and keep.tolist() == keep_reference_new
    )
    identical_sha1 = bool(
        all((m.hashvalues == signatures_sha1[i]).all() for i, m in enumerate(reference_sha1))
        and keep_sha1.tolist() == keep_reference_sha1
    )
    assert identical, "NearDedup differs from datasketch with hashfunc=shingle_hash"
    assert identical_sha1, "the SHA-1 path differs from datasketch's default"

    # How similar removed documents truly are to what they collided with, per hash: MinHash LSH
    # estimates Jaccard, so documents near the threshold go one way or the other with the hash.
    sets: dict[int, set[bytes]] = {}

    def true_jaccard(i: int, candidates: list[int]) -> float:
        for j in (i, *candidates):
            sets.setdefault(j, set(shingles[j]))
        return max((jaccard(sets[i], sets[j]) for j in candidates), default=0.0)

    def removed(keep: np.ndarray, collided: list[list[int]]) -> dict[str, object]:
        similarity = [true_jaccard(int(i), collided[i]) for i in np.flatnonzero(~keep)]
        return {
            "documents": len(similarity),
            "true_jaccard": spread(similarity) if similarity else None,
            "true_jaccard_below_threshold": sum(j < THRESHOLD for j in similarity),
        }

    distinct_shingles = {s for doc in shingles for s in doc}
    return {
        "documents": len(texts),
        "near_duplicates": int((~keep).sum()),
        "near_duplicates_sha1": int((~keep_sha1).sum()),
        "identical_to_datasketch_with_shingle_hash": identical,
        "sha1_path_identical_to_datasketch_default": identical_sha1,
        "decisions_changed_by_hash": {
            "removed_only_with_shingle_hash": int((~keep & keep_sha1).sum()),
            "removed_only_with_sha1": int((keep & ~keep_sha1).sum()),
        },
        "removed_with_shingle_hash": removed(keep, collided_new),
        "removed_with_sha1": removed(keep_sha1, collided_sha1),
        "distinct_shingles": len(distinct_shingles),
        "distinct_32bit_hashes": {
            "shingle_hash": len({shingle_hash(s) for s in distinct_shingles}),
            "sha1": len({int.from_bytes(hashlib.sha1(s).digest()[:4], "little") for s in distinct_shingles}),
            "expected_random": len(distinct_shingles)
            - len(distinct_shingles) ** 2 / 2**33,  # birthday bound, 32 bits
        },
        # CPU seconds, one process: signatures and LSH decisions (datasketch is handed the shingles).
        "cpu_seconds_datasketch_sha1": seconds_datasketch,
        "cpu_seconds_pretrainlab": seconds,
        "cpu_seconds_pretrainlab_sha1_path": seconds_sha1,
        "speedup_vs_datasketch": seconds_datasketch / seconds,
        "speedup_vs_sha1_path": seconds_sha1 / seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=40.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, default=None, help="default: one per available core")
    parser.add_argument("--check-docs", type=int, default=20000)
    args = parser.parse_args()
    workers = available_cores() if args.workers is None else args.workers

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path, documents = write_corpus(folder, args.mb)
        megabytes = path.stat().st_size / 1e6  # JSON lines as read; the text itself is ~1% less
        config = CorpusConfig(sources=[FilesSource(kind="files", glob="docs.jsonl")])

        def build(n: int, name: str = "corpus") -> dict[str, object]:
            build_corpus(config, seed=SEED, out_dir=folder / name, root=folder, workers=n)
            return json.loads((folder / name / "stats.json").read_text())

        runs, runs_sha1, load = [], [], []
        for repeat in range(args.repeats):  # alternated, so both see the same load
            load.append(os.getloadavg()[0])
            for sha1 in (False, True) if repeat % 2 == 0 else (True, False):
                if sha1:
                    with sha1_shingles():
                        runs_sha1.append(timed(lambda: build(workers, "corpus-sha1")))
                else:
                    runs.append(timed(lambda: build(workers)))
        load.append(os.getloadavg()[0])
        stats, stats_sha1 = build(1), None
        one_wall, one_cpu = timed(lambda: build(1))  # all the work in this process: its whole CPU cost
        with sha1_shingles():
            stats_sha1 = build(workers, "corpus-sha1")
            one_wall_sha1, one_cpu_sha1 = timed(lambda: build(1, "corpus-sha1"))

        synth = CorpusConfig(
            sources=[
                SynthworldSource(kind="synthworld", documents=documents, entities=max(500, documents // 40))
            ]
        )
        started = time.perf_counter()
        build_corpus(synth, seed=SEED, out_dir=folder / "synth", workers=workers)
        synth_seconds = time.perf_counter() - started
        cold = [cold_process_seconds(folder, workers) for _ in range(args.repeats)]
        check = check_against_datasketch(path, min(args.check_docs, documents))

    times, main_cpu = [wall for wall, _ in runs], [cpu for _, cpu in runs]
    times_sha1 = [wall for wall, _ in runs_sha1]
    rates = [megabytes / t for t in times]
    result = {
        "input_mb": megabytes,
        "documents": documents,
        "workers": workers,
        "filters": "default: NFC, whitespace, length, exact dedup, MinHash 0.8/128 perms/5-word shingles",
        # 1-minute load average before each pair of builds and after the last: other jobs shared
        # the cores, so wall-clock rates swing with it; the ratio and CPU figures much less.
        "load_average_1min_per_run": load,
        "seconds": spread(times),
        "mb_per_s": spread(rates),
        "sha1_path_mb_per_s": spread([megabytes / t for t in times_sha1]),
        "speedup_vs_sha1_path": {
            "median_of_pairs": statistics.median(
                old / new for old, new in zip(times_sha1, times, strict=True)
            ),
            "per_pair": [old / new for old, new in zip(times_sha1, times, strict=True)],
        },
        "mb_per_s_one_process": megabytes / one_wall,
        "sha1_path_mb_per_s_one_process": megabytes / one_wall_sha1,
        # Load-independent cost: CPU seconds per MB of everything (one process), and of what stays in
        # the build's own process with workers (reading sources, dedup decisions, writing shards).
        "cpu_seconds_per_mb": one_cpu / megabytes,
        "sha1_path_cpu_seconds_per_mb": one_cpu_sha1 / megabytes,
        "main_process_cpu_seconds_per_mb": statistics.median(main_cpu) / megabytes,
        # What an otherwise idle machine would give if the workers scale: the serial part or the
        # total spread over the cores, whichever is slower.
        "projected_idle_mb_per_s": 1
        / max(statistics.median(main_cpu) / megabytes, one_cpu / megabytes / workers),
        "removed": stats["removed"],
        "removed_sha1_path": stats_sha1["removed"],
        "documents_out": stats["documents_out"],
        "synthworld_source_mb_per_s": megabytes / synth_seconds,  # includes generating the documents
        "cold_process": {"seconds": spread(cold), "mb_per_s": spread([megabytes / t for t in cold])},
        "datasketch_check": check,
    }
    write_result("corpus_throughput", result)
    changed = check["decisions_changed_by_hash"]
    print(
        f"{megabytes:.1f} MB, {workers} workers: {', '.join(f'{r:.2f}' for r in rates)} MB/s "
        f"(load {min(load):.1f}-{max(load):.1f}); SHA-1 path "
        f"{result['sha1_path_mb_per_s']['median']:.2f} MB/s, "
        f"{result['speedup_vs_sha1_path']['median_of_pairs']:.2f}x; 1 process "
        f"{result['cpu_seconds_per_mb']:.3f} vs {result['sha1_path_cpu_seconds_per_mb']:.3f} CPU-s/MB; "
        f"projected idle {result['projected_idle_mb_per_s']:.1f} MB/s; fresh process "
        f"{result['cold_process']['mb_per_s']['median']:.2f} MB/s; near-dup decisions changed by the "
        f"hash: {changed['removed_only_with_shingle_hash']} + {changed['removed_only_with_sha1']} of "
        f"{check['documents']} (identical to datasketch with the same hash)"
    )
    print(f"corpus_throughput: mb_per_s={spread(rates)['median']:.2f}")


if __name__ == "__main__":
    main()
