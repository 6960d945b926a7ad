"""Paper 1 (gradient-path design): profiles, run grids, the run function, claims and their verdicts.

Experiments (spec section 9): E1 exact path accounting (``gradient_paths_static``), E2 stop-gradient
(Table 3), E3 stacking VoVNet / VoVNet re-planned / ELAN / ResNet (Table 4), E4 CSP fusion (Table 6),
E5 PRN (Table 5), E6 the Table 8 summary (same widths, plus ELAN and CSP widened to ResNet's FLOPs).
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

import math
from dataclasses import dataclass, field

from scipy import optimize

from ..config import Config, ConfigError, choices
from ..profiles import CHOICES, default_device, resolve_profile
from ..store import versioned
from ..sweep import auto_executor, run_sweep

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
CHANCE = 0.1  # CIFAR-10 and synthetic both have 10 classes


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


def make_config(**params) -> GradPathConfig:
    return GradPathConfig.from_dict(params)


# ----------------------------------------------------------------------------- the run function

@versioned(1)
def train_run(config: dict) -> dict:
    """Train one registered model and return accuracies, cost, static path metrics and gradient diagnostics."""
    from ..analysis.gradient_paths import analyse
    from ..data import DeviceLoader, load_splits
    from ..models import create_model
    from ..train import TrainConfig, count_flops, count_params, fit, seed_everything

    cfg = TrainConfig.from_dict(config["train"])
    device = config.get("device", "cpu")
    train, test = load_splits(config["dataset"], config.get("train_size"), config.get("test_size"),
                              config.get("data_seed", 0))
    seed_everything(cfg.seed)
    model = create_model(config["model"], num_classes=train.num_classes, in_chans=train.sample_shape[0],
                         **config["model_kwargs"])
    params, flops = count_params(model), count_flops(model, train.sample_shape)
    paths = analyse(model, train.sample_shape)
    model.to(device)
    xb, yb = next(iter(DeviceLoader(train.subset(config.get("diag_size", 128), seed=1), config.get("diag_size", 128),
                                    train=False, device=device)))
    rho = config["model_kwargs"].get("rho", 0.5) if config["model"] == "gp_prn" else None  # gp_prn's default
    diag_init = diagnostics(model, xb, yb, rho)
    hist = fit(model, train, test, cfg, device=device)
    last = hist.final
    diag_final = diagnostics(model, xb, yb, rho) if hist.status == "ok" else None
    return {"status": hist.status, "params": params, "flops": flops, "test_acc": last.get("val_acc"),
            "test_loss": last.get("val_loss"), "train_loss": last.get("train_loss"), "train_acc": last.get("train_acc"),
            "max_shortest": paths.longest_shortest, "longest_path": paths.longest, "combinations": paths.combinations,
            "sim_init": diag_init["sim_mean"], "sim_final": diag_final["sim_mean"] if diag_final else math.nan,
            "sec_per_epoch": hist.wall_time / max(1, len(hist.epochs)), "diverged_step": hist.diverged_step,
            "history": hist.to_dict(), "paths": paths.layers.drop(columns="timestamps").to_dict("list"),
            "diag_init": diag_init, "diag_final": diag_final}


def diagnostics(model, x, y, rho=None) -> dict:
    """Per-layer gradient norms and block-gradient similarity as plain data for the run store."""
    from ..analysis.gradients import block_gradient_similarity, mean_offdiag, weight_grad_norms

    sims = block_gradient_similarity(model, x, y, channel_split=rho)
    whole = [mean_offdiag(m) for k, m in sims.items() if "/" not in k]
    whole = [v for v in whole if not math.isnan(v)]
    return {"grad_norms": weight_grad_norms(model, x, y).to_dict("list"),
            "similarity": {k: m.to_numpy().tolist() for k, m in sims.items()},
            "sim_mean": sum(whole) / len(whole) if whole else math.nan}


# ----------------------------------------------------------------------------- grids

def _run_config(p: dict, model: str, seed: int, **model_kwargs) -> dict:
    model_kwargs.setdefault("widths", tuple(p["widths"]))
    train = dict(OPTIM, schedule=p.get("schedule", OPTIM["schedule"]), lr=p["lr"], epochs=p["epochs"], batch_size=p["batch_size"], augment=p["augment"], seed=seed)
    return {"model": model, "model_kwargs": {k: list(v) if isinstance(v, tuple) else v for k, v in model_kwargs.items()},
            "dataset": p["dataset"], "train_size": p["train_size"], "test_size": p["test_size"], "data_seed": 0,
            "diag_size": p["diag_size"], "train": train, "device": p["device"]}


def e2_configs(p: dict) -> list[dict]:
    return [_run_config(p, m, s, blocks=p["depth"]) for m in E2_MODELS for s in p["seed_list"]]


def e3_configs(p: dict) -> list[dict]:
    """Matched 3x3 count: 3k convs per stage for VoVNet (both plans) and ELAN (three-conv blocks), ResNet ceil(3k/2)."""
    out = []
    for k in p["stacking"]:
        for s in p["seed_list"]:
            out += [_run_config(p, "gp_vovnet", s, blocks=k), _run_config(p, "gp_vovnet_elan", s, blocks=k),
                    _run_config(p, "gp_elan", s, blocks=k, convs=3),
                    _run_config(p, "gp_resnet", s, blocks=math.ceil(3 * k / 2))]
    return out


def e456_configs(p: dict) -> list[dict]:
    """E4 (CSP fusion), E5 (PRN) and E6 (summary) at one depth; plus ELAN and CSP widened to ResNet's FLOPs."""
    names = dict.fromkeys(E4_MODELS + E6_MODELS)
    out = [_run_config(p, m, s, blocks=p["depth"]) for m in names for s in p["seed_list"]]
    target = model_cost("gp_resnet", p["widths"], blocks=p["depth"])["flops"]
    for m in MATCHED:
        w = matched_widths(m, target, p["widths"], blocks=p["depth"])
        out += [_run_config(p, m, s, blocks=p["depth"], widths=w) for s in p["seed_list"]]
    return out


