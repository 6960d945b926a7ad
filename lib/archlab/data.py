"""Datasets as whole tensors, and a batch iterator that keeps them on the device.

Every experiment in the companion trains many small models on small images. At that scale a
``DataLoader`` with worker processes is the bottleneck (decode, collate and host-to-device copies per
step), so the whole uint8 dataset is decoded once, cached on disk, moved to the device once, and
normalised/augmented there per batch.

Sources, in the order they are tried for a file-backed set (``mnist``, ``fashion_mnist``,
``cifar10``, ``cifar100``):
1. the decoded cache ``<data dir>/.archlab-cache/<name>-<split>.pt``;
2. an image-folder tree ``<data dir>/<name>/{train,test}/<class>/*`` (e.g. the offline CIFAR-10 JPEGs);
3. torchvision's own files under ``<data dir>`` (downloaded there when online).
Embedded sets need no files: ``digits`` (scikit-learn), ``spirals`` (generated) and ``synthetic``.
"""
from __future__ import annotations

import math
import os
import socket
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

import torch
import torch.nn.functional as F

from .paths import data_root

TORCHVISION_SETS = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "cifar10": "CIFAR10", "cifar100": "CIFAR100"}
EMBEDDED_SETS = ("digits", "spirals", "synthetic")
DATASETS = tuple(TORCHVISION_SETS) + EMBEDDED_SETS
SPLITS = ("train", "test")

