"""Paper 1's claims, fixed before any run, and the verdicts: each claim decided from measured results by its
fixed criterion (the exact E1 claims from the static tables, the trained ones from the E2-E6 run frames)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...claims import Claim, verdict
from ...stats import mean_std
from . import PAPER
from .grid import E2_MODELS, E4_MODELS, FAMILIES


def _claim(id_, text, criterion):
    return Claim(id_, PAPER, text, criterion)


NOISE = ("noise = max(std over seeds of either group, 0.5 points); a diverged run counts at chance accuracy, "
         "a failed run is left out and reported")
CLAIMS = [
    _claim("C1", "PRN's partial residual gives more gradient combinations than ResNet or DenseNet: 7 vs 5 and 5 "
           "on the 5-layer nets of Fig. 7.",
           "torch.fx analysis of the Fig. 7 toy nets gives exactly the spec's per-layer timestamp sets and the "
           "counts 5 / 7 / 5."),
    _claim("C2", "Table 1: the shortest gradient path grows as O(N) in PlainNet and stays O(1) in ResNet and "
           "DenseNet.",
           "log-log slope of the network's longest shortest path vs N (toy nets, N = 5..65 layers, "
           "scipy linregress): |slope - 1| < 0.1 for Plain, |slope| < 0.1 for ResNet and DenseNet."),
    _claim("C3", "Stacking OSA modules lengthens the shortest gradient path of every earlier layer; stacking "
           "residual blocks or ELAN computational blocks lengthens only the longest path.",
           "CIFAR macro, k = 1..8 blocks per stage: adding one block per stage raises the shortest path of every "
           "non-head layer by >= 1 for VoVNet and by exactly 0 for ResNet, ELAN and the re-planned VoVNet, whose "
           "longest path rises strictly with k."),
    _claim("C4", "Stop-gradient ablation (Table 3): full ResNet > stop-gradient on the block > stop-gradient on "
           "the identity.",
           f"E2 mean test accuracy ordered full > SG-block > SG-identity, each gap > noise -> reproduced; any "
           f"pair reversed by more than noise -> not reproduced; else inconclusive ({NOISE})."),
    _claim("C4b", "The full gradient path matters: the full ResNet beats both stop-gradient variants (the "
           "robust part of Table 3).",
           "E2: full minus the better SG variant > noise -> reproduced; < -noise -> not reproduced; else "
           "inconclusive."),
    _claim("C5", "Stacked OSA modules degrade a deep VoVNet; re-planning it the ELAN way (one transition per "
           "stage) fixes it (Table 4).",
           "E3 at the largest k: (a) VoVNet below its best k by more than noise and (b) re-planned VoVNet above "
           "VoVNet by more than noise -> reproduced; (b) reversed beyond noise, or VoVNet at the largest k above "
           "VoVNet at the smallest k by more than noise -> not reproduced; else inconclusive."),
    _claim("C5b", "Stacking computational blocks inside one transition (ELAN, re-planned VoVNet) does not hurt "
           "as depth grows.",
           "E3: for ELAN and re-planned VoVNet, accuracy at the largest k is not below accuracy at the smallest "
           "k by more than noise -> reproduced; else not reproduced."),
    _claim("C6", "CSP stages cut computation (about -20% FLOPs in Table 6) at no loss of accuracy.",
           "E4 (same widths and depth): every CSP fusion variant has fewer FLOPs and parameters than the ResNet "
           "stage (exact counts) and CSP fusion's accuracy is not below ResNet's by more than noise -> "
           "reproduced; fewer FLOPs but accuracy below by more than noise -> not reproduced."),
    _claim("C6b", "Fusion ordering (Table 6): CSP fusion > fusion first > fusion last > no fusion.",
           "E4 with >= 3 seeds: each consecutive gap > noise -> reproduced; a consecutive pair reversed by more "
           "than noise -> not reproduced; fewer than 3 seeds or gaps within noise -> inconclusive (the spec "
           "calls the ordering unresolved: CSPNet's ImageNet ablation orders it differently)."),
    _claim("C7", "PRN (rho = 0.5) improves on ResNet by a small margin at equal parameters and FLOPs (Table 5: "
           "+0.5 AP^box).",
           "E5: PRN minus ResNet mean accuracy > noise -> reproduced; < -noise -> not reproduced; else "
           "inconclusive."),
    _claim("C7b", "[R, companion prediction] PRN's partial shortcut reduces duplicated gradient information: "
           "block-output gradients are less similar than in ResNet.",
           "E5: mean off-diagonal cosine similarity of block-output gradients (all stages, end of training) "
           "lower for PRN than for ResNet by more than max(seed std, 0.02) -> reproduced; higher by that much "
           "-> not reproduced; else inconclusive."),
    _claim("C8", "ELAN gives the best accuracy at the lowest cost (Table 8: ELAN > CSP > PRN > baseline).",
           "E6 at equal FLOPs (ELAN and CSP fusion widened to ResNet's FLOPs within 10%; PRN has ResNet's FLOPs): "
           "ELAN above ResNet, PRN and CSP each by more than noise -> reproduced; any of them above ELAN by more "
           "than noise -> not reproduced; else inconclusive."),
]

MIN_GAP = 0.005  # half a point of accuracy: the smallest difference called real (see NOISE)
MIN_SIM_GAP = 0.02


def accuracies(df: pd.DataFrame) -> np.ndarray:
    """Per-seed ``acc`` (see ``analysis.label_runs``: diverged at chance, failed left out)."""
    return df.acc.dropna().to_numpy(float)


def compare(a, b, min_gap: float = MIN_GAP) -> tuple[int, float, float]:
    """(+1 | -1 | 0, mean(a) - mean(b), noise): +1 when a is higher by more than the noise."""
    (ma, sa), (mb, sb) = mean_std(a), mean_std(b)
    d, noise = ma - mb, max(sa, sb, min_gap)
    if not np.isfinite(d):
        return 0, d, noise
    return (1 if d > noise else -1 if d < -noise else 0), d, noise


def pct(v) -> str:
    m, s = mean_std(np.asarray(v) * 100)
    return f"{m:.1f} ± {s:.1f}"


def _pick(df, model, **eq):
    sel = df.model == model
    for k, v in eq.items():
        sel &= df[k] == v
    return df[sel]


def _ordering(groups: dict) -> tuple[str, str]:
    """Decide a chain a > b > c ...: reproduced if every consecutive gap is positive beyond noise."""
    names = list(groups)
    signs = [compare(groups[x], groups[y])[0] for x, y in zip(names, names[1:])]
    outcome = "reproduced" if all(s == 1 for s in signs) else "not reproduced" if -1 in signs else "inconclusive"
    return outcome, "; ".join(f"{n} {pct(v)}" for n, v in groups.items())


def static_verdicts(fig7: pd.DataFrame, slopes: pd.DataFrame, shifts: pd.DataFrame, stack: pd.DataFrame) -> list:
    c = {x.id: x for x in CLAIMS}
    counts = fig7[fig7.layer == "combinations"].set_index("net").ours.to_dict()
    out = [verdict(c["C1"], f"combinations ResNet {counts['resnet']}, PRN {counts['prn']}, DenseNet "
                   f"{counts['densenet']}; {int(fig7.match.sum())}/{len(fig7)} rows equal the spec",
                   "reproduced" if fig7.match.all() else "not reproduced")]
    ok = (abs(slopes.slope - slopes.expected) < 0.1).all()
    out.append(verdict(c["C2"], "; ".join(f"{r.net} slope {r.slope:.2f}" for r in slopes.itertuples()),
                       "reproduced" if ok else "not reproduced"))
    s = shifts.groupby("model").agg(lo=("min_shift", "min"), hi=("max_shift", "max"))
    flat = [m for m in ("gp_resnet", "gp_elan", "gp_vovnet_elan")]
    grows = all(np.all(np.diff(stack[stack.model == m].sort_values("blocks").longest) > 0) for m in flat)
    ok = s.loc["gp_vovnet", "lo"] >= 1 and all(s.loc[m, "lo"] == 0 == s.loc[m, "hi"] for m in flat) and grows
    text = "; ".join(f"{FAMILIES[m]} shortest-path shift per added block {s.loc[m, 'lo']}..{s.loc[m, 'hi']}"
                     for m in ("gp_vovnet", *flat))
    out.append(verdict(c["C3"], text + f"; longest path rises with k: {grows}", "reproduced" if ok else "not reproduced"))
    return out


def trained_verdicts(e2: pd.DataFrame, e3: pd.DataFrame, e456: pd.DataFrame, n_seeds: int) -> list:
    c = {x.id: x for x in CLAIMS}
    out = []
    # C4 / C4b: stop gradient
    g = {FAMILIES[m]: accuracies(_pick(e2, m)) for m in E2_MODELS}
    outcome, text = _ordering(g)
    out.append(verdict(c["C4"], text, outcome))
    full, sgs = g["ResNet"], [g["SG on block"], g["SG on identity"]]
    best = max(sgs, key=lambda v: mean_std(v)[0])
    sign, d, noise = compare(full, best)
    out.append(verdict(c["C4b"], f"full minus best SG variant {100 * d:+.1f} points (noise {100 * noise:.1f})",
                       {1: "reproduced", -1: "not reproduced", 0: "inconclusive"}[sign]))
    # C5 / C5b: stacking
    ks = sorted(e3.k.dropna().unique())
    acc = {(m, k): accuracies(_pick(e3, m, k=k)) for m in ("gp_vovnet", "gp_vovnet_elan", "gp_elan") for k in ks}
    vov = {k: acc[("gp_vovnet", k)] for k in ks}
    best_k = max(ks, key=lambda k: mean_std(vov[k])[0])
    a = compare(vov[best_k], vov[ks[-1]])[0] == 1 and best_k != ks[-1]
    b = compare(acc[("gp_vovnet_elan", ks[-1])], vov[ks[-1]])[0]
    improves = compare(vov[ks[-1]], vov[ks[0]])[0] == 1
    outcome = "reproduced" if a and b == 1 else "not reproduced" if b == -1 or improves else "inconclusive"
    out.append(verdict(c["C5"], "VoVNet " + ", ".join(f"k={k:g}: {pct(vov[k])}" for k in ks) +
                       f"; re-planned k={ks[-1]:g}: {pct(acc[('gp_vovnet_elan', ks[-1])])}", outcome))
    drops = {m: compare(acc[(m, ks[-1])], acc[(m, ks[0])])[0] for m in ("gp_elan", "gp_vovnet_elan")}
    out.append(verdict(c["C5b"], "; ".join(f"{FAMILIES[m]} k={ks[0]:g}: {pct(acc[(m, ks[0])])}, k={ks[-1]:g}: "
                                          f"{pct(acc[(m, ks[-1])])}" for m in drops),
                       "not reproduced" if -1 in drops.values() else "reproduced"))
    # C6 / C6b: CSP
    same = e456[~e456.matched]
    res = _pick(same, "gp_resnet")
    cost = {m: _pick(same, m)[["flops", "params"]].iloc[0] for m in E4_MODELS if len(_pick(same, m))}
    cheaper = all(cost[m].flops < cost["gp_resnet"].flops and cost[m].params < cost["gp_resnet"].params
                  for m in E4_MODELS[1:])
    sign, d, _ = compare(accuracies(_pick(same, "gp_csp_fusion")), accuracies(res))
    red = ", ".join(f"{FAMILIES[m]} {100 * (cost[m].flops / cost['gp_resnet'].flops - 1):+.0f}%"
                    for m in E4_MODELS[1:])
    outcome = "not reproduced" if not cheaper or sign == -1 else "reproduced"
    out.append(verdict(c["C6"], f"FLOPs vs ResNet: {red}; CSP fusion minus ResNet accuracy {100 * d:+.1f} points",
                       outcome))
    outcome, text = _ordering({FAMILIES[m]: accuracies(_pick(same, m)) for m in E4_MODELS[1:]})
    if n_seeds < 3 and outcome != "inconclusive":
        outcome, text = "inconclusive", text + f" (only {n_seeds} seed(s))"
    out.append(verdict(c["C6b"], text, outcome))
    # C7 / C7b: PRN
    prn = _pick(same, "gp_prn")
    sign, d, noise = compare(accuracies(prn), accuracies(res))
    out.append(verdict(c["C7"], f"PRN {pct(accuracies(prn))} vs ResNet {pct(accuracies(res))} "
                       f"({100 * d:+.1f} points, noise {100 * noise:.1f})",
                       {1: "reproduced", -1: "not reproduced", 0: "inconclusive"}[sign]))
    sp, sr = prn.sim_final.astype(float).dropna(), res.sim_final.astype(float).dropna()
    sign, d, noise = compare(sr, sp, MIN_SIM_GAP)
    out.append(verdict(c["C7b"], f"mean block-gradient cosine similarity PRN {sp.mean():.3f} vs ResNet "
                       f"{sr.mean():.3f} (init: {prn.sim_init.mean():.3f} vs {res.sim_init.mean():.3f})",
                       {1: "reproduced", -1: "not reproduced", 0: "inconclusive"}[sign] if len(sp) and len(sr)
                       else "inconclusive"))
    # C8: equal-FLOPs summary
    elan = e456[e456.matched & (e456.model == "gp_elan")]
    rivals = {"ResNet": res, "PRN": prn, "CSP fusion": e456[e456.matched & (e456.model == "gp_csp_fusion")]}
    signs = {n: compare(accuracies(elan), accuracies(r))[0] for n, r in rivals.items()}
    ratio = elan.flops.iloc[0] / res.flops.iloc[0] if len(elan) and len(res) else np.nan
    outcome = "reproduced" if all(s == 1 for s in signs.values()) else \
        "not reproduced" if -1 in signs.values() else "inconclusive"
    out.append(verdict(c["C8"], f"ELAN (FLOPs x{ratio:.2f} of ResNet) {pct(accuracies(elan))}; " +
                       "; ".join(f"{n} {pct(accuracies(r))}" for n, r in rivals.items()), outcome))
    return out


def verdicts(fig7: pd.DataFrame, slopes: pd.DataFrame, shifts: pd.DataFrame, stack: pd.DataFrame,
             e2: pd.DataFrame, e3: pd.DataFrame, e456: pd.DataFrame, n_seeds: int) -> list:
    """One claims-table row per claim: C1-C3 from E1's tables, C4-C8 from the E2, E3 and E4-E6 runs."""
    return static_verdicts(fig7, slopes, shifts, stack) + trained_verdicts(e2, e3, e456, n_seeds)