def training_configs(p: dict) -> list[dict]:
    """Every run the notebook trains (E2, E3, E4-E6), each once: a config two experiments share (ResNet at the
    common depth) has one run-store key, so it is trained once and loaded the second time."""
    from ..store import run_key

    unique = {}
    for c in e2_configs(p) + e3_configs(p) + e456_configs(p):
        unique.setdefault(run_key(train_run, c), c)
    return list(unique.values())


def model_cost(name: str, widths, **kwargs) -> dict:
    """Parameters and forward FLOPs per 3x32x32 sample, built on the meta device (no memory, no init)."""
    import torch

    from ..models import create_model
    from ..train import count_flops, count_params

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
    best = min({widths(m), widths(m + 2e-3), widths(m - 2e-3)}, key=lambda w: abs(model_cost(name, w, **kwargs)[metric] - target))
    got = model_cost(name, best, **kwargs)[metric]
    if abs(got / target - 1) > tol:
        raise ValueError(f"{name}: no width scaling of {tuple(base)} brings {metric} within {tol:.0%} of {target:.3g} "
                         f"(closest {best}: {got:.3g})")
    return best


def scored_accuracy(df):
    """Test accuracy for ok runs, chance for diverged runs, NaN for failed (or out-of-memory) runs."""
    return df.test_acc.astype(float).where(df.status == "ok", CHANCE).where(df.status.isin(["ok", "diverged"]))


def run(configs: list[dict], p: dict, store=None, desc: str | None = None):
    """Train (or load) runs through the run store and label them; returns the sweep DataFrame.

    ``acc`` is the test accuracy, chance (0.1) for a diverged run and NaN for a failed one, so diverged
    runs stay in every table and figure instead of silently dropping out.
    """
    df = run_sweep(train_run, configs, store=store, executor=p["executor"], desc=desc)
    if "test_acc" not in df:
        df["test_acc"] = math.nan
    df["family"] = df.model.map(FAMILIES)
    df["blocks"] = df.model_kwargs.map(lambda k: k["blocks"])
    df["widths"] = df.model_kwargs.map(lambda k: tuple(k["widths"]))
    df["matched"] = df.widths != tuple(p["widths"])
    df["seed"] = df.train.map(lambda t: t["seed"])
    df["acc"] = scored_accuracy(df)
    # E3's x-axis: ResNet at ceil(3k/2) BasicBlocks stands at k.
    back = {math.ceil(3 * k / 2): k for k in p["stacking"]}
    df["k"] = [back.get(b) if m == "gp_resnet" else b for m, b in zip(df.model, df.blocks)]
    return df

# ----------------------------------------------------------------------------- claims (fixed before any run)

def _claim(id_, text, criterion):
    from ..claims import Claim
    return Claim(id_, "1", text, criterion)


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
