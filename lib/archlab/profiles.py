"""Profiles scale every experiment: smoke (seconds, embedded data, tests), cpu (a reduced run for a
2-core machine), gpu (the real reproduction on one GPU), paper (full scale, may be sharded)."""
from __future__ import annotations

import os

import torch

PROFILES = ("smoke", "cpu", "gpu", "paper")
CHOICES = ("auto",) + PROFILES


def resolve_profile(profile: str = "auto") -> str:
    """``auto`` means ``$ARCHLAB_PROFILE`` if set, else ``gpu`` when CUDA is available, else ``cpu``."""
    if profile == "auto":
        profile = os.environ.get("ARCHLAB_PROFILE") or ("gpu" if torch.cuda.is_available() else "cpu")
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; valid profiles: {', '.join(CHOICES)}")
    return profile


def default_device(profile: str | None = None) -> torch.device:
    """The smoke profile always runs on the CPU, so tests behave the same on a GPU machine."""
    if profile == "smoke" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda")
