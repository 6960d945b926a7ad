"""Which code paths a device takes, and a switch that forces the CUDA-only ones on a CPU.

On CUDA, training uses bf16 autocast, channels_last conv nets and fused optimizers; on a CPU none of them, so a bug
in those branches (a fused optimizer that cannot take a parameter's first gradient mid-run, a bf16 comparison at
fp32 tolerance) would surface only on a GPU, after a reader has spent GPU hours. ``ARCHLAB_FORCE_CUDA_PATHS=1``
makes every ``uses_cuda_paths`` answer True on a CPU too, so ``make test`` runs those branches (slowly: bf16 on a CPU
is emulated). Runs trained so are stored under their configs' own device (``cpu``), so use it only with a throw-away
run store (the tests do).
"""
from __future__ import annotations

import os

ENV = "ARCHLAB_FORCE_CUDA_PATHS"
_VALUES = {"": False, "0": False, "1": True}


def forced() -> bool:
    """True when ``$ARCHLAB_FORCE_CUDA_PATHS`` is ``1``; a value other than unset, ``0`` or ``1`` is refused."""
    value = os.environ.get(ENV, "").strip()
    if value not in _VALUES:
        raise ValueError(f"{ENV}={value!r} is not valid; choose one of '1' (force the CUDA paths), '0' or unset")
    return _VALUES[value]


def uses_cuda_paths(device) -> bool:
    """Whether code on ``device`` (a torch.device or its name) takes the CUDA branches: bf16 autocast for
    ``precision="auto"``, channels_last, fused optimizers."""
    kind = device.type if hasattr(device, "type") else str(device).split(":")[0]
    return kind == "cuda" or forced()
