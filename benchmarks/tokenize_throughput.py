"""Tokenization throughput: the tokenize stage's encode path vs raw HF ``encode_batch`` vs tiktoken.

A byte-level BPE is trained (the project's trainer) on a synthworld corpus of ``--mb`` MB, then the
same texts, held in memory, are encoded by

- ``encode_batch``: HF ``tokenizers.Tokenizer.encode_batch`` (Rust, all cores), the baseline;
- ``encode_batch_fast``: the same without offsets (what the stage used before);
- ``tiktoken_batch``: ``tiktoken.Encoding.encode_ordinary_batch(num_threads=cores)`` with the same merges;
- ``stage``: the stage's encoder as :func:`~pretrainlab.tokenization.encoders.choose_encoder` picks it,
  through :func:`~pretrainlab.tokenization.encode.encode_documents` (ids + ``</s>`` into the uint16 stream).

Rounds alternate between the encoders so background load hits them alike; the headline is the median
of the per-round ratio stage / encode_batch. The stage's ids are asserted identical to encode_batch's.
``encode_corpus`` (parquet in, token files out, including its run-time sample check) is timed too.

    python benchmarks/tokenize_throughput.py [--mb 20] [--vocab 8192] [--rounds 3]

Last line: ``tokenize_throughput: stage_vs_encode_batch=<ratio>``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from machine import spread, timed, write_result

from pretrainlab.config.schema import CorpusConfig, FilesSource, TokenizerConfig
from pretrainlab.corpus.build import build_corpus
from pretrainlab.corpus.prepare import available_cores
from pretrainlab.corpus.shards import iter_texts
from pretrainlab.synthworld import generate_documents
from pretrainlab.tokenization.encode import BATCH_DOCUMENTS, corpus_sample, encode_corpus, encode_documents
from pretrainlab.tokenization.encoders import choose_encoder
from pretrainlab.tokenization.load import load_tokenizer
from pretrainlab.tokenization.token_stream import TokenStream
from pretrainlab.tokenization.train_bpe import train_tokenizer


def prepare(folder: Path, megabytes: float, vocab: int) -> tuple[Path, Path]:
    documents = int(megabytes * 1e6 / 400)
    with (folder / "docs.jsonl").open("w") as out:
        for text in generate_documents(documents=documents, entities=max(500, documents // 40), seed=2):
            out.write(json.dumps({"text": text}) + "\n")
    config = CorpusConfig(sources=[FilesSource(kind="files", glob="docs.jsonl")], filters={"minhash": None})
    build_corpus(config, seed=0, out_dir=folder / "corpus", root=folder)
    train_tokenizer(folder / "corpus", TokenizerConfig(vocab_size=vocab, sentinels=100), folder / "tokenizer")
    return folder / "corpus", folder / "tokenizer"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=20.0)
    parser.add_argument("--vocab", type=int, default=8192)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")  # HF uses every core, as in `make run`
    cores = available_cores()

    with tempfile.TemporaryDirectory() as tmp:
        corpus, tokenizer_dir = prepare(Path(tmp), args.mb, args.vocab)
        batches = [t.to_pylist() for t in iter_texts(corpus, "train", BATCH_DOCUMENTS)]
        megabytes = sum(len(t.encode()) for batch in batches for t in batch) / 1e6
        tokenizer, specials = load_tokenizer(tokenizer_dir)
        backend = tokenizer.backend_tokenizer
        stage = choose_encoder(backend, corpus_sample(corpus), cores)  # sets encode_special_tokens
        assert stage.name == "tiktoken", "the stage fell back to tokenizers (see the log)"
        encoding = stage.encoding  # type: ignore[attr-defined]
        dtype = np.dtype(np.uint16)

        outputs: dict[str, list] = {}
        encoders = {
            "encode_batch": lambda b: [e.ids for e in backend.encode_batch(b, add_special_tokens=False)],
            "encode_batch_fast": lambda b: [
                e.ids for e in backend.encode_batch_fast(b, add_special_tokens=False)
            ],
            "tiktoken_batch": lambda b: encoding.encode_ordinary_batch(b, num_threads=cores),
            "stage": lambda b: encode_documents(stage, b, specials.eos, dtype)[0],
        }
        rates: dict[str, list[float]] = {name: [] for name in encoders}
        cpu: dict[str, list[float]] = {name: [] for name in encoders}
        for _ in range(args.rounds):
            for name, encode in encoders.items():

                def run(name: str = name, encode=encode) -> None:  # type: ignore[no-untyped-def]
                    outputs[name] = [encode(batch) for batch in batches]

                wall, cpu_seconds = timed(run)
                rates[name].append(megabytes / wall)
                cpu[name].append(cpu_seconds / megabytes)

        reference = [ids for part in outputs["encode_batch"] for ids in part]
        assert [ids for part in outputs["tiktoken_batch"] for ids in part] == reference
        eos_joined = np.concatenate([np.array(ids + [specials.eos], dtype=dtype) for ids in reference])
        assert np.array_equal(np.concatenate(outputs["stage"]), eos_joined), (
            "stage ids differ from encode_batch"
        )

        started = time.perf_counter()
        meta = encode_corpus(corpus, tokenizer_dir, Path(tmp) / "tokens")
        stage_seconds = time.perf_counter() - started
        stream = TokenStream.open(Path(tmp) / "tokens", "train")
        assert np.array_equal(np.asarray(stream.tokens), eos_joined), (
            "encode_corpus ids differ from encode_batch"
        )
        stage.close()

    ratios = [s / b for s, b in zip(rates["stage"], rates["encode_batch"], strict=True)]
    all_bytes = sum(meta["bytes"].values()) / 1e6
    result = {
        "input_mb": megabytes,
        "vocab_size": specials.vocab_size,
        "cores": cores,
        "bytes_per_token": megabytes * 1e6 / sum(map(len, reference)),
        "mb_per_s": {name: spread(values) for name, values in rates.items()},
        "cpu_seconds_per_mb": {name: spread(values) for name, values in cpu.items()},  # all threads
        "stage_vs_encode_batch": spread(ratios),
        "tiktoken_batch_vs_encode_batch": spread(
            [t / b for t, b in zip(rates["tiktoken_batch"], rates["encode_batch"], strict=True)]
        ),
        "encode_corpus_mb_per_s": all_bytes / stage_seconds,  # parquet read, sample check, files written
        "ids_identical": True,
    }
    write_result("tokenize_throughput", result)
    medians = {name: f"{statistics.median(v):.2f}" for name, v in rates.items()}
    print(f"{megabytes:.1f} MB, {cores} cores, MB/s (median of {args.rounds}): {medians}")
    print(
        f"stage/encode_batch per round: {', '.join(f'{r:.2f}' for r in ratios)}; encode_corpus "
        f"{result['encode_corpus_mb_per_s']:.2f} MB/s"
    )
    print(f"tokenize_throughput: stage_vs_encode_batch={statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
