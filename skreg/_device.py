"""Devices: which one a parameter names, what runs fastest there, tensors made for it."""

import functools

import numpy as np
import torch


def resolve_device(device):
    """Return ``torch.device(device)``, or raise a ValueError naming what is wrong with it."""
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a torch device; use 'cpu', 'cuda' or 'cuda:<index>'."
        ) from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested, but CUDA is not available here.")
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device={device!r} was requested, but MPS is not available here.")
    if resolved.type not in {"cpu", "cuda", "mps"}:
        raise ValueError(f"device={device!r} is not supported; use 'cpu', 'cuda' or 'mps'.")
    return resolved


@functools.cache
def _cpu_has_fused_adam():
    """Whether this torch has the fused Adam kernel for CPU tensors (torch 2.4 and later)."""
    try:
        torch.optim.Adam([torch.zeros(1, requires_grad=True)], fused=True)
    except (RuntimeError, ValueError, TypeError):
        return False
    return True


def uses_fused_adam(device):
    """Whether skreg's Adam on ``device`` is torch's fused implementation.

    It is on a CPU where torch has it: the fused kernel updates every parameter
    in one call instead of torch's default loop of small operations per
    parameter, which makes a CPU epoch about a tenth shorter
    (benchmarks/speed.py). Elsewhere skreg keeps torch's default.
    """
    return torch.device(device).type == "cpu" and _cpu_has_fused_adam()


def read_only_tensor(array, device):
    """``array`` as a torch tensor on ``device``, sharing its memory where possible.

    The tensor must never be written: on the CPU it may be the caller's memory,
    which skreg never modifies.
    """
    if not array.flags.writeable:
        # torch cannot wrap read-only memory (e.g. a read-only memmap) without a copy.
        array = array.copy()
    return torch.from_numpy(np.ascontiguousarray(array)).to(device)
