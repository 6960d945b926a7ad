"""Paper 4's studies, their profiles, the notebook config and the functions that enumerate run configs.

Studies (docs/papers/layer_insertion.md; spirals = the authors' two-spiral set, 450 train / 150 test, our split):
- ``fnn`` (E1): FNN [5], full-batch GD, lr 0.2, insert at 450 of 1850; small (FNN1, same init) and the
  large net [5, 5] from a fresh init (FNN2).
- ``resnet`` (E2): res2 [3, 3], lr 0.1; large = [3, 3, 3] (LI's final shape) and ``large+1`` = the
  authors' as-coded big net [3, 3, 3, 3].
- ``validity`` (E3): FNN [4, 4] (lr 0.2) and res2 [3, 3, 3] (lr 0.1, x0.7 at insertion): SensLI (max)
  vs the least sensitive position (min, the authors' "LIother"), a random and a fixed position, all
  from the identical state at insertion (same seed, deterministic).
- ``when`` (E4): FNN [5], lr 0.2, x0.8 at insertion, insertion at 150, 250, ..., 850; FNN1 at 0.2, FNN2 at 0.16.
- ``minibatch`` (E5a): FNN [5], batch 45, lr 0.01, insertion after 450 of 1850 epochs.
- ``mnist`` / ``cifar10`` [R]: FNN / residual MLP on flattened images, minibatch SGD with momentum.
- ``cnn`` (E5b, v2): a growing VGG on CIFAR-10 with op22 sensitivities; arms small, SensLI, big, min.
Spirals always run on the CPU, each arm's seeds in one batched step (tiny nets are launch-bound on a GPU); images
use the session device.

Profiles (what each keeps, docs/papers/layer_insertion.md "Profiles"). Every CPU run uses one thread
(``run.tiny_threads``).
- smoke: plumbing only; 2 seeds, 120 GD steps, digits / synthetic images, a 16x16 synthetic CNN (128 images) for
  3 + 3 epochs. The whole notebook, measured at load 5-7 on the 2 shared cores: 107 s wall, 46 CPU-s (kernel
  start, imports and figures included; training ~10 CPU-s), i.e. about 50 s on 2 idle cores.
- cpu: the spirals at the paper's schedules: fnn, resnet and validity (450 + 400) with 100 seeds (issue 31: the
  authors used 30; the per-seed log-ratios are heavy-tailed, so their median intervals need many), when at 8 times
  and minibatch 1850 epochs with 10 seeds; MNIST (5,000 of the offline 17k) FNN [128, 128] 3 + 3 epochs and CIFAR-10
  4,000 images residual MLP width 64 4 + 4 epochs, 16 seeds; the CNN as a plumbing check only (``judged`` False: at
  widths 4/8/16 the dense head holds ~99.6% of the parameters, so an inserted conv cannot matter; 2,000 / 1,000
  images, 6 + 6 epochs, 2 seeds). Every study runs one single-thread task per core through Ray
  (``sweep.auto_executor``): a spirals arm's 100 seeds are one task. Measured single-thread CPU time at load ~10 on
  the 2 shared cores (so idle wall time is lower): a 100-seed fnn arm 15-21 CPU-s (10 seeds: 2.4-3.2), an MNIST
  run ~1 CPU-s, a CIFAR-10 MLP run ~3 CPU-s. Whole notebook: see the README (measured on a fresh clone, 2 idle
  cores).
- gpu: as cpu with 30 when/minibatch seeds; full MNIST 10 + 10 and CIFAR-10 (width 256) 15 + 15 epochs, 12 seeds;
  the CNN on full CIFAR-10 (full 10,000-image test split) at the authors' widths (64, 128, 256), 15 + 15 epochs,
  4 seeds, 4 arms, judged (convs ~14% of the parameters, a candidate 1.4-22% of them and ~90% of the FLOPs).
  Projected (not run): the CNN dominates, 16 runs x 31 passes (30 epochs + the sensitivity pass) of a <= 160
  MFLOP/image net on 50,000 images, ~2-3 s per epoch on one H100/H200 class GPU, i.e. ~15-25 min; the spirals stay
  on the CPU (~5 min with 100 seeds, from the cpu figures above). Not measured: no GPU was available when this
  profile was set.
- paper: as gpu with 40 minibatch seeds, 16 image seeds and the CNN at the authors' 50 + 50 epochs, 10 seeds.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ...config import ConfigError, PaperConfig, choices

STUDIES = ("fnn", "resnet", "validity", "when", "minibatch", "mnist", "cifar10", "cnn")
SPIRALS = ("fnn", "resnet", "validity", "when", "minibatch")  # the two-spiral studies (batched over seeds)
GROWING = ("sensli", "min", "random", "fixed")  # methods that insert; "select" rule of each
SELECT = {"sensli": "max", "min": "min", "random": "random"}
CNN_SELECT = {"sensli": "max", "min": "min"}  # the cnn study's growing arms
BIG_DEPTHS = (2, 1, 1)  # the big VGG: the candidate at position 0 present from the start

SPIRAL_STUDIES = {  # the authors' configurations (docs/papers/layer_insertion.md); epochs/insertion come from the profile
    "fnn": [dict(arch="fnn", widths=(5,), lr=0.2, factor=1.0, methods=("small", "sensli", "large"))],
    "resnet": [dict(arch="resnet", widths=(3, 3), lr=0.1, factor=1.0, methods=("small", "sensli", "large", "large+1"))],
    "validity": [dict(arch="fnn", widths=(4, 4), lr=0.2, factor=1.0, methods=("sensli", "min", "random", "fixed")),
                 dict(arch="resnet", widths=(3, 3, 3), lr=0.1, factor=0.7, methods=("sensli", "min", "random", "fixed"))],
}
CNN_ARMS = ("small", "sensli", "large", "min")
PROFILES = {
    "smoke": dict(seeds=2, epochs=120, insert_at=(30,), when=(20, 35, 50, 65, 80), when_seeds=2,
                  minibatch=dict(epochs=30, insert_at=(8,), seeds=2),
                  mnist=dict(dataset="digits", data_kw={}, train_size=None, widths=(16, 16), epochs=4, insert_at=(2,),
                             batch_size=64, lr=0.05, seeds=2),
                  cifar10=dict(dataset="synthetic", data_kw={"shape": (3, 8, 8)}, train_size=None, widths=(16, 16, 16),
                               epochs=4, insert_at=(2,), batch_size=64, lr=0.02, seeds=2),
                  cnn=dict(dataset="synthetic", data_kw={"shape": (3, 16, 16), "n_train": 128, "n_test": 64},
                           train_size=None, test_size=None, widths=(4, 8, 8), epochs=6, insert_at=(3,), batch_size=16,
                           lr=0.05, log_every=4, seeds=2, methods=CNN_ARMS)),
    "cpu": dict(seeds=100, epochs=1850, insert_at=(450,), when=tuple(range(150, 851, 100)), when_seeds=10,
                validity_after=400, minibatch=dict(epochs=1850, insert_at=(450,), seeds=10),
                mnist=dict(dataset="mnist", data_kw={}, train_size=5_000, widths=(128, 128), epochs=6, insert_at=(3,),
                           batch_size=128, lr=0.02, seeds=16),
                cifar10=dict(dataset="cifar10", data_kw={}, train_size=4_000, widths=(64, 64, 64), epochs=8,
                             insert_at=(4,), batch_size=128, lr=0.01, seeds=16),
                # A plumbing check, judged nowhere (``judged``): at widths 4/8/16 the dense head holds ~99.6% of the
                # parameters and the inserted conv adds 0.04-0.6%, and a shape where convs matter does not fit
                # 2 cores; C14/C15 are judged in the gpu profile (the authors' widths)
                cnn=dict(dataset="cifar10", data_kw={}, train_size=2_000, test_size=1_000, widths=(4, 8, 16),
                         epochs=12, insert_at=(6,), batch_size=64, lr=0.02, log_every=10, seeds=2,
                         methods=CNN_ARMS, judged=False)),
    "gpu": dict(seeds=100, epochs=1850, insert_at=(450,), when=tuple(range(150, 851, 100)), when_seeds=30,
                minibatch=dict(epochs=1850, insert_at=(450,), seeds=30),
                mnist=dict(dataset="mnist", data_kw={}, train_size=None, widths=(128, 128), epochs=20, insert_at=(10,),
                           batch_size=128, lr=0.02, seeds=12),
                cifar10=dict(dataset="cifar10", data_kw={}, train_size=None, widths=(256, 256, 256), epochs=30,
                             insert_at=(15,), batch_size=128, lr=0.01, seeds=12),
                cnn=dict(dataset="cifar10", data_kw={}, train_size=None, test_size=None, widths=(64, 128, 256),
                         epochs=30, insert_at=(15,), batch_size=128, lr=0.01, log_every=50, seeds=4,
                         methods=CNN_ARMS)),
}
PROFILES["paper"] = {**PROFILES["gpu"], "minibatch": dict(epochs=1850, insert_at=(450,), seeds=40),
                     "mnist": {**PROFILES["gpu"]["mnist"], "seeds": 16},
                     "cifar10": {**PROFILES["gpu"]["cifar10"], "seeds": 16},
                     "cnn": {**PROFILES["gpu"]["cnn"], "epochs": 100, "insert_at": (50,), "seeds": 10}}
IMAGE_METHODS = ("small", "sensli", "random", "large")


@dataclass(frozen=True)
class InsertionConfig(PaperConfig):
    """The notebook's parameters beyond ``PaperConfig``'s; 0 / empty means "the profile's value". ``seeds`` are the
    spirals studies' (fnn, resnet, validity, when); minibatch and the image studies keep their profile's."""

    PROFILES = PROFILES  # ONE_CORE_RUNS stays True: every run is single-threaded (run.tiny_threads)

    studies: tuple[str, ...] = field(default=(), metadata=choices(*STUDIES))
    epochs: int = 0  # full-batch GD epochs (= steps) of the spirals studies
    insert_at: tuple[int, ...] = ()  # insertion epochs of fnn/resnet/validity
    when: tuple[int, ...] = ()  # insertion epochs compared in the when-to-insert study
    fixed_position: int = 0  # the position the "fixed" control of the validity study always picks

    def validate(self):
        if self.epochs < 0:
            raise ConfigError(f"epochs = {self.epochs} must be >= 0 (0: the profile's)")
        p = self.plan()
        for name in ("insert_at", "when"):
            times = list(p[name])
            bad = [t for t in times if not (isinstance(t, int) and 0 < t < p["epochs"])]
            if bad or times != sorted(set(times)):
                raise ConfigError(f"{name} = {times}: insertion epochs must be increasing integers in 1..{p['epochs'] - 1} "
                                  f"(training lasts epochs = {p['epochs']}); {bad or 'not increasing'} is not")
        n_pos = min(len(s["widths"]) for s in SPIRAL_STUDIES["validity"])
        if not 0 <= self.fixed_position < n_pos:
            raise ConfigError(f"fixed_position = {self.fixed_position} does not exist in the validity nets "
                              f"(FNN [4, 4], res2 [3, 3, 3]); valid positions: {list(range(n_pos))}")

    def plan(self) -> dict:
        """The profile's settings with this config's overrides; times scale with a changed ``epochs``."""
        p = self.settings
        p["profile"] = self.resolved_profile
        scale = (self.epochs / p["epochs"]) if self.epochs else 1.0
        p["epochs"] = self.epochs or p["epochs"]
        p["insert_at"] = tuple(self.insert_at) or _scaled(p["insert_at"], scale, p["epochs"])
        p["when"] = tuple(self.when) or _scaled(p["when"], scale, p["epochs"])
        p["seeds"] = self.resolved_seeds
        p["when_seeds"] = tuple(self.seeds) or tuple(range(p["when_seeds"]))
        p["studies"] = tuple(self.studies) or STUDIES
        # E3 is a short-horizon check: the cpu profile stops it validity_after epochs after the last insertion
        after = p.get("validity_after")
        p["validity_epochs"] = min(p["epochs"], p["insert_at"][-1] + after) if after else p["epochs"]
        return p


Config = InsertionConfig


def _scaled(times, scale: float, epochs: int) -> tuple:
    return tuple(sorted({min(max(1, round(t * scale)), epochs - 1) for t in times}))


def make_config(**params) -> InsertionConfig:
    return InsertionConfig.from_dict(params)


def start_widths(c: dict) -> list[int]:
    """The hidden widths a run starts from: the config's, or for ``large`` LI's final architecture (``large+1``:
    one layer more, the authors' as-coded big net)."""
    widths = list(c["widths"])
    if c["method"].startswith("large"):
        widths += [widths[-1]] * (len(c["insert_at"]) + (c["method"] == "large+1"))
    return widths


# ----------------------------------------------------------------------------- run configs


def spiral_config(seed: int, **kw) -> dict:
    """Spirals defaults; ``log_every`` is in steps, ``sens_every``/``eval_every`` in epochs (0: never)."""
    base = dict(dataset="spirals", data_kw={}, train_size=None, batch_size=0, momentum=0.0, fixed_position=0,
                log_every=1, sens_every=50, eval_every=50, probe_lr=0.0, device="cpu", seed=seed)
    return {**base, **kw}


def spiral_configs(study: str, p: dict, fixed_position: int = 0) -> list[dict]:
    """Configs of one spirals study; every config carries ``study`` and ``method`` for grouping."""
    out = []
    if study in SPIRAL_STUDIES:
        for s in SPIRAL_STUDIES[study]:
            for method in s["methods"]:
                for seed in p["seeds"]:
                    out.append(spiral_config(seed, study=study, arch=s["arch"], widths=s["widths"], lr=s["lr"],
                                             factor=s["factor"], method=method, insert_at=p["insert_at"],
                                             epochs=p["validity_epochs"] if study == "validity" else p["epochs"],
                                             fixed_position=fixed_position,
                                             probe_lr=0.02 if study == "validity" and method == "sensli" else 0.0))
    elif study == "when":
        for seed in p["when_seeds"]:
            common = dict(study=study, arch="fnn", widths=(5,), factor=0.8, epochs=p["epochs"], sens_every=0)
            out.append(spiral_config(seed, **common, method="small", lr=0.2, insert_at=p["when"][:1]))
            out.append(spiral_config(seed, **common, method="large", lr=0.16, insert_at=p["when"][:1]))
            out += [spiral_config(seed, **common, method="sensli", lr=0.2, insert_at=(t,)) for t in p["when"]]
    elif study == "minibatch":
        m = p["minibatch"]
        for method in ("small", "sensli", "large"):
            out += [spiral_config(seed, study=study, arch="fnn", widths=(5,), lr=0.01, factor=1.0, method=method,
                                  batch_size=45, epochs=m["epochs"], insert_at=m["insert_at"], log_every=10,
                                  sens_every=10, eval_every=50)
                    for seed in range(m["seeds"])]
    return out


def image_configs(study: str, p: dict, device: str) -> list[dict]:
    m = p[study]
    arch = "fnn" if study == "mnist" else "resnet"
    return [dict(study=study, dataset=m["dataset"], data_kw=m["data_kw"], train_size=m["train_size"], arch=arch,
                 widths=m["widths"], method=method, lr=m["lr"], factor=1.0, momentum=0.9, batch_size=m["batch_size"],
                 epochs=m["epochs"], insert_at=m["insert_at"], fixed_position=0, log_every=10, sens_every=1,
                 eval_every=1, probe_lr=0.0, device=device, seed=seed)
            for method in IMAGE_METHODS for seed in range(m["seeds"])]


def cnn_configs(m: dict, device: str) -> list[dict]:
    """One config per (arm, seed) of the cnn profile ``m``; every config carries ``study`` and ``method``."""
    return [dict(study="cnn", dataset=m["dataset"], data_kw=m["data_kw"], train_size=m["train_size"],
                 test_size=m["test_size"], arch="vgg", widths=m["widths"], method=method, lr=m["lr"], factor=1.0,
                 momentum=0.9, weight_decay=5e-4, batch_size=m["batch_size"], augment=True, epochs=m["epochs"],
                 insert_at=m["insert_at"], norm="op22", log_every=m["log_every"], device=device, seed=seed)
            for method in m["methods"] for seed in range(m["seeds"])]


def grids(cfg: InsertionConfig, device=None) -> dict[str, list[dict]]:
    """``study -> configs`` for every study the config selects; the image studies run on ``device`` (None: the
    profile's; the spirals always on the CPU)."""
    p = cfg.plan()
    device = cfg.resolved_device(device).type
    out = {}
    for s in p["studies"]:
        if s == "cnn":
            out[s] = cnn_configs(p["cnn"], device)
        else:
            out[s] = image_configs(s, p, device) if s in ("mnist", "cifar10") else spiral_configs(s, p, cfg.fixed_position)
    return out
