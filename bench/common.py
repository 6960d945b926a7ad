"""Shared pieces of the benchmarks: sizes, the data both sides train on, timers and memory probes.

Every ratio in the table is measured side by side in one process on one device, so it is comparable within a
run; absolute seconds are only comparable between runs on the same device (the JSON records which).
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass

import torch

# Per size: CIFAR-sized images for the trainer benchmarks, a slice of the deep-vs-shallow grid for sweeps with the
# paper grid's three learning rates and one seed, so batched groups are the size the paper grid gives them; the
# whole training split (train_size None), as the gpu and paper profiles train.
PAPER_LRS = [1e-3, 3e-4, 1e-4]
# tiny: the CI smoke test (seconds); small: the CPU default (a minute or two on 2 cores; 4,096 images, since
# 1,024 gave timings of about a second that swung by 2x between runs); full: one GPU.
SIZES = {
    "tiny": dict(n_train=256, epochs=1, repeats=1, workers=2, compile=(), ray=False,
                 cases=[("small_cnn", {"width": 8}, 64)],
                 sweep=dict(profile="smoke", levels=dict(L=[2], F=[4], lr=PAPER_LRS[:2], train_size=[None]), seeds=1, epochs=1)),
    "small": dict(n_train=4096, epochs=1, repeats=3, workers=8, compile=(), ray=True,
                  cases=[("small_cnn", {"width": 16}, 512), ("small_cnn", {"width": 16}, 128)],
                  sweep=dict(profile="smoke", levels=dict(L=[2, 4], F=[8], lr=PAPER_LRS, train_size=[None]), seeds=1, epochs=8)),
    "full": dict(n_train=None, epochs=2, repeats=2, workers=8, compile=("reduce-overhead",), ray=True,
                 cases=[("small_cnn", {}, 512), ("resnet18_cifar", {}, 512), ("small_cnn", {}, 128)],
                 sweep=dict(profile="gpu", levels=dict(dataset=["cifar10"], L=[2, 4], F=[16, 32], k=[3], lr=PAPER_LRS),
                            seeds=1, epochs=1)),
}


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def sync(dev: torch.device) -> None:
    """Wait for queued GPU work, so a timer read after it measures the work, not its launch."""
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


@dataclass
class Timer:
    seconds: float = 0.0


@contextmanager
def timed(dev: torch.device):
    """``with timed(dev) as t: ...`` -> ``t.seconds``, with the device synchronised on entry and exit."""
    t = Timer()
    sync(dev)
    t0 = time.perf_counter()
    try:
        yield t
    finally:
        sync(dev)
        t.seconds = time.perf_counter() - t0


def reset_peak(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)


def peak_mb(dev: torch.device) -> float | None:
    """Peak GPU memory allocated since the last ``reset_peak`` (None on a CPU: there is no per-run figure)."""
    return torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else None


@dataclass
class BenchData:
    """The training images both sides use: ``ds`` for archlab, ``source``/``indices`` to rebuild the same images
    as a torchvision dataset for the conventional loop."""

    ds: object  # archlab.data.ArrayDataset
    source: str  # "cifar10" (image-folder JPEGs) or "synthetic"
    folder: str | None
    indices: list | None


def cifar_or_synthetic(n_train: int | None, synthetic: bool = False) -> BenchData:
    """The CIFAR-10 training set (or a stratified subset) when a local copy exists, else synthetic images of the
    same shape; the conventional loop reads the same images from the JPEG tree (or torchvision's FakeData)."""
    from archlab.data import ArrayDataset, DataNotFoundError, load_dataset
    from archlab.paths import data_root

    folder = data_root() / "cifar10" / "train"
    full = None
    if not synthetic and folder.is_dir():
        try:
            full = load_dataset("cifar10", "train", download=False)
        except (DataNotFoundError, RuntimeError, OSError):
            pass
    if full is not None:
        # ArrayDataset.subset on the positions themselves says which images (in ImageFolder order) were picked.
        pos = ArrayDataset(torch.arange(len(full)), full.y, full.num_classes, full.mean, full.std, "positions")
        idx = pos.subset(n_train).x.tolist()
        return BenchData(full.subset(n_train), "cifar10", str(folder), idx)
    n = n_train or 50_000
    ds = load_dataset("synthetic", "train", n_train=n, n_test=16)
    return BenchData(ds, "synthetic", None, None)


def dataset_cache_mb(ds) -> float:
    """Host memory the decoded dataset occupies (uint8 images + int64 labels): what the cache costs."""
    return (ds.x.numel() * ds.x.element_size() + ds.y.numel() * ds.y.element_size()) / 2**20
