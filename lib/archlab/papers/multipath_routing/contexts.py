"""Paper 3, experiment E6 (claim C8, CAMNet): one multi-path net serving two contexts at once.

Design (docs/papers/multipath_routing.md, E6): CIFAR-10 and colour-inverted CIFAR-10 mixed into one 10-way task.

- Each image of the (sub)set appears once, either as-is (domain 0) or colour-inverted (domain 1); exactly half of
  every class is inverted (an odd class count leaves one more as-is), chosen by a seeded permutation that is the
  same for every arm and seed. Domain is therefore independent of class, so MI(domain; routing) cannot be class
  information in disguise, and a mixture accuracy is the mean of the two domains' accuracies.
- Inversion is 1 - x on [0, 1] pixels, i.e. 255 - x on the stored uint8 images, so it happens *before*
  normalisation (DeviceLoader normalises per batch with the dataset's mean/std). The mixture is normalised with its
  own statistics, derived exactly from the source set's: a 50/50 mix of x and 1 - x has mean 1/2 and variance
  s^2 + (m - 1/2)^2 per channel. That keeps both contexts equally far from zero, and the zero padding of the crop
  augmentation (the mean colour) the same mid-grey in both, so padding carries no domain cue.
- The labels stay the 10 classes; the domain is never given to the model. It is kept beside the test set, in
  sample order, for the per-domain accuracy and MI(domain; routing edges) with its permutation null.

The arms, builders, seeds and schedule are E1's (``grid.run_configs`` adds them with the dataset name
``<base>+inverted``, so every per-dataset filter keeps them apart from E1-E5), plus (gpu/paper) E4's frozen-router
control as a reported reference: a random gate is input-dependent too, and inversion changes the GAP features it reads.
C8's criterion and verdict live in ``claims``.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ...config import ConfigError
from ...data import ArrayDataset, load_splits
from .models import MultiPathNet
from .routing import analyse, per_class_accuracy, predict

SUFFIX = "+inverted"
DOMAINS = ("original", "inverted")
DATA_SEED = 0  # which images are inverted: fixed, so every arm and seed sees the same two-context set


def context_dataset(base: str) -> str:
    """The E6 dataset name built on ``base`` (e.g. ``cifar10+inverted``)."""
    if base.endswith(SUFFIX):
        raise ConfigError(f"dataset {base!r} is already a two-context set; give its base, e.g. {base[:-len(SUFFIX)]!r}")
    return base + SUFFIX


def base_dataset(name: str) -> str:
    """The file-backed (or embedded) set a run's dataset name is built on: ``cifar10+inverted`` -> ``cifar10``."""
    return name[: -len(SUFFIX)] if name.endswith(SUFFIX) else name


def invert(x: torch.Tensor) -> torch.Tensor:
    """Colour inversion of uint8 images: 255 - x, which is 1 - x in [0, 1] pixel space."""
    if x.dtype != torch.uint8:
        raise ConfigError(f"invert expects uint8 images (0..255), got dtype {x.dtype}; valid: torch.uint8")
    return 255 - x


def mixture_stats(mean, std) -> tuple[tuple, tuple]:
    """Per-channel mean and std of a 50/50 mix of images with stats (mean, std) and their inversions."""
    return tuple(0.5 for _ in mean), tuple(math.sqrt(s * s + (m - 0.5) ** 2) for m, s in zip(mean, std))


def two_contexts(ds: ArrayDataset, seed: int = DATA_SEED) -> tuple[ArrayDataset, torch.Tensor]:
    """``ds`` with half of every class colour-inverted, and the domain of each sample (0 as-is, 1 inverted)."""
    if not ds.is_image or ds.x.dtype != torch.uint8:
        raise ConfigError(f"two_contexts needs uint8 images; {ds.name!r} has {ds.x.dtype} samples of shape "
                          f"{ds.sample_shape}; valid: image sets such as cifar10, cifar100, synthetic")
    order = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))
    domain = torch.zeros(len(ds), dtype=torch.long)
    for c in ds.y.unique():
        members = order[ds.y[order] == c]  # this class's samples in shuffled order
        domain[members[: len(members) // 2]] = 1
    x = torch.where(domain.bool()[:, None, None, None], invert(ds.x), ds.x)
    mean, std = mixture_stats(ds.mean, ds.std)
    return ArrayDataset(x, ds.y, ds.num_classes, mean, std, ds.name + SUFFIX, ds.classes), domain


def load_run_splits(name: str, train_size: int | None, test_size: int | None):
    """(train, test, test domains or None): a run's data; an E6 name builds the two-context mix of its base set."""
    train, test = load_splits(base_dataset(name), train_size, test_size)
    if not name.endswith(SUFFIX):
        return train, test, None
    (train, _), (test, domain) = two_contexts(train), two_contexts(test)
    return train, test, domain


def analyse_run(model, test: ArrayDataset, domain: torch.Tensor | None, *, device, permutations: int,
                seed: int) -> dict:
    """A trained run's analyses: the routing analyses of a multi-path net (E1-E5), and in E6 (``domain`` given) the
    per-domain accuracy of every arm, with the domain as a second label of the routing analyses (MI(domain; edges)
    and its permutation null per transition, the mean routing per domain, the per-domain ablation drops)."""
    if domain is None:
        if not isinstance(model, MultiPathNet):
            return {}
        return analyse(model, test, device=device, permutations=permutations, seed=seed)
    dom = domain.numpy()
    missing = [name for d, name in enumerate(DOMAINS) if not (dom == d).any()]
    if missing:  # a per-domain analysis without one of the domains measures nothing: fail, never store NaN
        raise ValueError(f"the analysed test images hold no {', '.join(missing)} image; domains present: "
                         f"{sorted(set(dom.tolist()))} of {list(range(len(DOMAINS)))}")
    base = predict(model, test, device=device)
    acc = per_class_accuracy(base["labels"], base["preds"], groups=dom)
    out = {f"acc_{name}": float(acc.get(d, np.nan)) for d, name in enumerate(DOMAINS)}
    if isinstance(model, MultiPathNet):
        out.update(analyse(model, test, device=device, permutations=permutations, seed=seed, base=base,
                           domains=dom))
    return out