# Published per-channel statistics (on [0, 1] pixels), used to normalise on the device.
STATS = {
    "mnist": ((0.1307,), (0.3081,)),
    "fashion_mnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}


# The full downloads' split sizes, sample shapes and classes, known without loading anything (projections, dry runs;
# the offline MNIST copy is smaller). Embedded sets are generated in memory, so :func:`dataset_info` measures them.
FILE_SETS = {"mnist": dict(n_train=60_000, n_test=10_000, shape=(1, 28, 28), classes=10),
             "fashion_mnist": dict(n_train=60_000, n_test=10_000, shape=(1, 28, 28), classes=10),
             "cifar10": dict(n_train=50_000, n_test=10_000, shape=(3, 32, 32), classes=10),
             "cifar100": dict(n_train=50_000, n_test=10_000, shape=(3, 32, 32), classes=100)}


def dataset_info(name: str, **kwargs) -> dict:
    """``n_train, n_test, shape, classes`` of a dataset: the standard sizes of a file-backed set (no file is read),
    measured for an embedded one (``kwargs`` are its options)."""
    if name in FILE_SETS:
        return dict(FILE_SETS[name])
    train, test = (load_dataset(name, split, **kwargs) for split in SPLITS)
    return dict(n_train=len(train), n_test=len(test), shape=train.sample_shape, classes=train.num_classes)


class DataNotFoundError(FileNotFoundError):
    """No local copy of a dataset and no way to download it."""


@dataclass
class ArrayDataset:
    """A whole dataset as two tensors: ``x`` uint8 (N, C, H, W) images or float32 (N, D) vectors."""

    x: torch.Tensor
    y: torch.Tensor
    num_classes: int
    mean: tuple
    std: tuple
    name: str
    classes: tuple = ()

    def __post_init__(self):
        if len(self.x) != len(self.y):
            raise ValueError(f"{self.name}: {len(self.x)} inputs but {len(self.y)} labels")

    def __len__(self) -> int:
        return len(self.y)

    @property
    def sample_shape(self) -> tuple:
        return tuple(self.x.shape[1:])

    @property
    def is_image(self) -> bool:
        return self.x.dim() == 4

    def take(self, index: torch.Tensor) -> "ArrayDataset":
        return ArrayDataset(self.x[index], self.y[index], self.num_classes, self.mean, self.std, self.name, self.classes)

    def subset(self, n: int | None, seed: int = 0) -> "ArrayDataset":
        """A deterministic, class-stratified subset of ``n`` samples (the whole set when n is None or too big)."""
        if n is None or n >= len(self):
            return self
        g = torch.Generator().manual_seed(seed)
        order = torch.randperm(len(self), generator=g)
        # Round-robin over classes in shuffled order keeps class proportions balanced.
        labels = self.y[order]
        rank = torch.zeros(len(self), dtype=torch.long)
        for c in labels.unique():
            m = labels == c
            rank[m] = torch.arange(int(m.sum()))
        pick = order[torch.argsort(rank * self.num_classes + labels, stable=True)[:n]]
        return self.take(pick.sort().values)


# ----------------------------------------------------------------------------- loading


# CIFAR-10's class names, known without its files (torchvision reads them from the download's meta file).
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def class_names(name: str) -> list[str]:
    """A dataset's class names in label order, without reading its files where they are standard (MNIST's and
    Fashion-MNIST's from torchvision, CIFAR-10's above), so stored runs can be labelled offline; others load."""
    from torchvision import datasets

    known = {"mnist": datasets.MNIST.classes, "fashion_mnist": datasets.FashionMNIST.classes,
             "cifar10": CIFAR10_CLASSES}
    return list(known[name]) if name in known else list(load_dataset(name, "test").classes)


def load_dataset(name: str, split: str = "train", *, download: bool = True, **kwargs) -> ArrayDataset:
    """Load one split of a dataset as an :class:`ArrayDataset` (see the module docstring for sources)."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid datasets: {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
    if name == "digits":
        return _digits(split, **kwargs)
    if name == "spirals":
        return _spirals(split, **kwargs)
    if name == "synthetic":
        return _synthetic(split, **kwargs)
    if kwargs:
        raise TypeError(f"dataset {name!r} takes no options, got {sorted(kwargs)}")
    return _load_files(name, split, str(data_root()), download)


def load_splits(name: str, train_size: int | None = None, test_size: int | None = None, seed: int = 0, **kwargs):
    """``(train, test)``, each optionally reduced to a stratified subset."""
    train = load_dataset(name, "train", **kwargs).subset(train_size, seed)
    test = load_dataset(name, "test", **kwargs).subset(test_size, seed)
    return train, test


@lru_cache(maxsize=8)
def _load_files(name: str, split: str, root: str, download: bool) -> ArrayDataset:
    root = Path(root)
    cache = root / ".archlab-cache" / f"{name}-{split}.pt"
    classes = ()
    if cache.exists():
        blob = torch.load(cache, weights_only=True)  # tensors and lists only: no code runs on load
        x, y, classes = blob["x"], blob["y"], tuple(blob["classes"])
    else:
        folder = root / name / split
        if folder.is_dir():
            x, y, classes = _read_image_folder(folder, channels=1 if name in ("mnist", "fashion_mnist") else 3)
        else:
            x, y, classes = _read_torchvision(name, split, root, download, folder)
        cache.parent.mkdir(parents=True, exist_ok=True)
        # a per-process name: two workers decoding the same split at once must not rename each other's file
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        torch.save({"x": x, "y": y, "classes": list(classes)}, tmp)
        tmp.replace(cache)  # atomic: a killed process never leaves half a cache behind
    mean, std = STATS[name]
    return ArrayDataset(x, y, len(classes) or int(y.max()) + 1, mean, std, name, tuple(classes))


def _read_image_folder(folder: Path, channels: int):
    """Decode ``<folder>/<class>/*`` with torchvision.io; class index = sorted class-name order (as ImageFolder)."""
    import warnings

    from torchvision.datasets import ImageFolder
    from torchvision.io import ImageReadMode, decode_image, read_file

    tree = ImageFolder(str(folder), loader=lambda p: p)  # only the file index; decoding happens below, once
    mode = ImageReadMode.GRAY if channels == 1 else ImageReadMode.RGB
    with warnings.catch_warnings():
        # torchvision >= 0.29 points to TorchCodec; torchvision.io still decodes and is on every supported version.
        warnings.simplefilter("ignore", DeprecationWarning)
        x = torch.stack([decode_image(read_file(p), mode=mode) for p, _ in tree.samples])
    y = torch.tensor(tree.targets, dtype=torch.long)
    return x, y, tuple(tree.classes)


def _read_torchvision(name: str, split: str, root: Path, download: bool, folder: Path):
    import torchvision.datasets as tvd

    cls = getattr(tvd, TORCHVISION_SETS[name])
    try:
        ds = cls(str(root), train=split == "train", download=False)
    except RuntimeError:
        if not download or not _online(cls):
            raise DataNotFoundError(_missing_message(name, split, root, folder, cls)) from None
        try:
            ds = cls(str(root), train=split == "train", download=True)
        except Exception as e:  # a mirror that went away mid-download, a bad checksum, ...
            raise DataNotFoundError(_missing_message(name, split, root, folder, cls) + f"\nDownload failed: {e}") from e
    data = torch.as_tensor(ds.data)
    x = data.unsqueeze(1) if data.dim() == 3 else data.permute(0, 3, 1, 2)
    return x.contiguous(), torch.as_tensor(ds.targets, dtype=torch.long), tuple(ds.classes)


def _online(cls, timeout: float = 2.0) -> bool:
    """Probe the dataset host with a short timeout, so offline machines fail in seconds, not minutes.
    ``ARCHLAB_OFFLINE=1`` skips the probe: never download (tests, air-gapped machines)."""
    if os.environ.get("ARCHLAB_OFFLINE"):
        return False
    urls = [m for m in getattr(cls, "mirrors", [])] or [getattr(cls, "url", "")]
    for url in urls:
        host = urlparse(url).hostname
        if not host:
            continue
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            return True
        except OSError:
            continue
    return False


def _torchvision_dir(name: str, root: Path) -> Path:
    """Where torchvision keeps (or downloads) a set's own files under ``root``."""
    cls = TORCHVISION_SETS[name]
    return root / (f"{cls}/raw" if name in ("mnist", "fashion_mnist") else
                   {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}[name])


def searched_paths(name: str, split: str, root: Path | None = None) -> list[str]:
    """Every place a file-backed set's ``split`` is looked for, in order, each with what it is."""
    root = Path(root) if root is not None else data_root()
    return [f"{root / '.archlab-cache' / f'{name}-{split}.pt'} (decoded cache)",
            f"{root / name / split}/<class>/* (image-folder tree)",
            f"{_torchvision_dir(name, root)} (torchvision's files)"]


def available(name: str, root: Path | None = None) -> bool:
    """True when both splits of ``name`` are on this machine (embedded sets always are); reads no image."""
    if name in EMBEDDED_SETS:
        return True
    root = Path(root) if root is not None else data_root()
    return all((root / ".archlab-cache" / f"{name}-{s}.pt").exists() or (root / name / s).is_dir()
               or _torchvision_dir(name, root).is_dir() for s in SPLITS)


def downloadable(name: str) -> bool:
    """True when the dataset's host answers (a 2 s probe per mirror), so torchvision can download it."""
    import torchvision.datasets as tvd

    return name in TORCHVISION_SETS and _online(getattr(tvd, TORCHVISION_SETS[name]))


WAYS_OUT = ("Ways out:\n"
            "  1. connect to the internet once: the files download into {root} on first use;\n"
            "  2. point ARCHLAB_DATA at a folder holding a copy, or copy one in: make data OFFLINE=/path/to/copies;\n"
            "  3. run on embedded data only: make reproduce PROFILE=smoke")


def missing_message(names, root: Path | None = None, needed_by: dict | None = None) -> str:
    """One message for every missing dataset: what it is needed by, every path searched and the ways out."""
    root = Path(root) if root is not None else data_root()
    lines = []
    for name in names:
        who = f" (needed by {', '.join(needed_by[name])})" if needed_by and name in needed_by else ""
        lines.append(f"dataset {name!r}{who} is not on this machine and cannot be downloaded (offline?). Searched:")
        lines += [f"  {p}" for p in dict.fromkeys(p for split in SPLITS for p in searched_paths(name, split, root))]
    return "\n".join(lines + [WAYS_OUT.format(root=root)])


def _missing_message(name, split, root, folder, cls) -> str:
    return missing_message([name], root)


# ----------------------------------------------------------------------------- embedded sets


@lru_cache(maxsize=4)
def _digits(split: str, test_fraction: float = 0.2, seed: int = 0) -> ArrayDataset:
    """scikit-learn's 8x8 digits (1,797 images, values 0..16) as uint8 (N, 1, 8, 8) in 0..255."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.images * 16.0).clamp_(0, 255).to(torch.uint8).unsqueeze(1)
    y = torch.tensor(d.target, dtype=torch.long)
    idx = _split_index(len(y), test_fraction, seed, split)
    mean = float(x.float().mean() / 255)
    std = float(x.float().std() / 255)
    return ArrayDataset(x[idx], y[idx], 10, (mean,), (std,), "digits", tuple(str(i) for i in range(10)))


@lru_cache(maxsize=8)
def _spirals(split: str, n_per_class: int = 300, turns: float = 1.0, r0: float = 0.5, noise: float = 0.0,
             test_fraction: float = 0.25, seed: int = 0) -> ArrayDataset:
    """Two interleaved spirals (the layer-insertion paper's set): phi = 2*pi*turns*i/N, r = r0 + turns*i/N;
    class 0 at -r(cos phi, sin phi), class 1 at +r(cos phi, sin phi). Split with a seeded randperm."""
    i = torch.arange(n_per_class, dtype=torch.float64)
    phi = 2 * math.pi * turns * i / n_per_class
    r = r0 + turns * i / n_per_class
    arm = torch.stack([r * torch.cos(phi), r * torch.sin(phi)], 1)
    x = torch.cat([-arm, arm]).float()
    if noise:
        x += noise * torch.randn(x.shape, generator=torch.Generator().manual_seed(seed + 1))
    y = torch.cat([torch.zeros(n_per_class), torch.ones(n_per_class)]).long()
    idx = _split_index(len(y), test_fraction, seed, split)
    return ArrayDataset(x[idx], y[idx], 2, (0.0,), (1.0,), "spirals", ("inner", "outer"))


@lru_cache(maxsize=8)
def _synthetic(split: str, shape: tuple = (3, 32, 32), num_classes: int = 10, n_train: int = 512,
               n_test: int = 256, seed: int = 0) -> ArrayDataset:
    """Random uint8 images whose class decides a smooth colour/position pattern plus noise: learnable in a
    few steps, so tests can check that a loss falls, yet not trivially separable pixel by pixel."""
    shape = tuple(shape)
    g = torch.Generator().manual_seed(seed)
    protos = F.interpolate(torch.rand(num_classes, shape[0], 4, 4, generator=g), size=shape[1:], mode="bilinear")
    n = n_train if split == "train" else n_test
    g.manual_seed(seed + (1 if split == "train" else 2))
    y = torch.randint(num_classes, (n,), generator=g)
    x = 0.6 * protos[y] + 0.4 * torch.rand((n, *shape), generator=g)
    x = (x * 255).round().to(torch.uint8)
    return ArrayDataset(x, y, num_classes, (0.5,) * shape[0], (0.25,) * shape[0], "synthetic",
                        tuple(str(c) for c in range(num_classes)))


def _split_index(n: int, test_fraction: float, seed: int, split: str) -> torch.Tensor:
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_test = int(round(n * test_fraction))
    return (perm[n_test:] if split == "train" else perm[:n_test]).sort().values


# ----------------------------------------------------------------------------- device-resident batches


class DeviceLoader:
    """Iterate over an :class:`ArrayDataset` held entirely on ``device``.

    The uint8 tensor moves to the device once; each batch is gathered, converted to float, normalised
    and (when ``augment``) randomly cropped (zero pad 4) and flipped there. Shuffling is a ``randperm``
    on a seeded generator per epoch, so two loaders with the same seed yield identical batches.
    """

    def __init__(self, ds: ArrayDataset, batch_size: int, *, train: bool = True, device="cpu", augment: bool = False,
                 seed: int = 0, drop_last: bool | None = None, channels_last: bool = False,
                 dtype: torch.dtype = torch.float32):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if augment and not ds.is_image:
            raise ValueError(f"augment=True needs image data; {ds.name!r} has samples of shape {ds.sample_shape}")
        self.device = torch.device(device)
        self.x = ds.x.to(self.device, non_blocking=True)
        self.y = ds.y.to(self.device, non_blocking=True)
        self.is_image = ds.is_image
        if self.is_image:
            shape = (1, -1, 1, 1)
            self.mean = torch.tensor(ds.mean, device=self.device).view(shape) * 255
            self.inv_std = 1.0 / (torch.tensor(ds.std, device=self.device).view(shape) * 255)
        self.batch_size = min(batch_size, len(ds))
        self.train, self.augment, self.channels_last, self.dtype = train, augment, channels_last, dtype
        # Training drops the ragged last batch (constant shapes, no tiny noisy steps); evaluation keeps it.
        self.drop_last = train if drop_last is None else drop_last
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.epoch = 0

    def __len__(self) -> int:
        n = len(self.y)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        n = len(self.y)
        order = torch.randperm(n, device=self.device, generator=self.generator) if self.train else None
        self.epoch += 1
        for b in range(len(self)):
            sl = slice(b * self.batch_size, min((b + 1) * self.batch_size, n))
            idx = order[sl] if order is not None else sl
            yield self.transform(self.x[idx]), self.y[idx]

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        if not self.is_image:
            return x.to(self.dtype)
        x = (x.to(self.dtype) - self.mean) * self.inv_std
        if self.augment:
            x = random_crop_flip(x, pad=4, generator=self.generator)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x


def random_crop_flip(x: torch.Tensor, pad: int = 4, generator: torch.Generator | None = None) -> torch.Tensor:
    """Per-sample random crop from a zero-padded batch plus random horizontal flip, all on x's device.

    The batch is already normalised, so zero padding fills with the mean colour rather than black:
    padded pixels stay neutral, the choice of the fast CIFAR-10 training recipes.
    """
    b, _, h, w = x.shape
    xp = F.pad(x, (pad, pad, pad, pad))
    dx = torch.randint(0, 2 * pad + 1, (b,), device=x.device, generator=generator)
    dy = torch.randint(0, 2 * pad + 1, (b,), device=x.device, generator=generator)
    rows = (torch.arange(h, device=x.device) + dy[:, None])[:, None, :, None]  # (B, 1, H, 1)
    cols = (torch.arange(w, device=x.device) + dx[:, None])[:, None, None, :]  # (B, 1, 1, W)
    bi = torch.arange(b, device=x.device)[:, None, None, None]
    ci = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    out = xp[bi, ci, rows, cols]
    flip = torch.rand(b, device=x.device, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], out.flip(3), out)
