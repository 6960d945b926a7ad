"""Paper 3's arms: the name of every trained configuration, its label, and its model (registered name + kwargs).

An arm is a baseline (``BASELINES``) or a multi-path net named ``mp{m}_{router}[_frozen][_tau{t}][_matched]``:

- ``m`` paths and a router of ``models.ROUTERS`` (``mp2_cross_connections`` is MP2-CC, the paper's method);
- ``_frozen``: its routers fixed at their random initialisation (C7's frozen-router control: a random gate is still
  input-dependent, so this separates learned specialisation from incidental dependence);
- ``_tau{t}``: router softmax temperature ``t`` (< 1 sharper), the temperature ablation reported beside C7;
- ``_matched``: per-path widths scaled by a width search to within 5% of MP2-CC's parameters *and* MACs (the shared
  stem kept), so cross-prediction (reading A) is compared with cross-connections at the same cost (C6b).

SP-deeper and SK are width-searched the same way. Budgets are counted at the 32x32 input the data has; an arm that
pools its input (``pool_input=2``, the cpu profile) is counted at the resolution its convolutions see.
"""
from __future__ import annotations

import re

from ...models import create_model
from .baselines import budget, scaled, width_search
from .models import ROUTERS

SQRT2 = 2 ** 0.5
CC = "mp2_cross_connections"
BASELINES = {  # arm -> (registered model, kwargs on top of the backbone's widths/stem/depth)
    "sp_base": ("mp_plain_net", {}),
    "sp_wide": ("mp_plain_net", {"width_mult": SQRT2}),
    "sp_wide2": ("mp_plain_net", {"width_mult": 2.0}),
    "sp_wide_se": ("mp_se_net", {"width_mult": SQRT2}),
    "sp_deeper": ("mp_plain_net", {}),  # twice the convs per stage, width-searched
    "sk": ("mp_sk_net", {}),  # width-searched
    "ens2": ("mp_ensemble", {"members": 2}),
}
SEARCHED = ("sp_deeper", "sk")
LABELS = {"sp_base": "SP-base", "sp_wide": "SP-wide ×1.41", "sp_wide2": "SP-wide ×2", "sp_wide_se": "SP-wide ×1.41 + SE",
          "sp_deeper": "SP-deeper", "sk": "SK", "ens2": "Ens2"}
ROUTER_LABELS = {"none": "none", "static": "static", "cross_connections": "CC", "cross_prediction_gate": "CP-gate",
                 "cross_prediction_conv": "CP-conv"}
_MP = re.compile(r"mp(?P<paths>\d+)_(?P<router>[a-z_]+?)(?P<frozen>_frozen)?(?:_tau(?P<tau>\d+(?:\.\d+)?))?"
                 r"(?P<matched>_matched)?")
INPUT = (3, 32, 32)


def parse(arm: str) -> dict | None:
    """``{"paths", "router", "frozen", "tau", "matched"}`` of a multi-path arm; None for a baseline. Raises a
    ValueError naming the valid forms for anything else."""
    if arm in BASELINES:
        return None
    m = _MP.fullmatch(arm)
    if not m or m["router"] not in ROUTERS:
        raise ValueError(f"unknown arm {arm!r}; valid: mp<m>_<router>[_frozen][_tau<t>][_matched] with router one of "
                         f"{list(ROUTERS)}, or one of {sorted(BASELINES)}")
    return {"paths": int(m["paths"]), "router": m["router"], "frozen": bool(m["frozen"]),
            "tau": float(m["tau"]) if m["tau"] else 1.0, "matched": bool(m["matched"])}


def tau_arm(tau: float) -> str:
    """MP2-CC at router temperature ``tau`` (``0.25`` -> ``mp2_cross_connections_tau0.25``)."""
    return f"{CC}_tau{tau:g}"


def label(arm: str) -> str:
    p = parse(arm)
    if p is None:
        return LABELS[arm]
    out = f"MP{p['paths']}-{ROUTER_LABELS[p['router']]}"
    if p["tau"] != 1.0:
        out += f" τ={p['tau']:g}"
    if p["frozen"]:
        out += " (frozen router)"
    if p["matched"]:
        out += " (matched width)"
    return out


def searched(arm: str) -> bool:
    """Whether the arm's width multiplier comes from a width search (SP-deeper, SK, ``_matched``)."""
    p = parse(arm)
    return arm in SEARCHED if p is None else p["matched"]


def model_spec(arm: str, widths, stem: int, convs_per_stage: int, width_mult: float | None = None,
               pool_input: int = 1):
    """(registered model name, kwargs) of an arm at the given backbone size."""
    common = {"widths": tuple(widths), "stem": stem, "convs_per_stage": convs_per_stage}
    if pool_input != 1:
        common["pool_input"] = pool_input
    p = parse(arm)
    if p is not None:
        if p["matched"]:  # the per-path widths only: the shared stem is not routed (and keeps the search fine)
            common["widths"] = scaled(widths, stem, width_mult)[0]
        kw = {**common, "paths": p["paths"], "router": p["router"], "freeze_router": p["frozen"]}
        return "multipath_net", kw | ({"tau": p["tau"]} if p["tau"] != 1.0 else {})
    name, kw = BASELINES[arm]
    kw = {**common, **kw}
    if arm == "sp_deeper":
        kw["convs_per_stage"] = 2 * convs_per_stage
    if arm == "sk":
        kw["sk_min_hidden"] = max(4, 32 * widths[-1] // 128)  # SK's L=32 at the reference widths, scaled with them
    if arm in SEARCHED:
        kw["width_mult"] = width_mult
    return name, kw


def searched_multipliers(arms, widths, stem: int, convs_per_stage: int, pool_input: int = 1) -> dict:
    """Width multipliers that bring every searched arm among ``arms`` within +-5% of MP2-CC in params and MACs
    (raises if one cannot be matched)."""
    name, kw = model_spec(CC, widths, stem, convs_per_stage, pool_input=pool_input)
    target = budget(create_model(name, **kw), INPUT)
    out = {}
    for arm in dict.fromkeys(a for a in arms if searched(a)):
        def build(s, arm=arm):
            name, kw = model_spec(arm, widths, stem, convs_per_stage, s, pool_input)
            return create_model(name, **kw)

        out[arm], _ = width_search(build, target["params"], target["macs"], input_shape=INPUT)
    return out
