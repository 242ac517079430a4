"""``resolve_device``: the torch device a run uses (a leaf module: importing it costs nothing until called)."""

from __future__ import annotations

from lab.errors import LabError

__all__ = ["resolve_device"]


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``; ``cuda`` without a GPU is an error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise LabError(f"--device cuda: no CUDA device is available to torch {torch.__version__}")
    return device
