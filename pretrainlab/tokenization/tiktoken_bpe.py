"""A ``tiktoken.Encoding`` that encodes like a byte-level BPE ``tokenizer.json`` (HF ``tokenizers``).

tiktoken runs the same algorithm several times faster: split the text with a regex, map each piece to
bytes, then repeatedly merge the adjacent pair whose merged bytes have the lowest rank. A HF
byte-level BPE becomes one when

- its vocabulary, written in the byte-level alphabet (``Ġ`` is the space byte), maps back to bytes,
  holding all 256 single bytes, and ids grow with merge order (what the HF trainer produces), so the
  id of a merged token is its merge priority: ``mergeable_ranks = {bytes(token): id}``;
- its pre-tokenizer is ``ByteLevel(use_regex=True, add_prefix_space=False)`` (GPT-2's regex,
  :data:`GPT2_PATTERN`) or ``Split(regex, Isolated)`` followed by ``ByteLevel(use_regex=False)``;
- its normalizer is none or NFC (tiktoken has none: the caller applies NFC, :func:`nfc`);
- every added token is special: those are never produced from plain text here, and the HF side
  must be told the same (``encode_special_tokens = True``).

Anything else raises :class:`NotEquivalent` with the reason. Equal rules are not a proof of equal
ids (regex engines differ at the edges of Unicode), so callers also compare the two on a sample.

>>> GPT2_PATTERN.startswith("'s|'t|'re")
True
"""

from __future__ import annotations

import unicodedata
from typing import Any

import tiktoken

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


class NotEquivalent(ValueError):
    """The tokenizer uses a feature tiktoken cannot reproduce (the message says which)."""


def byte_level_alphabet() -> dict[str, int]:
    """GPT-2's printable stand-in for each byte, inverted: ``{"Ġ": 32, "!": 33, ...}``."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    chars = {b: b for b in printable}
    extra = 0
    for b in range(256):
        if b not in chars:
            chars[b] = 256 + extra
            extra += 1
    return {chr(c): b for b, c in chars.items()}


def _pattern(pre_tokenizer: dict[str, Any] | None) -> str:
    def byte_level(step: dict[str, Any], use_regex: bool) -> None:
        if step.get("add_prefix_space", False):
            raise NotEquivalent("ByteLevel(add_prefix_space=True) is not supported")
        if bool(step.get("use_regex", True)) != use_regex:
            raise NotEquivalent(f"ByteLevel(use_regex={step.get('use_regex')}) in this position")

    kind = (pre_tokenizer or {}).get("type")
    if kind == "ByteLevel":
        assert pre_tokenizer is not None
        byte_level(pre_tokenizer, use_regex=True)
        return GPT2_PATTERN
    if kind == "Sequence":
        assert pre_tokenizer is not None
        steps = pre_tokenizer.get("pretokenizers", [])
        if len(steps) == 1:
            return _pattern(steps[0])
        if len(steps) == 2 and steps[0].get("type") == "Split" and steps[1].get("type") == "ByteLevel":
            split, pattern = steps[0], steps[0].get("pattern", {})
            if "Regex" not in pattern or split.get("behavior") != "Isolated" or split.get("invert"):
                raise NotEquivalent(f"pre-tokenizer Split {split} is not an isolated regex split")
            byte_level(steps[1], use_regex=False)
            return str(pattern["Regex"])
    raise NotEquivalent(f"pre-tokenizer {pre_tokenizer} is not a byte-level regex split")


def _check_model(model: dict[str, Any]) -> None:
    if model.get("type") != "BPE":
        raise NotEquivalent(f"model type {model.get('type')} is not BPE")
    for key, neutral in (
        ("dropout", None),
        ("byte_fallback", False),
        ("continuing_subword_prefix", None),
        ("end_of_word_suffix", None),
    ):
        if model.get(key) not in (neutral, ""):
            raise NotEquivalent(f"BPE {key}={model.get(key)!r} is not supported")


def _uses_nfc(normalizer: dict[str, Any] | None) -> bool:
    if normalizer is None:
        return False
    steps = normalizer.get("normalizers", []) if normalizer.get("type") == "Sequence" else [normalizer]
    kinds = [step.get("type") for step in steps]
    if kinds and kinds != ["NFC"]:
        raise NotEquivalent(f"normalizer {kinds} is not supported (only NFC or none)")
    return bool(kinds)


def tiktoken_encoding(spec: dict[str, Any], name: str = "pretrainlab-bpe") -> tuple[tiktoken.Encoding, bool]:
    """``(encoding, apply_nfc)`` for a parsed ``tokenizer.json``; NotEquivalent if there is none.

    ``apply_nfc`` says whether texts must be NFC-normalised before ``encoding.encode_ordinary``.
    The encoding knows no special tokens: it never produces one.
    """
    model = spec.get("model") or {}
    _check_model(model)
    apply_nfc = _uses_nfc(spec.get("normalizer"))
    pattern = _pattern(spec.get("pre_tokenizer"))

    added = spec.get("added_tokens") or []
    plain = [t["content"] for t in added if not t.get("special", False)]
    if plain:
        raise NotEquivalent(f"added tokens that are not special ({plain[:3]}...) are matched in text")
    added_ids = {int(t["id"]) for t in added}

    alphabet = byte_level_alphabet()
    ranks: dict[bytes, int] = {}
    for token, token_id in model.get("vocab", {}).items():
        if token_id in added_ids:
            continue
        try:
            data = bytes(alphabet[c] for c in token)
        except KeyError:
            raise NotEquivalent(f"vocab token {token!r} is not in the byte-level alphabet") from None
        if data in ranks:
            raise NotEquivalent(f"two ids ({ranks[data]}, {token_id}) for the bytes {data!r}")
        ranks[data] = int(token_id)
    missing = [b for b in range(256) if bytes([b]) not in ranks]
    if missing:
        raise NotEquivalent(f"{len(missing)} single bytes have no token (e.g. {missing[0]})")

    merged: list[int] = []
    for merge in model.get("merges", []):
        left, right = merge.split(" ") if isinstance(merge, str) else merge
        token = bytes(alphabet[c] for c in left + right)
        if token not in ranks:
            raise NotEquivalent(f"merge {left!r} + {right!r} makes no vocab token")
        merged.append(ranks[token])
    if any(b <= a for a, b in zip(merged, merged[1:], strict=False)):
        raise NotEquivalent("token ids do not grow with merge order, so ids are not merge priorities")
    if len(merged) != sum(len(token) > 1 for token in ranks):
        raise NotEquivalent("some multi-byte tokens are made by no merge")
    return tiktoken.Encoding(name, pat_str=pattern, mergeable_ranks=ranks, special_tokens={}), apply_nfc


def nfc(text: str) -> str:
    """``text`` in NFC (returned as is when it already is, the usual case after corpus cleaning)."""
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)
