"""Routing-specialisation analyses for multi-path nets (paper 3; docs/papers/multipath_routing.md) [R].

Everything starts from one evaluation pass (:func:`collect`), which reads the routing weights and per-path
features the model records during its forward, so no analysis needs a second pass over the data (path
ablation aside, which by definition changes the forward).

- per-class heatmaps: the mean routing weight of every edge i -> j per class;
- mutual information between class and routing, I(Y; E) = H(e_bar) - sum_c p(c) H(e_bar_c), where e(x) is the
  sample's weights normalised over all edges; bounded by log(#edges). Soft routing has no discrete "choice", so
  this is a plug-in estimate on mean edge distributions, compared against a label-permutation null
  (labels shuffled, weights kept), which is what makes a small value interpretable;
- routing entropy per sample, normalised to [0, 1] along the axis the router normalises (0: collapsed onto one
  edge, 1: uniform), to see collapse or indifference;
- end-to-end path distribution: the product of row-normalised routing matrices over transitions;
- linear CKA (Kornblith et al. 2019) between the paths' GAP features per stage;
- path ablation: per-class accuracy drop when one path is zeroed at one stage, and its Gini concentration.
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import torch
from scipy.stats import entropy

from ...data import DeviceLoader

ENTROPY_BINS = 20  # histogram bins of the normalised per-sample routing entropy, stored per transition


@torch.no_grad()
def predict(model, ds, *, device="cpu", batch_size: int = 1000, **forward_kwargs) -> dict:
    """One eval pass: labels, predictions, routing per transition (N, m_in, n_out) and path features per stage
    (N, m, C) as numpy arrays (routing entries are None for independent paths)."""
    was_training = model.training
    model.eval().to(device)
    labels, preds, routing, feats = [], [], [], []
    for x, y in DeviceLoader(ds, batch_size, train=False, device=device):
        preds.append(model(x, **forward_kwargs).argmax(1).cpu())
        labels.append(y.cpu())
        routing.append([None if w is None else w.float().cpu() for w in getattr(model, "routing", [])])
        feats.append([f.float().cpu() for f in getattr(model, "path_features", [])])
    model.train(was_training)
    cat = lambda parts: None if parts[0] is None else torch.cat(parts).numpy()  # noqa: E731
    return {"labels": torch.cat(labels).numpy(), "preds": torch.cat(preds).numpy(),
            "routing": [cat(list(t)) for t in zip(*routing)], "features": [cat(list(t)) for t in zip(*feats)]}


def edge_names(m_in: int, n_out: int) -> list[str]:
    return [f"{i}→{j}" for i in range(m_in) for j in range(n_out)]


def class_heatmap(weights: np.ndarray, labels: np.ndarray, classes=None) -> pd.DataFrame:
    """Mean routing weight per class (rows) and edge i->j (columns) for one transition."""
    n, m_in, n_out = weights.shape
    df = pd.DataFrame(weights.reshape(n, -1), columns=edge_names(m_in, n_out))
    out = df.groupby(labels).mean()
    if classes is not None:
        out.index = [classes[i] for i in out.index]
    return out


def edge_distribution(weights: np.ndarray) -> np.ndarray:
    """(N, m_in*n_out): each sample's weights normalised over all edges."""
    e = weights.reshape(len(weights), -1).astype(np.float64)
    return e / e.sum(1, keepdims=True)


def _mi_batch(e: np.ndarray, onehots: np.ndarray) -> np.ndarray:
    """I(Y; E) for a stack of label assignments ``onehots`` (P, N, K); e is (N, E)."""
    counts = onehots.sum(1)  # (P, K)
    class_means = np.einsum("pnk,ne->pke", onehots, e) / np.maximum(counts, 1)[..., None]
    p = counts / counts.sum(1, keepdims=True)
    h_cond = (p * entropy(class_means, axis=2)).sum(1)
    return entropy(e.mean(0)) - h_cond


def routing_mi(weights: np.ndarray, labels: np.ndarray) -> float:
    k = int(labels.max()) + 1
    return float(_mi_batch(edge_distribution(weights), np.eye(k)[labels][None])[0])


