"""Paper 1's profiles, notebook config and run grids (E2 stop-gradient, E3 stacking, E4-E6 CSP / PRN / summary).

E2, E4, E5 and E6 share one depth, so their ResNet runs are the same stored runs, and E3's ResNet at
k blocks uses ceil(3k/2) BasicBlocks (matched 3x3 count), which again hits those runs when it can.

Expected run time per profile (whole notebook):
- smoke: synthetic 3x32x32 (256 train), widths (4, 8, 16), 1 seed, 2 epochs: ~40 s on 2 CPU cores
- cpu:   CIFAR-10 subset (2,000 train / 1,000 test), widths (8, 16, 32), depth 3, E3 k = 1, 2, 4, 2 seeds,
         4 epochs, 40 runs: ~10 min on one idle core, ~20-30 min on the shared 2-core machine
- gpu:   CIFAR-10 (50k / 10k, crop+flip), widths (32, 64, 128), 3 seeds, 10 epochs, 4 runs per GPU via
         Ray: ~20 min on one H100 (estimated from CPU step times, not yet measured on a GPU)
- paper: widths (64, 128, 256), E3 up to k = 9, 3 seeds, 15 epochs: ~1.5 h on one H100 (estimate)
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from scipy import optimize

from ...config import Config, ConfigError, choices
from ...profiles import CHOICES, default_device, resolve_profile
from ...sweep import auto_executor
from . import models  # noqa: F401  (registers the gp_* models that model_cost builds)

# path_ks: E1 sweeps k = 1..path_ks blocks per stage (static, exact); depth: blocks per stage of E2, E4-E6;
# stacking: the k of E3; diag_size: samples in the fixed batch of the gradient diagnostics.
PROFILES = {
    "smoke": dict(dataset="synthetic", train_size=256, test_size=128, widths=(4, 8, 16), path_ks=5, depth=2,
                  stacking=(1, 2), seeds=1, epochs=2, batch_size=64, lr=0.05, augment=False, diag_size=32,
                  schedule="cosine"),  # torch's OneCycleLR divides by zero below ~8 steps
    "cpu": dict(dataset="cifar10", train_size=2000, test_size=1000, widths=(8, 16, 32), path_ks=8, depth=3,
                stacking=(1, 2, 4), seeds=2, epochs=4, batch_size=64, lr=0.1, augment=False, diag_size=128),
    "gpu": dict(dataset="cifar10", train_size=None, test_size=None, widths=(32, 64, 128), path_ks=8, depth=9,
                stacking=(1, 3, 6), seeds=3, epochs=10, batch_size=512, lr=0.2, augment=True, diag_size=256),
    "paper": dict(dataset="cifar10", train_size=None, test_size=None, widths=(64, 128, 256), path_ks=8, depth=9,
                  stacking=(1, 3, 6, 9), seeds=3, epochs=15, batch_size=512, lr=0.2, augment=True, diag_size=256),
}
# SGD + Nesterov, weight decay 5e-4, one-cycle (spec section 9); lr and batch size come from the profile.
OPTIM = dict(optimizer="sgd", momentum=0.9, nesterov=True, weight_decay=5e-4, schedule="onecycle")

FAMILIES = {  # registry name -> label used in tables and figures
    "gp_plain": "Plain", "gp_resnet": "ResNet", "gp_resnet_sg_block": "SG on block",
    "gp_resnet_sg_identity": "SG on identity", "gp_prn": "PRN", "gp_csp_fusion": "CSP fusion",
    "gp_csp_first": "CSP fusion first", "gp_csp_last": "CSP fusion last", "gp_csp_none": "CSP no fusion",
    "gp_vovnet": "VoVNet", "gp_vovnet_elan": "VoVNet re-planned", "gp_elan": "ELAN", "gp_csp_elan": "CSP-ELAN",
}
E2_MODELS = ("gp_resnet", "gp_resnet_sg_block", "gp_resnet_sg_identity")
E3_MODELS = ("gp_vovnet", "gp_vovnet_elan", "gp_elan", "gp_resnet")
E4_MODELS = ("gp_resnet", "gp_csp_fusion", "gp_csp_first", "gp_csp_last", "gp_csp_none")
E6_MODELS = ("gp_resnet", "gp_prn", "gp_csp_fusion", "gp_elan")
MATCHED = ("gp_elan", "gp_csp_fusion")  # widened to ResNet's FLOPs for the equal-cost comparison


@dataclass(frozen=True)
class GradPathConfig(Config):
    """Notebook parameters; zero / empty values mean "the profile's default" (see ``PROFILES``)."""

    profile: str = field(default="auto", metadata=choices(*CHOICES))
    dataset: str = field(default="auto", metadata=choices("auto", "cifar10", "synthetic"))
    seeds: int = 0
    epochs: int = 0
    depth: int = 0  # blocks per stage of E2, E4, E5, E6
    stacking: tuple = ()  # blocks per stage swept in E3
    widths: tuple = ()
    executor: str = field(default="auto", metadata=choices("auto", "local", "ray"))

    def validate(self):
        for name in ("seeds", "epochs", "depth"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} = {getattr(self, name)} must be >= 1 (or 0 for the profile's default)")
        if any(not isinstance(k, int) or k < 1 for k in self.stacking) or len(set(self.stacking)) != len(self.stacking):
            raise ConfigError(f"stacking = {self.stacking!r} must be distinct ints >= 1 (or [] for the default)")
        if self.widths and (len(self.widths) != 3 or any(not isinstance(w, int) or w < 4 or w % 2 for w in self.widths)):
            raise ConfigError(f"widths = {self.widths!r} must be three even ints >= 4 (CSP splits channels 50/50)")
        if resolve_profile(self.profile) == "smoke" and self.dataset == "cifar10":
            raise ConfigError("dataset = 'cifar10' is not valid with profile 'smoke' (embedded data only); "
                              "choose 'auto' or 'synthetic'")

    @property
    def resolved_profile(self) -> str:
        return resolve_profile(self.profile)

    def plan(self) -> dict:
        """The profile's preset with this config's non-default values applied."""
        p = dict(PROFILES[self.resolved_profile])
        for k in ("dataset", "seeds", "epochs", "depth", "stacking", "widths"):
            v = getattr(self, k)
            if v and v != "auto":
                p[k] = v
        p["seed_list"] = tuple(range(p["seeds"]))
        p["device"] = default_device(self.resolved_profile).type
        p["executor"] = self.executor if self.executor != "auto" else auto_executor(self.resolved_profile)
        return p


Config = GradPathConfig


def make_config(**params) -> GradPathConfig:
    return GradPathConfig.from_dict(params)


# ----------------------------------------------------------------------------- run configs

def run_config(p: dict, model: str, seed: int, **model_kwargs) -> dict:
    """One ``run.train_run`` config: a registered model at the plan's widths (unless given) and training."""
    model_kwargs.setdefault("widths", tuple(p["widths"]))
    train = dict(OPTIM, schedule=p.get("schedule", OPTIM["schedule"]), lr=p["lr"], epochs=p["epochs"],
                 batch_size=p["batch_size"], augment=p["augment"], seed=seed)
    return {"model": model, "model_kwargs": {k: list(v) if isinstance(v, tuple) else v for k, v in model_kwargs.items()},
            "dataset": p["dataset"], "train_size": p["train_size"], "test_size": p["test_size"], "data_seed": 0,
            "diag_size": p["diag_size"], "train": train, "device": p["device"]}


