"""Paper 2's claims, declared before any run, and ``verdicts``: the runs' pairs (``analysis``) -> one claims-table
row per claim, judged by the harness's outcome rules (``archlab.outcomes``).

Effects are per seed: within one seed, the mean over that seed's configurations of a paired log-ratio of the two
layouts (positive: as claimed), so the seeds are the replicates and the interval says how much a fresh set of
initialisations could move the result. Every trained claim requires the regime it is about (the pairs finished;
the fixed step budget fitted the low-Q training sets, as the paper's runs do); a claim whose regime is not reached
is "out of regime" with the measured value, and one without any finished pair is "not run" with the reason. Ids
C1..C9; the slugs of earlier result files are kept in brackets in each text. The rules, thresholds and their
sources are written up in docs/papers/deep_vs_shallow.md.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ...claims import Claim
from ...outcomes import Regime, combine, directional, equivalence, exact, judge, not_run, ratio_margin
from . import PAPER
from .analysis import LOW_Q, bin_means, per_seed, regime_values, step_ratios

NOTE = "docs/papers/deep_vs_shallow.md"
ANY = f"chosen: the paper states no size, so any advantage counts ({NOTE})"
COMPLETE = Regime("pairs complete", "share of configurations with both layouts finished", ">=", 0.9)
FITTED = Regime("low-Q fitted", "train/val loss ratio of the Q < 1 runs (per dataset and layout)", "<", 0.5,
                over="median")
OVERFIT = Regime("over-fitting present", "mean val - train loss gap of the Q < 3 runs", ">", 0.05, unit="nats",
                 over="median")
CIFAR_OVERFIT = Regime("CIFAR-10 over-fitting", "mean val - train loss gap of the CIFAR-10 Q < 1 runs", ">", 0.3,
                       unit="nats", over="median")
TRAINED = (COMPLETE, FITTED)
REGIME_SOURCE = ("regimes chosen: a comparison needs both layouts of a configuration (90% of pairs), and the "
                 "paper's low-Q runs nearly memorise their training sets (Table 2: Q < 1 train/val ratio 0.002 on "
                 "MNIST, 0.12-0.40 on CIFAR-10), so a step budget that leaves the training loss above half the "
                 "validation loss there is not the paper's regime")
SPEED_MIN = math.log(1 / 0.9)  # a 10% faster step


def _c(i, slug, text, criterion, **kw) -> Claim:
    return Claim(f"C{i}", PAPER, f"{text} [{slug}]", criterion, **kw)


CLAIMS = [
    _c(1, "parity", "[P] The broad parallel layer has exactly the parameters of the deep stack it truncates.",
       "exact: P(sequential) == P(parallel) for every configuration run", kind="exact",
       source="the construction: both layouts compose the same Conv(F -> L*F) (models.py)"),
    _c(2, "truncation", "[P/D] A residual stack expands like a Taylor series; dropping the terms of order >= 2 "
       "leaves all layers in parallel on one input.",
       "exact: the log-log slope of ||seq - par|| / ||seq - h0|| against the branch weight scale over 1e-3..1e-1 "
       "lies in [0.9, 1.1] for both tanh and relu", kind="exact",
       source="derived: the dropped terms are of order s^2 against the kept s, so the relative deviation is "
       "linear in s up to a relative correction of order s <= 0.1 (the bound)"),
    _c(3, "val-close", "[P] With the same parameters, the validation losses of the two layouts are close.",
       "per dataset (MNIST, CIFAR-10), per seed mean over configurations of log(val par / val seq); 90% interval "
       "inside log(0.8)..log(1.25); the weaker dataset decides", kind="equivalence", unit="log-ratio",
       margin=ratio_margin(0.8, 1.25), requires=TRAINED,
       source="chosen: the narrowest band symmetric in log that holds the paper's own cells for Q >= 1 (0.92 to "
       f"1.10, Table 2); {REGIME_SOURCE}"),
    _c(4, "val-close-high-q", "[P, Table 2] For Q >= 3 the validation ratio par/seq lies between 0.98 and 1.10.",
       "per dataset, per seed mean over the Q >= 3 configurations of log(val par / val seq); 90% interval inside "
       "log(0.98)..log(1.10); the weaker dataset decides", kind="equivalence", unit="log-ratio",
       margin=ratio_margin(0.98, 1.10), requires=TRAINED,
       source=f"the paper's Table 2: Q >= 3 ratios 0.976-1.100 (MNIST) and 0.996-1.021 (CIFAR-10); {REGIME_SOURCE}"),
    _c(5, "shallow-val", "[P] Slight advance of the shallow (parallel) layout in validation loss.",
       "pooled over datasets, per seed mean over configurations of log(val seq / val par); 95% interval above 0",
       unit="log-ratio", requires=TRAINED, source=f"{ANY}; {REGIME_SOURCE}"),
    _c(6, "deep-train", "[P] The deep (sequential) layout performs marginally better on the training set.",
       "pooled over datasets, per seed mean over configurations of log(train par / train seq); 95% interval above 0",
       unit="log-ratio", requires=TRAINED, source=f"{ANY}; {REGIME_SOURCE}"),
    _c(7, "shallow-gap", "[P hypothesis, Table 2] The shallow layout tolerates noise better: a smaller "
       "validation-training gap where the models can over-fit (Q < 3).",
       "pooled over datasets, per seed mean over the Q < 3 configurations of gap seq - gap par (gap = val - train "
       "loss); 95% interval above 0", unit="nats", requires=TRAINED + (OVERFIT,),
       source=f"{ANY}; over-fitting chosen at 0.05 nats, about the paper's smallest low-Q gap (MNIST Q < 1: 0.052 "
       f"sequential, Table 2): without a gap there is no noise to tolerate; {REGIME_SOURCE}"),
    _c(8, "cifar-low-q", "[P, Table 2] The largest difference is on CIFAR-10 at Q < 1, in favour of parallel on "
       "validation (paper: val ratio 0.65).",
       "two parts, the weaker decides: (a) per seed mean over the CIFAR-10 Q < 1 configurations of log(val seq / "
       "val par), 95% interval above 0; (b) exact: that cell's |log ratio of bin means| is the largest of all "
       "cells", unit="log-ratio", requires=TRAINED + (CIFAR_OVERFIT,),
       source=f"{ANY}; over-fitting chosen at 0.3 nats, a sixth of the paper's 1.78 in that cell (Table 2), the "
       f"over-fitting the parallel layout is said to resist; {REGIME_SOURCE}"),
    _c(9, "speed", "[P, abstract] Replacing the deep stack by the shallow layer could speed up training "
       "(judged on the device the notebook ran on, named in the row).",
       "per architecture log(ms per training step seq / par), each model timed alone (torch.utils.benchmark, "
       "batch 256); 95% interval above log(1/0.9)", unit="log-ratio", min_effect=SPEED_MIN,
       source="chosen: a speed-up under 10% would not change how one trains; the paper states no size"),
]
BY_ID = {c.id: c for c in CLAIMS}


def verdicts(pairs: pd.DataFrame, slopes: dict, profile: str, device: str, steps: pd.DataFrame) -> list[dict]:
    """One claims-table row per claim in ``CLAIMS``, each computed from the runs under the rule declared there.

    ``pairs`` is ``analysis.pair_runs`` (failed runs keep their rows); with no finished pair every trained claim is
    "not run" with the runs' statuses as the reason, so a notebook whose experiment failed still writes its table."""
    ok = pairs[pairs.ok] if "ok" in pairs else pairs.iloc[:0]
    values = regime_values(pairs)
    rows = [_parity(BY_ID["C1"], pairs, profile), _truncation(BY_ID["C2"], slopes, profile)]
    for cid, rule in TRAINED_RULES.items():
        c = BY_ID[cid]
        regimes = {r.name: values[r.name] for r in c.requires}
        if ok.empty:
            reason = "no finished pair of layouts: " + _statuses(pairs)
            rows.append(judge(c, not_run(reason, kind=c.kind), {r.name: None for r in c.requires}, profile=profile))
            continue
        outcome, measured = rule(c, ok)
        rows.append(judge(c, outcome, regimes, measured=measured, profile=profile))
    rows.append(_speed(BY_ID["C9"], steps, device, profile))
    return rows


