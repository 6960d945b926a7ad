"""Trainer benchmarks: ``archlab.train.fit`` against a bare compute loop (efficiency) and against the loop a user
would conventionally write (speed-up), on the same model, batch size, images and epochs.

- bare loop: forward, backward and optimizer step over batches already normalised on the device, with fit's
  precision, memory format and optimizer: the best any trainer could do, so bare/fit <= 1 is its efficiency;
- conventional loop: a torchvision dataset with transforms (crop, flip, ToTensor, Normalize), a ``DataLoader``
  with worker processes and pinned memory, float32, torch's default AdamW and a ``loss.item()`` per step, as
  in the PyTorch tutorials;
- fit: augmentation on the device (as the conventional loop augments), optionally with ``torch.compile``,
  timed for a first model (compilation included) and a second one of the same architecture (compiled code
  reused: what each run of a sweep pays).
Each timed run starts from a fresh model after an untimed warm-up, with the device synchronised around it, and
each side is timed ``repeats`` times and its fastest kept (timeit's rule: slower repeats measure interference from
other processes, not the code; on the 2-core CPU single timings swung by 20% and more).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from archlab.data import STATS, DeviceLoader
from archlab.models import create_model
from archlab.train import TrainConfig, is_conv_net, autocast_dtype, fit, make_optimizer, seed_everything

from .common import BenchData, peak_mb, reset_peak, timed

LR = 1e-3


def _model(name: str, kwargs: dict, dev: torch.device, seed: int = 0):
    seed_everything(seed)
    return create_model(name, num_classes=10, input_shape=(3, 32, 32), **kwargs).to(dev)


def bare_loop(model, batches: list, cfg: TrainConfig, dev: torch.device) -> None:
    """The irreducible training work: what fit does per step minus data handling and bookkeeping."""
    dtype = autocast_dtype(cfg, dev)
    if dev.type == "cuda" and is_conv_net(model):
        model.to(memory_format=torch.channels_last)
    opt = make_optimizer(model, cfg)
    model.train()
    for _ in range(cfg.epochs):
        for x, y in batches:
            with torch.autocast(dev.type, dtype=dtype, enabled=dtype is not None):
                out = model(x)
            loss = F.cross_entropy(out.float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()


def conventional_dataset(data: BenchData, n: int | None = None):
    """The same images as a torchvision dataset with torchvision transforms (the first ``n`` of them if given).
    Built outside the timed region, as fit's ArrayDataset is: only the training loop is compared."""
    from torch.utils.data import Subset
    from torchvision import datasets, transforms as T

    mean, std = STATS["cifar10"]
    tf = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(mean, std)])
    if data.source == "cifar10":
        return Subset(datasets.ImageFolder(data.folder, transform=tf), data.indices[:n])
    return datasets.FakeData(size=n or len(data.ds), image_size=(3, 32, 32), num_classes=10, transform=tf)


def conventional_loop(model, ds, batch_size: int, epochs: int, dev: torch.device, workers: int) -> None:
    """What the tutorials teach: decode and augment on the host in worker processes, copy each batch over."""
    from torch.utils.data import DataLoader

    loader = DataLoader(ds, batch_size=batch_size, shuffle=True, num_workers=workers, pin_memory=dev.type == "cuda",
                        drop_last=True)
    opt = torch.optim.AdamW(model.parameters(), lr=LR)
    model.train()
    for _ in range(epochs):
        running = 0.0
        for x, y in loader:
            x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            running += loss.item()


def _fastest(repeats: int, dev: torch.device, run) -> float:
    """Seconds of the fastest of ``repeats`` calls of ``run()``."""
    best = float("inf")
    for _ in range(repeats):
        with timed(dev) as t:
            run()
        best = min(best, t.seconds)
    return best


def bench_case(name: str, kwargs: dict, batch_size: int, data: BenchData, epochs: int, dev: torch.device,
               workers: int, compile_modes=(), repeats: int = 1) -> dict:
    """All timings for one (model, batch size) case; seconds per side, ratios computed by the caller."""
    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, lr=LR, augment=True, seed=0)
    ds = data.ds
    warm = ds.subset(min(len(ds), 2 * batch_size))  # two steps: first-call set-up, then one more
    fit(_model(name, kwargs, dev), warm, None, cfg.replace(epochs=1), device=dev)  # CUDA context, kernels, allocator
    steps = len(ds) // min(batch_size, len(ds))
    out = {"model": name, "model_kwargs": kwargs, "batch_size": batch_size, "epochs": epochs, "n_train": len(ds),
           "steps_per_epoch": steps, "samples": steps * min(batch_size, len(ds)) * epochs, "repeats": repeats}

    reset_peak(dev)
    out["fit_s"] = _fastest(repeats, dev, lambda: fit(_model(name, kwargs, dev), ds, None, cfg, device=dev))
    out["fit_peak_mb"] = peak_mb(dev)

    cl = dev.type == "cuda" and is_conv_net(_model(name, kwargs, "meta"))
    batches = [(x.clone(), y.clone()) for x, y in DeviceLoader(ds, batch_size, device=dev, channels_last=cl)]
    out["bare_s"] = _fastest(repeats, dev, lambda: bare_loop(_model(name, kwargs, dev), batches, cfg, dev))
    del batches

    # Warm-up on two batches' worth: the float32 kernels are different ones.
    conventional_loop(_model(name, kwargs, dev), conventional_dataset(data, len(warm)), batch_size, 1, dev, workers)
    tv_ds = conventional_dataset(data)
    reset_peak(dev)
    out["conventional_s"] = _fastest(
        repeats, dev, lambda: conventional_loop(_model(name, kwargs, dev), tv_ds, batch_size, epochs, dev, workers))
    out["conventional_peak_mb"] = peak_mb(dev)

    for mode in compile_modes:
        ccfg = cfg.replace(compile=mode)
        with timed(dev) as t:
            fit(_model(name, kwargs, dev), ds, None, ccfg, device=dev)
        first = t.seconds
        with timed(dev) as t:
            fit(_model(name, kwargs, dev, seed=1), ds, None, ccfg, device=dev)
        out[f"compile_{mode}_first_s"], out[f"compile_{mode}_s"] = first, t.seconds
    return out