def mi_with_null(weights: np.ndarray, labels: np.ndarray, permutations: int = 200, seed: int = 0,
                 chunk: int = 25) -> dict:
    """MI, MI / H(e_bar), and the label-permutation null: its mean, 99th percentile and the permutation p-value
    (1 + #null >= mi) / (1 + permutations)."""
    e = edge_distribution(weights)
    k = int(labels.max()) + 1
    eye = np.eye(k)
    mi = float(_mi_batch(e, eye[labels][None])[0])
    rng = np.random.default_rng(seed)
    null = []
    for start in range(0, permutations, chunk):  # chunks bound the (P, N, K) one-hot stack's memory
        perms = [rng.permutation(labels) for _ in range(min(chunk, permutations - start))]
        null.append(_mi_batch(e, eye[np.stack(perms)]))
    null = np.concatenate(null) if null else np.zeros(0)
    h = float(entropy(e.mean(0)))
    return {"mi": mi, "mi_norm": mi / h if h > 0 else float("nan"), "max_mi": float(np.log(e.shape[1])),
            "null_mean": float(null.mean()) if len(null) else float("nan"),
            "null_q99": float(np.quantile(null, 0.99)) if len(null) else float("nan"),
            "p_value": float((1 + (null >= mi).sum()) / (1 + len(null)))}


def routing_entropy(weights: np.ndarray, axis: int) -> np.ndarray:
    """Per-sample entropy along the normalised ``axis`` (1: sources, 2: destinations), divided by its maximum
    and averaged over the other axis: 0 = collapsed, 1 = uniform. NaN when that axis has a single entry."""
    size = weights.shape[axis]
    if size < 2:
        return np.full(len(weights), np.nan)
    return entropy(weights.astype(np.float64), axis=axis).mean(1) / np.log(size)


def end_to_end(routing: list) -> np.ndarray:
    """(N, m): product of the row-normalised routing matrices over all transitions, i.e. how a sample's input
    (one stem tensor) is distributed over the final paths."""
    path = None
    for w in routing:
        if w is None:
            continue
        rows = w / w.sum(2, keepdims=True)
        path = rows if path is None else path @ rows
    return None if path is None else path[:, 0, :]


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA between two representations (N, D1) and (N, D2) of the same samples."""
    x = x - x.mean(0)
    y = y - y.mean(0)
    num = np.linalg.norm(y.T @ x) ** 2
    den = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
    return float(num / den) if den > 0 else float("nan")


def path_cka(features: np.ndarray) -> float:
    """Mean linear CKA over all pairs of paths for one stage's features (N, m, C); NaN for one path."""
    pairs = list(itertools.combinations(range(features.shape[1]), 2))
    if not pairs:
        return float("nan")
    return float(np.mean([linear_cka(features[:, i], features[:, j]) for i, j in pairs]))


def gini(x) -> float:
    """Gini coefficient of non-negative values: 0 = spread evenly, -> 1 = concentrated on one entry."""
    x = np.sort(np.clip(np.asarray(x, dtype=np.float64), 0, None))
    n = len(x)
    if n == 0 or x.sum() == 0:
        return 0.0
    return float((2 * np.arange(1, n + 1) - n - 1) @ x / (n * x.sum()))


def per_class_accuracy(labels: np.ndarray, preds: np.ndarray, groups: np.ndarray | None = None) -> pd.Series:
    """Accuracy per class, or per any other grouping of the samples (``groups``, e.g. a domain label)."""
    return pd.Series(preds == labels).groupby(labels if groups is None else groups).mean()


def path_ablation(model, ds, *, device="cpu", base: dict | None = None,
                  groups: np.ndarray | None = None) -> pd.DataFrame:
    """Per-class accuracy drop when path j is zeroed at the end of stage s, for every (s, j).

    Columns: stage, path, class, accuracy, drop (intact accuracy - ablated accuracy). With ``groups`` (one label
    per sample, in the set's order) the "class" column holds that grouping instead, e.g. the domain."""
    base = base or predict(model, ds, device=device)
    intact = per_class_accuracy(base["labels"], base["preds"], groups)
    rows = []
    for s in range(len(model.stages)):
        for j in range(model.paths):
            out = predict(model, ds, device=device, ablate=(s, j))
            acc = per_class_accuracy(out["labels"], out["preds"], groups)
            rows += [{"stage": s, "path": j, "class": int(c), "accuracy": float(acc[c]),
                      "drop": float(intact[c] - acc[c])} for c in intact.index]
    return pd.DataFrame(rows)


