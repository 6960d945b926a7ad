"""Paper 2's claims, each with the criterion it is tested by (declared before any run), and ``verdicts``: the
runs' tables (``analysis``) -> one claims-table row per claim."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...claims import Claim, decide, verdict
from . import PAPER
from .analysis import bin_means, ratio_summary, step_ratios

CLAIMS = [
    Claim("parity", PAPER, "[P] The broad parallel layer has exactly the parameters of the deep stack it truncates.",
          "P(sequential) == P(parallel) for every configuration run."),
    Claim("truncation", PAPER, "[P/D] A residual stack expands like a Taylor series; dropping the terms of order >= 2 "
          "leaves all layers in parallel on one input.",
          "Relative deviation ||seq - par|| / ||seq - h0|| of one body shrinks linearly with the branch weight scale: "
          "log-log slope over scales 1e-3..1e-1 in [0.9, 1.1] for both tanh and relu."),
    Claim("val-close", PAPER, "[P] With the same parameters, the validation losses of the two layouts are close.",
          "Per dataset (MNIST and CIFAR-10 both run), the median validation ratio L_par/L_seq lies in [0.8, 1.25]. "
          "Inconclusive with < 6 pairs per dataset or on the smoke profile."),
    Claim("val-close-high-q", PAPER, "[P, Table 2] For Q >= 3 the validation ratio par/seq lies between 0.98 and 1.10.",
          "Every dataset x Q-bin cell with Q >= 3 and >= 2 pairs has a ratio of bin-mean validation losses in "
          "[0.85, 1.15]. Inconclusive without such cells or on the smoke profile."),
    Claim("shallow-val", PAPER, "[P] Slight advance of the shallow (parallel) layout in validation loss.",
          "Pooled over datasets: geometric-mean validation ratio < 1 and Wilcoxon signed-rank p < 0.05 on log ratio "
          "-> reproduced; > 1 with p < 0.05 -> not reproduced; otherwise (or on smoke) inconclusive."),
    Claim("deep-train", PAPER, "[P] The deep (sequential) layout performs marginally better on the training set.",
          "Ratio of bin-mean training losses par/seq > 1 in more than half of the dataset x Q-bin cells with >= 2 "
          "pairs (paper: 7 of 8). Inconclusive without cells or on smoke."),
    Claim("shallow-gap", PAPER, "[P hypothesis, Table 2] The shallow layout tolerates noise better: a smaller "
          "validation-training gap.",
          "Bin-mean (val - train) gap smaller for parallel in more than half of the dataset x Q-bin cells with >= 2 "
          "pairs (paper: 7 of 8). Inconclusive without cells or on smoke."),
    Claim("cifar-low-q", PAPER, "[P, Table 2] The largest difference is on CIFAR-10 at Q < 1, in favour of parallel on "
          "validation (paper: val ratio 0.65).",
          "The CIFAR-10 Q < 1 cell (>= 2 pairs) has a bin-mean val ratio < 1 and the largest |log val ratio| of all "
          "cells. Inconclusive when that cell is empty or on smoke."),
    Claim("speed", PAPER, "[P, abstract] Replacing the deep stack by the shallow layer could speed up training.",
          "Median over configurations of the time per training step par/seq (each model timed alone with "
          "torch.utils.benchmark, batch 256) < 0.9 -> reproduced, > 1.1 -> not reproduced, else inconclusive. Only "
          "GPU timings count: on the shared CPU machine the verdict is inconclusive."),
]


@dataclass(frozen=True)
class Evidence:
    """What the verdicts read: the pairs (all, and the finished ones), the Table 2 cells with >= 2 pairs, the
    truncation slopes and the step timings, and whether the profile is smoke (plumbing only: no evidence)."""
    pairs: pd.DataFrame
    ok: pd.DataFrame
    cells: pd.DataFrame
    slopes: dict
    steps: pd.DataFrame
    device: str
    smoke: bool

    @property
    def note(self) -> str:
        return " [smoke: plumbing only]" if self.smoke else ""


def verdicts(pairs: pd.DataFrame, slopes: dict, profile: str, device: str, steps: pd.DataFrame) -> list[dict]:
    """One verdict per claim in ``CLAIMS``, each computed from the runs under the criterion declared there."""
    cells = bin_means(pairs)
    e = Evidence(pairs, pairs[pairs.ok], cells[cells.n >= 2], slopes, steps, device, smoke=profile == "smoke")
    return [JUDGES[c.id](c, e) for c in CLAIMS]


def judge_parity(claim: Claim, e: Evidence) -> dict:
    both = e.pairs.dropna(subset=["P_seq", "P_par"])
    same = both.P_seq == both.P_par
    p_range = f", P {both.P_seq.min():,.0f} to {both.P_seq.max():,.0f}" if len(both) else ""
    return verdict(claim, f"{int(same.sum())}/{len(both)} configurations equal{p_range}",
                   decide(bool(same.all()) if len(both) else None))


def judge_truncation(claim: Claim, e: Evidence) -> dict:
    return verdict(claim, "log-log slopes " + ", ".join(f"{a} {s:.3f}" for a, s in e.slopes.items()),
                   decide(all(0.9 <= s <= 1.1 for s in e.slopes.values())))


def judge_val_close(claim: Claim, e: Evidence) -> dict:
    per_ds = {ds: g.r_val for ds, g in e.ok.groupby("dataset")}
    meds = {ds: float(r.median()) for ds, r in per_ds.items()}
    few = any(ds not in per_ds or len(per_ds[ds]) < 6 for ds in ("MNIST", "CIFAR10"))
    measured = "; ".join(f"{ds} median {m:.3f} (n={len(per_ds[ds])})" for ds, m in meds.items())
    dropped = int((~e.pairs.ok).sum())
    return verdict(claim, f"{measured}; {dropped} pairs not finished{e.note}",
                   decide(all(0.8 <= m <= 1.25 for m in meds.values()), e.smoke or few))


def judge_val_close_high_q(claim: Claim, e: Evidence) -> dict:
    hi = e.cells[e.cells.q_bin.isin(["[3,10)", "[10,inf)"])]
    measured = "; ".join(f"{r.dataset} Q{r.q_bin} {r.r_val:.3f} (n={r.n})" for r in hi.itertuples()) or "no cell"
    return verdict(claim, measured + e.note, decide(bool(hi.r_val.between(0.85, 1.15).all()), e.smoke or hi.empty))


def judge_shallow_val(claim: Claim, e: Evidence) -> dict:
    s = ratio_summary(e.ok.r_val.to_numpy(float))
    measured = (f"geomean {s['geomean']:.3f} [{s['geomean_lo']:.3f}, {s['geomean_hi']:.3f}], parallel wins "
                f"{s['share_par_wins']:.0%} of {s['n']}, Wilcoxon p={s['wilcoxon_p']:.3g}{e.note}")
    significant = s["wilcoxon_p"] < 0.05  # False for NaN
    outcome = ("inconclusive" if e.smoke or not significant else
               "reproduced" if s["geomean"] < 1 else "not reproduced")
    return verdict(claim, measured, outcome)


def cell_majority(wins, what: str):
    """The judge of a claim that holds in more than half of the Table 2 cells; ``wins(cells)`` marks where it does."""
    def judge(claim: Claim, e: Evidence) -> dict:
        k, n = int(wins(e.cells).sum()), len(e.cells)
        return verdict(claim, f"{what} in {k}/{n} cells{e.note}", decide(k > n / 2, e.smoke or n == 0))
    return judge


def judge_cifar_low_q(claim: Claim, e: Evidence) -> dict:
    cells = e.cells
    low = cells[(cells.dataset == "CIFAR10") & (cells.q_bin == "[0,1)")]
    if low.empty:
        return verdict(claim, f"no CIFAR-10 Q<1 cell with >= 2 pairs{e.note}", "inconclusive")
    r = float(low.r_val.iloc[0])
    largest = bool(np.isclose(abs(np.log(r)), np.abs(np.log(cells.r_val)).max()))
    return verdict(claim, f"CIFAR-10 Q<1 val ratio {r:.3f} (n={int(low.n.iloc[0])}), "
                   f"largest |log ratio| of all cells: {largest}{e.note}", decide(r < 1 and largest, e.smoke))


def judge_speed(claim: Claim, e: Evidence) -> dict:
    r = step_ratios(e.steps).r_step if len(e.steps) else pd.Series(dtype=float)
    t = float(r.median()) if len(r) else np.nan
    outcome = ("inconclusive" if e.smoke or e.device != "cuda" or not np.isfinite(t) else
               "reproduced" if t < 0.9 else "not reproduced" if t > 1.1 else "inconclusive")
    measured = (f"median time per step par/seq {t:.3f} over {len(r)} architectures on {e.device} (sweep sec/epoch "
                f"par/seq {e.ok.r_time.median():.3f}){e.note}")
    return verdict(claim, measured, outcome)


JUDGES = {"parity": judge_parity, "truncation": judge_truncation, "val-close": judge_val_close,
          "val-close-high-q": judge_val_close_high_q, "shallow-val": judge_shallow_val,
          "deep-train": cell_majority(lambda cells: cells.r_train > 1, "train ratio > 1"),
          "shallow-gap": cell_majority(lambda cells: cells.gap_par < cells.gap_seq, "gap par < seq"),
          "cifar-low-q": judge_cifar_low_q, "speed": judge_speed}