def _statuses(pairs: pd.DataFrame) -> str:
    if pairs.empty or "pair_status" not in pairs:
        return "no runs"
    return ", ".join(f"{k}: {v}" for k, v in pairs.pair_status.value_counts().items())


def _parity(c: Claim, pairs: pd.DataFrame, profile) -> dict:
    both = pairs.dropna(subset=["P_seq", "P_par"]) if len(pairs) else pairs
    if both.empty:
        return judge(c, not_run("no configuration with both layouts built", kind="exact"), profile=profile)
    same = both.P_seq == both.P_par
    text = f"{int(same.sum())}/{len(both)} configurations equal, P {both.P_seq.min():,.0f} to {both.P_seq.max():,.0f}"
    return judge(c, exact(c, bool(same.all()), text), profile=profile)


def _truncation(c: Claim, slopes: dict, profile) -> dict:
    text = "log-log slopes " + ", ".join(f"{a} {s:.3f}" for a, s in slopes.items())
    ok = bool(slopes) and all(0.9 <= s <= 1.1 for s in slopes.values())
    return judge(c, exact(c, ok if slopes else None, text), profile=profile)


def _per_dataset(c: Claim, ok: pd.DataFrame, rows) -> tuple:
    """Equivalence per dataset on the per-seed mean log val ratio, the weaker dataset deciding (C3, C4)."""
    parts, texts = {}, []
    for ds in ("MNIST", "CIFAR10"):
        sub = ok[(ok.dataset == ds) & rows(ok)]
        if sub.empty:
            parts[ds] = not_run(f"no {ds} configuration in range", kind="equivalence")
            continue
        r = per_seed(sub, np.log(sub.val_loss_par / sub.val_loss_seq))
        parts[ds] = equivalence(c, r.to_numpy(), 0.0)
        texts.append(f"{ds} ratio {math.exp(r.mean()):.3f} over {len(sub)} pairs")
    return combine(parts), "; ".join(texts)


