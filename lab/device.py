"""``resolve_device``: the torch device a run uses (a leaf module: importing it costs nothing until called)."""

from __future__ import annotations

from lab.errors import LabError

__all__ = ["resolve_device"]


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``; ``cuda`` without a GPU is an error."""
    import re

    import torch

    if not isinstance(device, str) or not re.fullmatch(r"auto|cpu|cuda(:\d{1,3})?|mps", device):
        from lab.errors import unknown_name

        raise LabError(f"--device: {unknown_name('device', str(device)[:40], ['auto', 'cpu', 'cuda', 'cuda:N', 'mps'])}")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise LabError(f"--device {device}: no CUDA device is available to torch {torch.__version__}")
    if device.startswith("cuda:") and int(device[5:]) >= torch.cuda.device_count():
        raise LabError(f"--device {device}: torch sees {torch.cuda.device_count()} CUDA device(s), numbered from 0")
    if device == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise LabError("--device mps: no Apple GPU (MPS) is available to torch")
    return device