def e2_configs(p: dict) -> list[dict]:
    return [run_config(p, m, s, blocks=p["depth"]) for m in E2_MODELS for s in p["seed_list"]]


def e3_configs(p: dict) -> list[dict]:
    """Matched 3x3 count: 3k convs per stage for VoVNet (both plans) and ELAN (three-conv blocks), ResNet ceil(3k/2)."""
    out = []
    for k in p["stacking"]:
        for s in p["seed_list"]:
            out += [run_config(p, "gp_vovnet", s, blocks=k), run_config(p, "gp_vovnet_elan", s, blocks=k),
                    run_config(p, "gp_elan", s, blocks=k, convs=3),
                    run_config(p, "gp_resnet", s, blocks=math.ceil(3 * k / 2))]
    return out


def e456_configs(p: dict) -> list[dict]:
    """E4 (CSP fusion), E5 (PRN) and E6 (summary) at one depth; plus ELAN and CSP widened to ResNet's FLOPs."""
    names = dict.fromkeys(E4_MODELS + E6_MODELS)
    out = [run_config(p, m, s, blocks=p["depth"]) for m in names for s in p["seed_list"]]
    target = model_cost("gp_resnet", p["widths"], blocks=p["depth"])["flops"]
    for m in MATCHED:
        w = matched_widths(m, target, p["widths"], blocks=p["depth"])
        out += [run_config(p, m, s, blocks=p["depth"], widths=w) for s in p["seed_list"]]
    return out


EXPERIMENTS = {"e2": e2_configs, "e3": e3_configs, "e456": e456_configs}  # the notebook's trained experiments


def training_configs(p: dict) -> list[dict]:
    """Every run the notebook trains (E2, E3, E4-E6), each once: a config two experiments share (ResNet at the
    common depth) has one run-store key, so it is trained once and loaded the second time. Configs are compared
    by their canonical JSON, the part of the run key that differs between them."""
    unique = {}
    for c in e2_configs(p) + e3_configs(p) + e456_configs(p):
        unique.setdefault(json.dumps(c, sort_keys=True, default=str), c)
    return list(unique.values())


# ----------------------------------------------------------------------------- cost matching

def model_cost(name: str, widths, **kwargs) -> dict:
    """Parameters and forward FLOPs per 3x32x32 sample, built on the meta device (no memory, no init)."""
    import torch

    from ...models import create_model
    from ...train import count_flops, count_params

    with torch.device("meta"):
        m = create_model(name, widths=tuple(widths), **kwargs)
    return {"params": count_params(m), "flops": count_flops(m, (3, 32, 32), device="meta")}


def matched_widths(name: str, target: float, base, metric: str = "flops", tol: float = 0.10, **kwargs) -> tuple:
    """Stage widths (base scaled by one factor, rounded to even ints) whose cost is closest to ``target``.

    Raises if no scaling reaches ``tol``: a comparison "at matched cost" must really be one.
    """
    def widths(m):
        return tuple(max(4, 2 * round(b * m / 2)) for b in base)

    def cost(m):
        return model_cost(name, widths(m), **kwargs)[metric] - target

    lo, hi = 0.25, 4.0
    m = optimize.brentq(cost, lo, hi, xtol=1e-3) if cost(lo) < 0 < cost(hi) else (lo if cost(lo) >= 0 else hi)
    best = min({widths(m), widths(m + 2e-3), widths(m - 2e-3)},
               key=lambda w: abs(model_cost(name, w, **kwargs)[metric] - target))
    got = model_cost(name, best, **kwargs)[metric]
    if abs(got / target - 1) > tol:
        raise ValueError(f"{name}: no width scaling of {tuple(base)} brings {metric} within {tol:.0%} of {target:.3g} "
                         f"(closest {best}: {got:.3g})")
    return best