def _val_close(c, ok):
    return _per_dataset(c, ok, lambda df: pd.Series(True, index=df.index))


def _val_close_high_q(c, ok):
    return _per_dataset(c, ok, lambda df: df.Q >= 3)


def _pooled(num: str, den: str, split: str):
    """Directional on per seed mean log(``split`` loss num / den), pooled over datasets (C5, C6)."""
    def rule(c, ok):
        r = per_seed(ok, np.log(ok[f"{split}_loss_{num}"] / ok[f"{split}_loss_{den}"]))
        wins = int((ok[f"{split}_loss_{den}"] < ok[f"{split}_loss_{num}"]).sum())
        return directional(c, r.to_numpy(), 0.0), f"{den} lower in {wins}/{len(ok)} pairs"
    return rule


def _shallow_gap(c, ok):
    low = ok[ok.Q < LOW_Q]
    if low.empty:
        return not_run("no Q < 3 configuration", kind=c.kind), ""
    d = per_seed(low, low.gap_seq - low.gap_par)
    return directional(c, d.to_numpy(), 0.0), (f"mean gap seq {low.gap_seq.mean():.3f}, par {low.gap_par.mean():.3f} "
                                              f"nats over {len(low)} Q < 3 pairs")


def _cifar_low_q(c, ok):
    low = ok[(ok.dataset == "CIFAR10") & (ok.Q < 1)]
    if low.empty:
        return not_run("no CIFAR-10 Q < 1 configuration", kind=c.kind), ""
    r = per_seed(low, np.log(low.val_loss_seq / low.val_loss_par))
    cells = bin_means(ok)
    cells = cells[cells.n >= 2]
    mine = cells[(cells.dataset == "CIFAR10") & (cells.q_bin == "[0,1)")]
    logs = np.abs(np.log(cells.r_val.to_numpy(float)))
    largest = bool(len(mine)) and bool(np.abs(np.log(float(mine.r_val.iloc[0]))) >= logs.max())
    text = (f"CIFAR-10 Q < 1 val ratio of bin means {float(mine.r_val.iloc[0]) if len(mine) else math.nan:.3f}, "
            f"largest |log ratio| of {len(cells)} cells: {largest}")
    return combine({"(a) parallel lower": directional(c, r.to_numpy(), 0.0),
                    "(b) largest cell": exact(None, largest if len(mine) else None, text)}), text


def _speed(c: Claim, steps: pd.DataFrame, device: str, profile) -> dict:
    if steps is None or steps.empty:
        return judge(c, not_run(f"no step timings on {device}"), profile=profile)
    w = step_ratios(steps)
    r = np.log(w.ms_seq / w.ms_par).to_numpy(float)
    text = (f"on {device}: median time per step par/seq {float(np.median(w.r_step)):.3f} over {len(w)} "
            "architectures")
    return judge(c, directional(c, r, 0.0), measured=text, profile=profile)


TRAINED_RULES = {"C3": _val_close, "C4": _val_close_high_q, "C5": _pooled("seq", "par", "val"),
                 "C6": _pooled("par", "seq", "train"), "C7": _shallow_gap, "C8": _cifar_low_q}
