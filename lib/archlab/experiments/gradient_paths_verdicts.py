"""Paper 1 verdicts: each claim of ``gradient_paths.CLAIMS`` decided from measured results by its fixed criterion.

Also holds the paper's own numbers (spec section 6) for display beside ours; they are COCO detection
APs, so they are shown as the paper's, never mixed into our CIFAR-10 accuracies.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..analysis.stats import mean_std
from ..claims import verdict
from . import gradient_paths as gp

MIN_GAP = 0.005  # half a point of accuracy: the smallest difference called real (see gradient_paths.NOISE)
MIN_SIM_GAP = 0.02

# Spec section 6 [P], COCO val: (FLOPs G, AP^box, AP^mask).
PAPER = {
    "Table 3 (stop gradient)": {"full (YOLOR-CSP)": (159.0, 51.0, 41.1), "SG on block": (159.0, 48.8, 39.5),
                                "SG on identity": (159.0, 47.7, 38.7)},
    "Table 5 (PRN)": {"ResNet (YOLOR-v3)": (194.6, 49.5, 40.9), "PRN": (194.6, 50.0, 41.0)},
    "Table 6 (CSP fusion)": {"ResNet (YOLOR-v3)": (194.6, 49.5, 40.9), "CSP fusion": (159.0, 51.0, 41.1),
                             "CSP fusion first": (158.1, 50.8, 41.0), "CSP fusion last": (155.6, 50.6, 40.9),
                             "CSP no fusion": (154.8, 50.5, 40.9)},
    "Table 8 (summary)": {"ResNet (YOLOR-v3)": (194.6, 49.5, 40.9), "PRN": (194.6, 50.0, 41.0),
                          "CSP fusion": (159.0, 51.0, 41.1), "ELAN": (143.2, 51.4, 41.5)},
}


def paper_table(name: str) -> pd.DataFrame:
    rows = [dict(model=k, FLOPs_G=v[0], AP_box=v[1], AP_mask=v[2]) for k, v in PAPER[name].items()]
    return pd.DataFrame(rows).assign(source=f"paper, {name}, COCO val")


def accuracies(df: pd.DataFrame) -> np.ndarray:
    """Per-seed ``acc`` (see ``gradient_paths.run``: diverged at chance, failed left out)."""
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
    c = {x.id: x for x in gp.CLAIMS}
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
    text = "; ".join(f"{gp.FAMILIES[m]} shortest-path shift per added block {s.loc[m, 'lo']}..{s.loc[m, 'hi']}"
                     for m in ("gp_vovnet", *flat))
    out.append(verdict(c["C3"], text + f"; longest path rises with k: {grows}", "reproduced" if ok else "not reproduced"))
    return out


def trained_verdicts(e2: pd.DataFrame, e3: pd.DataFrame, e456: pd.DataFrame, n_seeds: int) -> list:
    c = {x.id: x for x in gp.CLAIMS}
    out = []
    # C4 / C4b: stop gradient
    g = {gp.FAMILIES[m]: accuracies(_pick(e2, m)) for m in gp.E2_MODELS}
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
    out.append(verdict(c["C5b"], "; ".join(f"{gp.FAMILIES[m]} k={ks[0]:g}: {pct(acc[(m, ks[0])])}, k={ks[-1]:g}: "
                                          f"{pct(acc[(m, ks[-1])])}" for m in drops),
                       "not reproduced" if -1 in drops.values() else "reproduced"))
    # C6 / C6b: CSP
    same = e456[~e456.matched]
    res = _pick(same, "gp_resnet")
    cost = {m: _pick(same, m)[["flops", "params"]].iloc[0] for m in gp.E4_MODELS if len(_pick(same, m))}
    cheaper = all(cost[m].flops < cost["gp_resnet"].flops and cost[m].params < cost["gp_resnet"].params
                  for m in gp.E4_MODELS[1:])
    sign, d, _ = compare(accuracies(_pick(same, "gp_csp_fusion")), accuracies(res))
    red = ", ".join(f"{gp.FAMILIES[m]} {100 * (cost[m].flops / cost['gp_resnet'].flops - 1):+.0f}%"
                    for m in gp.E4_MODELS[1:])
    outcome = "not reproduced" if not cheaper or sign == -1 else "reproduced"
    out.append(verdict(c["C6"], f"FLOPs vs ResNet: {red}; CSP fusion minus ResNet accuracy {100 * d:+.1f} points",
                       outcome))
    outcome, text = _ordering({gp.FAMILIES[m]: accuracies(_pick(same, m)) for m in gp.E4_MODELS[1:]})
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
