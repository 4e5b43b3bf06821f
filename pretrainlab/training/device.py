"""Pick the device and numeric precision from ``resources`` (operational settings, never cache keys)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from pretrainlab.errors import UserInputError


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    precision: str  # "fp32" | "bf16"

    def autocast(self) -> contextlib.AbstractContextManager:
        """bf16 autocast where asked for; a no-op context in fp32."""
        if self.precision == "bf16":
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()


def resolve_runtime(device: str = "auto", precision: str = "auto") -> Runtime:
    """``auto`` means CUDA when present (bf16 where supported), else CPU in fp32.

    >>> resolve_runtime("cpu", "auto")
    Runtime(device=device(type='cpu'), precision='fp32')
    """
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise UserInputError("resources.device: 'cuda' was asked for but no CUDA GPU is visible")
    if device == "mps" and not torch.backends.mps.is_available():
        raise UserInputError("resources.device: 'mps' was asked for but MPS is not available")
    bf16_ok = device == "cuda" and torch.cuda.is_bf16_supported()
    if precision == "auto":
        precision = "bf16" if bf16_ok else "fp32"
    if precision == "bf16" and not bf16_ok and device != "cpu":
        raise UserInputError(f"resources.precision: bf16 is not supported on device {device!r}; use fp32")
    return Runtime(torch.device(device), precision)


def attention_backend(device: torch.device) -> str:
    """``build_model``'s ``attn_implementation``: torch SDPA (flash / memory-efficient kernels) on CUDA;
    eager elsewhere, where it is the reference the bit-exact CPU tests use (both masks are exact)."""
    return "sdpa" if device.type == "cuda" else "eager"
