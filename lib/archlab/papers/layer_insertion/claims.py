"""Paper 4's claims, fixed before any run, and the verdicts computed from the stored runs.

Each claim comes with the rule ``rule_outcome`` applies to it. "wins": per seed, SensLI's value < the baseline's;
reproduced if the fraction of wins >= frac and the one-sided sign test p < 0.05, not reproduced if the fraction
<= 1/2, inconclusive otherwise.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...claims import Claim, verdict
from ...stats import fmt_mean_std
from . import PAPER
from .analysis import cost_table, early_table, paired, runs_frame, win_stats

_WIN = "reproduced if SensLI is lower in >= {:.0%} of seeds and a one-sided sign test gives p < 0.05; " \
       "not reproduced if it is lower in <= 50% of seeds; inconclusive otherwise"
_COST = ("Per seed: target = the higher of the two runs' lowest logged training loss (so both reach it); exact "
         "cumulative FLOPs (sensitivity pass included) until each run first reaches it. Reproduced if SensLI needs "
         "fewer FLOPs in >= 2/3 of seeds and the median FLOP ratio SensLI/large < 1; not reproduced if it needs "
         "fewer in <= 1/2 of seeds; inconclusive otherwise or with fewer than 3 seeds")
_EARLY = ("Validity study, FNN [4, 4] and res2 [3, 3, 3] pooled, seeds where the {0} position differs from "
          "SensLI's: training loss {1} steps after insertion lower for SensLI in >= 2/3 of them with a one-sided "
          "sign test p < 0.05 -> reproduced; lower in <= 1/2 -> not reproduced; otherwise, or with fewer than 5 "
          "differing seeds, inconclusive")
_ALL = ("Final training loss (whole training set) lower for SensLI than for the small net in every seed (>= 3 "
        "seeds) -> reproduced; mean not lower -> not reproduced; otherwise inconclusive")
_DECLARED = [
    (Claim("fnn_vs_small", PAPER, "[A] Inserting a layer by sensitivity (SensLI) trains faster than keeping the small "
           "fixed architecture: lower training loss at the same step (spirals, FNN [5], GD).",
           "Final training loss, SensLI vs FNN1 (same init): " + _WIN.format(0.9)),
     dict(kind="wins", study="fnn", base="small", metric="final_loss", frac=0.9)),
    (Claim("resnet_vs_small", PAPER, "[A] SensLI trains faster than the small fixed ResNet (spirals, res2 [3, 3], GD).",
           "Final training loss, SensLI vs ResNet1 (same init): " + _WIN.format(0.8)),
     dict(kind="wins", study="resnet", base="small", metric="final_loss", frac=0.8)),
    (Claim("fnn_test_error", PAPER, "[A] SensLI gives a lower test error than the small fixed architecture (spirals FNN).",
           "Test error after training, SensLI vs FNN1: " + _WIN.format(0.75) + " (seeds with equal error are ties)"),
     dict(kind="wins", study="fnn", base="small", metric="test_err", frac=0.75)),
    (Claim("fnn_cost_vs_large", PAPER, "[A] SensLI needs less computation than training the large architecture "
           "(FNN [5, 5]) from scratch to reach the same training loss.", _COST),
     dict(kind="cost", study="fnn", base="large")),
    (Claim("resnet_cost_vs_large", PAPER, "[A] SensLI needs less computation than training the large ResNet from "
           "scratch to reach the same loss (res2 [3, 3, 3], LI's final shape; the as-coded 4-layer net is shown).",
           _COST), dict(kind="cost", study="resnet", base="large")),
    (Claim("sensli_vs_random", PAPER, "[A/R] The most sensitive position beats a randomly chosen one shortly after "
           "insertion (a first-order check; the spec promises no final-loss advantage).", _EARLY.format("random", 25)),
     dict(kind="early", study="validity", base="random", k=25)),
    (Claim("sensli_vs_min", PAPER, "[C/R] The most sensitive position beats the least sensitive one (the authors' "
           "LIother) shortly after insertion.", _EARLY.format("least sensitive", 25)),
     dict(kind="early", study="validity", base="min", k=25)),
    (Claim("when_vs_small", PAPER, "[R] SensLI beats the small net for most insertion times (spec E4).",
           "Final training loss over all (seed, insertion time) pairs vs FNN1: " + _WIN.format(0.75)),
     dict(kind="wins", study="when", base="small", metric="final_loss", frac=0.75)),
    (Claim("minibatch_vs_small", PAPER, "[A] With minibatch SGD (batch 45) SensLI also trains faster than the small "
           "FNN [5] (spec E5a).", "Final training loss vs FNN1: " + _WIN.format(0.8)),
     dict(kind="wins", study="minibatch", base="small", metric="final_loss", frac=0.8)),
    (Claim("mnist_vs_small", PAPER, "[R] On MNIST a growing FNN trains faster than the small fixed FNN.", _ALL),
     dict(kind="all", study="mnist", base="small")),
    (Claim("cifar10_vs_small", PAPER, "[R] On CIFAR-10 a growing residual MLP trains faster than the small fixed one.",
           _ALL), dict(kind="all", study="cifar10", base="small")),
    (Claim("mnist_cost_vs_large", PAPER, "[R] On MNIST SensLI reaches the large FNN's loss level with fewer FLOPs.",
           _COST), dict(kind="cost", study="mnist", base="large")),
    (Claim("cifar10_cost_vs_large", PAPER, "[R] On CIFAR-10 SensLI reaches the large residual MLP's loss level with "
           "fewer FLOPs.", _COST), dict(kind="cost", study="cifar10", base="large")),
]

# ----------------------------------------------------------------------------- the CNN study (E5b)
_INCONCLUSIVE = "inconclusive otherwise, with fewer than 3 seeds or on the smoke profile"
_ACC = ("Final test accuracy (after the last epoch), SensLI vs the small VGG from the same init, per seed: reproduced "
        "if SensLI >= small in >= 2/3 of seeds; not reproduced if in <= 1/2 of seeds; " + _INCONCLUSIVE
        + " (no sign test: with 3 seeds its smallest p is 0.125)")
_CNN_COST = ("Per seed: target = the lower of the two runs' best per-epoch test accuracy (so both reach it); exact "
             "cumulative training FLOPs (sensitivity pass included) until each run's per-epoch evaluation first "
             "reaches it. Reproduced if SensLI needs fewer FLOPs in >= 2/3 of seeds and the median FLOP ratio "
             "SensLI/big < 1; not reproduced if it needs fewer in <= 1/2 of seeds; " + _INCONCLUSIVE)
CNN_DECLARED = [  # fixed before any cnn run
    (Claim("cnn_vs_small", PAPER, "[A/R] CNN (v2, spec E5b): a VGG grown by one Dirac-initialised conv at the most "
           "op22-sensitive position reaches at least the small fixed VGG's test accuracy after the same epochs.", _ACC),
     dict(kind="cnn_acc", study="cnn", base="small")),
    (Claim("cnn_cost_vs_big", PAPER, "[A/R] CNN (v2, spec E5b): SensLI reaches the big VGG's accuracy level (second "
           "conv in stage 0 from the start, fresh init) with fewer FLOPs.", _CNN_COST),
     dict(kind="cnn_cost", study="cnn", base="large")),
]
_DECLARED += CNN_DECLARED
CLAIMS = [c for c, _ in _DECLARED]
RULES = {c.id: rule for c, rule in _DECLARED}


def _wins_outcome(s: dict, frac: float) -> str:
    if s["n"] == 0:
        return "not run"
    if s["frac"] >= frac and s["p"] < 0.05:
        return "reproduced"
    return "not reproduced" if s["frac"] <= 0.5 else "inconclusive"


def _cost_outcome(ct: pd.DataFrame) -> tuple[int, float, str]:
    """The FLOPs-to-target rule of every cost claim: (seeds where SensLI is cheaper, median ratio, outcome)."""
    cheaper, med = int((ct["ratio"] < 1).sum()), float(ct["ratio"].median())
    frac = cheaper / len(ct)
    return cheaper, med, "reproduced" if frac >= 2 / 3 and med < 1 else ("not reproduced" if frac <= 0.5 else
                                                                         "inconclusive")


def rule_outcome(rule: dict, df: pd.DataFrame, profile: str | None = None):
    """(measured text, outcome) for one claim rule of ``RULES`` on the runs frame ``df`` (``runs_frame``)."""
    if not (df["study"] == rule["study"]).any():
        return "study not run", "not run"
    bad = int(((df["study"] == rule["study"]) & (df["status"] != "ok")).sum())
    note = f"; {bad} run(s) not ok (counted as losses)" if bad else ""
    if rule["kind"].startswith("cnn"):
        return _cnn_verdict(rule, df, profile, note)
    if rule["kind"] == "wins":
        s = win_stats(*paired(df, rule["study"], rule["base"], rule["metric"])[["sensli", "base"]].T.values)
        return (f"SensLI lower in {s['wins']}/{s['n']} (ties {s['n'] - s['wins'] - s['losses']}), sign test "
                f"p = {s['p']:.2g}, median ratio {s['median_ratio']:.3f}{note}", _wins_outcome(s, rule["frac"]))
    if rule["kind"] == "all":
        pr = paired(df, rule["study"], rule["base"], "final_loss")
        s = win_stats(pr["sensli"], pr["base"])
        if s["n"] == 0:
            return "no paired runs", "not run"
        mean_lower = pr["sensli"].mean() < pr["base"].mean()
        outcome = ("reproduced" if s["wins"] == s["n"] >= 3 else "inconclusive") if mean_lower else "not reproduced"
        return (f"final training loss SensLI {fmt_mean_std(pr['sensli'], 4)} vs small {fmt_mean_std(pr['base'], 4)}; "
                f"lower in {s['wins']}/{s['n']} seeds{note}", outcome)
    if rule["kind"] == "cost":
        ct = cost_table(df, rule["study"], rule["base"])
        if not len(ct):
            return "no paired runs", "not run"
        cheaper, med, outcome = _cost_outcome(ct)
        outcome = outcome if len(ct) >= 3 else "inconclusive"
        return (f"SensLI cheaper in {cheaper}/{len(ct)} seeds, median FLOP ratio {med:.3f} "
                f"(whole runs: {ct['total_ratio'].median():.3f}){note}", outcome)
    if rule["kind"] == "early":
        t = early_table(df)
        t = t[(t["other"] == rule["base"]) & (t["k"] == rule["k"]) & t["differs"]] if len(t) else t
        s = win_stats(t["sensli"], t["base"]) if len(t) else dict(n=0)
        if s["n"] < 5:
            return f"only {s['n']} seed(s) with a differing position", "inconclusive"
        outcome = "reproduced" if s["frac"] >= 2 / 3 and s["p"] < 0.05 else (
            "not reproduced" if s["frac"] <= 0.5 else "inconclusive")
        return (f"at k = {rule['k']}: SensLI lower in {s['wins']}/{s['n']} differing seeds, sign test p = {s['p']:.2g}"
                f"{note}", outcome)
    raise ValueError(f"unknown rule kind {rule['kind']!r}")


def _cnn_verdict(rule: dict, df: pd.DataFrame, profile: str | None, note: str):
    """E5b: accuracy vs the small VGG (ties count for SensLI: the claim is >=), FLOPs to target vs the big VGG."""
    too_few = "; fewer than 3 seeds" if profile != "smoke" else "; smoke profile"
    if rule["kind"] == "cnn_acc":
        pr = paired(df, "cnn", rule["base"], "test_err")  # error, so a failed run counts as inf (a loss)
        n, wins = len(pr), int((pr["sensli"] <= pr["base"]).sum())
        if n == 0:
            return "no paired runs", "not run"
        frac = wins / n
        outcome = "reproduced" if frac >= 2 / 3 else ("not reproduced" if frac <= 0.5 else "inconclusive")
        acc = lambda v: fmt_mean_std(1 - v[np.isfinite(v)], 4)  # noqa: E731
        text = (f"SensLI >= small in {wins}/{n} seeds; final test accuracy SensLI {acc(pr['sensli'])} vs small "
                f"{acc(pr['base'])}{note}")
    else:
        ct = cost_table(df, "cnn", rule["base"], metric="acc")
        n = len(ct)
        if n == 0:
            return "no paired runs", "not run"
        cheaper, med, outcome = _cost_outcome(ct)
        text = (f"SensLI cheaper in {cheaper}/{n} seeds, median FLOP ratio to target {med:.3f} (targets "
                f"{', '.join(f'{t:.3f}' for t in ct['target_acc'])}; whole runs {ct['total_ratio'].median():.3f}){note}")
    if n < 3 or profile == "smoke":
        return text + too_few, "inconclusive"
    return text, outcome


def verdicts(frames: dict, profile: str | None = None) -> list[dict]:
    """One verdict row per declared claim, computed from the stored runs (``run``'s ``study -> frame``)."""
    df = runs_frame(frames)
    return [verdict(c, *rule_outcome(RULES[c.id], df, profile), profile=profile) for c in CLAIMS]
