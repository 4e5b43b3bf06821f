"""Model FLOPs utilisation: achieved training FLOP/s over the accelerator's dense bf16 peak."""

from __future__ import annotations

import torch

# Dense (no sparsity) bf16 tensor-core peaks, FLOP/s, by substring of the device name.
_PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L4": 121e12, "A10": 125e12, "4090": 165e12}


def peak_flops(device_name: str | None = None) -> float | None:
    """Peak bf16 FLOP/s of the current CUDA device, or None when unknown."""
    if device_name is None:
        if not torch.cuda.is_available():
            return None
        device_name = torch.cuda.get_device_name()
    for key, value in _PEAK_BF16.items():
        if key in device_name:
            return value
    return None


def model_flops_utilization(achieved_flops_per_second: float, device_name: str | None = None) -> float:
    peak = peak_flops(device_name)
    return achieved_flops_per_second / peak if peak else float("nan")
