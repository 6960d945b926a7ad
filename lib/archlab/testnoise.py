"""Test-set noise vs seed noise: each run's per-example correctness, stored compactly, and the split of a paired
accuracy difference's spread into the part the finite test set explains and the part the seeds do.

Why: a claim judged on test accuracy is decided by the spread of its paired per-seed differences. That spread has two
sources: which test images were drawn (shrinks with more test images, costs an evaluation pass) and which seed trained
the nets (shrinks only with more seeds, costs a run each). Which one dominates decides where a budget goes.

For seeds s = 1..S, arms A and B evaluated on the same n test images, c_{A,s,i} in {0, 1}:

    d_s = mean_i(c_{A,s,i} - c_{B,s,i})                     # the paired difference of accuracies
    Var_seeds(d_s) = sigma2_seed + sigma2_test              # observed spread across seeds
    sigma2_test ~= mean_s var_i(c_{A,s,i} - c_{B,s,i}) / n  # the sampling variance of a mean over n images

so ``sigma2_seed = max(Var(d) - sigma2_test, 0)`` (a method-of-moments split, as in one-way random effects).
Projection: with n' test images the spread becomes ``sigma2_seed + sigma2_test * n / n'``.
"""
from __future__ import annotations

import base64
import math

import numpy as np
import torch

__all__ = ["correct_vector", "correct_bits", "unpack", "accuracy", "split", "bits_by_seed", "paired_split",
           "projected_sd", "table"]


@torch.no_grad()
def correct_vector(model: torch.nn.Module, data, *, device=None, dtype=None, batch_size: int = 1024) -> np.ndarray:
    """bool[n]: whether ``model`` classifies each example of ``data`` (an ArrayDataset, in order) correctly."""
    from .data import DeviceLoader
    from .train import is_conv_net, resolve_device

    device = resolve_device(device)
    first = next(iter(model.parameters()), None)
    fdt = torch.float64 if first is not None and first.dtype == torch.float64 else torch.float32
    loader = DeviceLoader(data, batch_size, train=False, device=device, dtype=fdt,
                          channels_last=device.type == "cuda" and is_conv_net(model))
    was_training = model.training
    model.eval()
    out = []
    for x, y in loader:
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            out.append((model(x).argmax(1) == y).cpu())
    model.train(was_training)
    return torch.cat(out).numpy() if out else np.zeros(0, bool)


def correct_bits(model: torch.nn.Module, data, **kwargs) -> str:
    """:func:`correct_vector` packed 8 examples per byte as base64 text: JSON-friendly, 1,668 characters for 10,000
    test images. Read back with :func:`unpack`."""
    return base64.b64encode(np.packbits(correct_vector(model, data, **kwargs)).tobytes()).decode("ascii")


def unpack(bits: str, n: int) -> np.ndarray:
    """bool[n] from :func:`correct_bits` text (``n``: the number of test examples, which packing rounds up to 8)."""
    raw = np.frombuffer(base64.b64decode(bits), dtype=np.uint8)
    if len(raw) * 8 < n:
        raise ValueError(f"correctness bits hold {len(raw) * 8} examples, fewer than n={n}")
    return np.unpackbits(raw)[:n].astype(bool)


def accuracy(bits: str, n: int) -> float:
    return float(unpack(bits, n).mean())


def _matrix(runs, n: int) -> np.ndarray:
    return np.stack([unpack(b, n) if isinstance(b, str) else np.asarray(b, bool)[:n] for b in runs]).astype(float)


def split(a, b=None, *, n: int) -> dict:
    """The spread of per-seed test accuracies (``b`` None) or paired differences A - B (``a[s]`` and ``b[s]`` the same
    seed) split into test-sampling and seed parts; each entry of ``a``/``b`` is :func:`correct_bits` text or a bool
    vector over the same ``n`` test examples. Standard deviations in accuracy points (0-1 scale)."""
    if b is not None and len(b) != len(a):
        raise ValueError(f"paired split needs as many B runs as A runs, got {len(a)} and {len(b)}")
    A = _matrix(a, n)
    D = A - _matrix(b, n) if b is not None else A
    seeds = len(D)
    per_seed = D.mean(1)
    total = float(per_seed.var(ddof=1)) if seeds > 1 else math.nan
    test = float((D.var(axis=1, ddof=1) / n).mean())
    seed = max(total - test, 0.0) if seeds > 1 else math.nan
    return {"seeds": seeds, "n_test": n, "effect": float(per_seed.mean()), "sd_total": math.sqrt(total),
            "sd_test": math.sqrt(test), "sd_seed": math.sqrt(seed),
            "test_share": min(test / total, 1.0) if total > 0 else math.nan}


def bits_by_seed(runs, bits: str = "test_bits", n_test: str | int = "n_test") -> dict:
    """``seed -> (test bits, n_test)`` of one arm's runs (a run table with ``seed`` and ``result`` columns), read from
    each result's ``bits`` key (the :func:`correct_bits` text) and its ``n_test`` key, or one test size for every run
    when ``n_test`` is a number; runs without stored bits are left out."""
    if "result" not in runs:
        return {}
    out = {}
    for s, r in zip(runs["seed"], runs["result"]):
        r = r if isinstance(r, dict) else {}
        n = r.get(n_test) if isinstance(n_test, str) else n_test
        if r.get(bits) and n:
            out[int(s)] = (r[bits], int(n))
    return out


def paired_split(a: dict, b: dict) -> dict | None:
    """:func:`split` of the paired differences A - B over the seeds both arms have (``a``/``b``:
    :func:`bits_by_seed`), or None with fewer than two such seeds or test sets of different sizes."""
    seeds = sorted(set(a) & set(b))
    sizes = {a[s][1] for s in seeds} | {b[s][1] for s in seeds}
    if len(seeds) < 2 or len(sizes) != 1:
        return None
    return split([a[s][0] for s in seeds], [b[s][0] for s in seeds], n=sizes.pop())


def projected_sd(row: dict, n_test: int) -> float:
    """The per-seed spread a :func:`split` row would have with ``n_test`` test images instead of its own."""
    return math.sqrt(row["sd_seed"] ** 2 + row["sd_test"] ** 2 * row["n_test"] / n_test)


def table(splits: dict, *, full_test: int = 10_000):
    """One row per claim id (``splits``: id -> :func:`split` row): both parts of the spread in accuracy points, the
    share test sampling explains, and the spread projected to ``full_test`` images (where more test images help)."""
    import pandas as pd

    rows = [{"claim": cid, **{k: (100 * v if k.startswith("sd_") or k == "effect" else v) for k, v in r.items()},
             f"sd_at_{full_test}": 100 * projected_sd(r, full_test)} for cid, r in splits.items()]
    return pd.DataFrame(rows)
