"""A stable hash of the params (and inputs) that change a stage's output — its version (Marin-style)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel


def fingerprint(*parts: BaseModel | dict[str, Any] | str) -> str:
    """sha256 over canonical JSON of each part; equal params give equal fingerprints.

    >>> fingerprint({"a": 1, "b": 2}) == fingerprint({"b": 2, "a": 1})
    True
    """
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, BaseModel):
            part = part.model_dump(mode="json")
        digest.update(json.dumps(part, sort_keys=True, separators=(",", ":")).encode())
        digest.update(b"\x00")
    return digest.hexdigest()