def ablation_concentration(ablation: pd.DataFrame) -> pd.DataFrame:
    """Gini of each (stage, path)'s per-class drops: how class-specific removing that path is."""
    return ablation.groupby(["stage", "path"])["drop"].apply(gini).rename("gini").reset_index()


def analyse(model, test, *, device, permutations: int, seed: int, base: dict | None = None,
            domains: np.ndarray | None = None) -> dict:
    """Every analysis above on one trained multi-path net, as JSON-ready lists (stored with the run, so figures
    re-render without the model) plus the scalars the verdicts use.

    ``base``: a :func:`predict` pass already made on ``test``. ``domains`` (one label per test sample, e.g. as-is vs
    colour-inverted): the same MI test with the domain in place of the class (``domain_*`` keys per transition),
    the mean routing per domain, and the per-domain ablation drops."""
    base = base or predict(model, test, device=device)
    labels = base["labels"]
    transitions = []
    for t, (w, layer) in enumerate(zip(base["routing"], model.transitions())):
        row = {"transition": t, "m_in": layer.m_in, "n_out": layer.n_out, "axis": layer.weights_axis}
        if w is not None:
            ent = routing_entropy(w, layer.weights_axis)
            row["heatmap"] = class_heatmap(w, labels).to_numpy().tolist()
            row["entropy_mean"] = float(np.nanmean(ent)) if np.isfinite(ent).any() else float("nan")
            row["entropy_hist"] = np.histogram(ent[np.isfinite(ent)], ENTROPY_BINS, (0, 1))[0].tolist()
            if domains is not None:
                row["domain_heatmap"] = class_heatmap(w, domains).to_numpy().tolist()
            if layer.m_in > 1:  # the 1 -> m step has one source: left out of the specialisation statistics
                row.update(mi_with_null(w, labels, permutations, seed))
                if domains is not None:
                    row.update({f"domain_{k}": v for k, v in mi_with_null(w, domains, permutations, seed).items()})
        transitions.append(row)
    out = {"transitions": transitions, "cka": [path_cka(f) for f in base["features"]]}
    e2e = end_to_end(base["routing"])
    if e2e is not None:
        out["end_to_end"] = class_heatmap(e2e[:, None, :], labels).to_numpy().tolist()
    if model.paths > 1:
        abl = path_ablation(model, test, device=device, base=base)
        out["ablation"] = abl.to_dict("records")
        out["gini_mean"] = float(ablation_concentration(abl)["gini"].mean())
        if domains is not None:
            out["domain_ablation"] = path_ablation(model, test, device=device, base=base, groups=domains).rename(
                columns={"class": "domain"}).to_dict("records")
    last, nan = transitions[-1], float("nan")
    scored = [t for t in transitions if "mi" in t]  # the transitions between paths (1 -> m step excluded)
    scalars = {"cka_last": out["cka"][-1], "gini_mean": out.get("gini_mean", nan),
               "mi_last": last.get("mi", nan), "mi_norm_last": last.get("mi_norm", nan),
               "mi_norm_first": scored[0]["mi_norm"] if scored else nan,
               "mi_last_q99": last.get("null_q99", nan), "mi_last_p": last.get("p_value", nan),
               "entropy_last": last.get("entropy_mean", nan)}
    if domains is not None:  # the strongest transition: the C8 test asks for domain information at any depth
        dom = [t for t in transitions if "domain_mi" in t]
        scalars["domain_mi_max"] = max((t["domain_mi"] for t in dom), default=float("nan"))
        scalars["domain_mi_min_p"] = min((t["domain_p_value"] for t in dom), default=float("nan"))
        scalars["domain_mi_norm_max"] = max((t["domain_mi_norm"] for t in dom), default=float("nan"))
    return {"analysis": out, **scalars}
