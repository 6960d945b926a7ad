"""The leaderboard's profiles, the shared recipe, the notebook config and its run configs.

One recipe for every entry (``RECIPE``): the same optimizer, schedule, augmentation (pad-4 crop + flip on the
32x32 images), batch size, epochs and seeds, so an entry differs from another only in its architecture and the
width that matches it to the budget. SensLI inserts its layer halfway through (``INSERT_FRACTION``, as paper 4's CNN
schedule does). Every run of one seed shares that seed's data order and augmentation draws with every other entry,
so comparisons are paired by seed.

Profiles (what each shrinks, and why the regime is kept: every entry trains the whole recipe to its end, and every
verdict checks that the compared nets reached the stated training accuracy, see ``claims``):

- smoke: embedded synthetic 3x32x32 images (256 / 128), pooled to 16x16 before the first layer, 3 epochs, 2 seeds,
  budgets 12k (5 entries) and 290k (ResNet and SensLI), each entry's probe at 6 epochs: plumbing only, any verdict.
- cpu:   CIFAR-10, the same 2,500 training images for every entry and the full 10,000-image test split, pooled 2x2
         to 16x16 *after* the 32x32 crop and flip (the augmentation keeps its strength; the first layer sees 16x16),
         the 50k budget, the entries of ``CPU_ENTRIES`` (the residual baseline and the three papers' designs a
         verdict needs below 800k), 8 seeds x ``EPOCHS_CPU`` epochs plus one probe per entry at twice the epochs.
         Seeds (issue 31): at 2,500 test images the paired spread of C1/C2 (1.1-1.3 pp over 3 seeds) was about all
         test-set noise (bound 1.4 pp); the full split halves that part (~0.7 pp), leaving a projected spread of at
         most ~0.9 pp, so 8 seeds give a 95% half-width of about 2.36 x 0.9 / sqrt(8) = 0.75 pp, enough to place
         C1's -0.3 pp and C2's -0.9 pp on one side of 0.5 pp. The notebook shows the split on its own runs.
         SensLI is not trained: its fixed 500-500 classifier holds 255k parameters at 16x16, so its smallest budget
         (290k) holds a VGG of widths (4, 8, 16) whose convs are ~1% of it and whose insertion adds ~0.8%: a C4 there
         would test the classifier, not insertion, and its ResNet (21.7 MFLOPs per image) costs as much as another
         parallel entry. C4 stays in the gpu profile.
         Time: PROJECTED about 10-11 min on 2 idle cores. Per-entry seconds per epoch of 2,500 images, one thread,
         from the committed runs (results/05_leaderboard/runs.csv, medians): ResNet 0.77, ELAN 1.02, MP2-CC 0.88,
         parallel 1.56 = 4.2 s for the four; x (8 x 20 + 40 probe) epochs = ~840 core-s, + ~50 core-s for one pass
         over the 10,000 test images per run (forward only, ~1/3 of a training step per image) = ~890 core-s; at a
         1.8x two-core speed-up (one single-thread run per core) ~490 s, + ~150 s for budget matching, FLOP
         counting, Ray start, figures and tables (the 301 s notebook of 20-epoch x 3-seed runs less its training).
- gpu:   full CIFAR-10 at 32x32, every entry at every budget it fits (50k, 200k, 800k), 4 seeds, 10 epochs, each
         entry's probe at 20 epochs: 230 runs, never run here. Its FLOPs and time are projected from ``jobs("gpu")``
         by ``make bench`` and the device check (docs/gpu.md); the earlier count, 49 PFLOP of training + 1.6 PFLOP
         of test evaluations and about 17 min on one H200 at an assumed 50 TFLOP/s, was made for 4 seeds x 15 epochs
         = 60 epochs per entry, as many as 4 x 10 + the 20-epoch probe now: still about 17 min.
- paper: the gpu profile with 10 seeds and 30 epochs.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...config import ConfigError, PaperConfig
from .budgets import match
from .models import ENTRIES, entry

# The shared recipe: SGD + Nesterov, linear warm-up then cosine decay to zero, weight decay on kernels only,
# pad-4 crop + flip; chosen as the common CIFAR-10 recipe that trains BN-free nets (paper 4's VGG) as well as BN ones.
RECIPE = dict(optimizer="sgd", lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4, schedule="cosine",
              label_smoothing=0.0, augment=True)
LR_BATCH = 128  # lr is 0.05 per 128 images: a profile with larger batches scales it linearly
WARMUP = 2.0  # epochs of linear warm-up (at most a quarter of the schedule): paper 2's parallel layer blew up without
INSERT_FRACTION = 0.5  # SensLI inserts after half the epochs (paper 4's CNN schedule: 15 of 30)
PROBE_FACTOR = 2  # the longer probe: seed 0 of every entry again with this many times the epochs (claims.FITTED)
PROBE_SEED = 0
BUDGETS = (50_000, 200_000, 800_000)
ALL = tuple(ENTRIES)
CPU_ENTRIES = ("resnet", "elan", "parallel", "mp2_cc")
EPOCHS_CPU = 20
PROFILES = {
    "smoke": dict(dataset="synthetic", data_kw={"shape": (3, 32, 32), "n_train": 256, "n_test": 128}, pool=2,
                  train_size=None, test_size=None, seeds=2, epochs=3, batch_size=64,
                  budgets={12_000: ("resnet", "elan", "parallel", "mp2_cc", "ens2"), 290_000: ("resnet", "sensli")},
                  expected="under 60 s on 2 CPU cores (notebook included)"),
    "cpu": dict(dataset="cifar10", data_kw={}, pool=2, train_size=2_500, test_size=None, seeds=8,
                epochs=EPOCHS_CPU, batch_size=128, budgets={50_000: CPU_ENTRIES},
                expected="about 10-11 min on 2 idle cores (projected from measured epochs)"),
    "gpu": dict(dataset="cifar10", data_kw={}, pool=1, train_size=None, test_size=None, seeds=4, epochs=10,
                batch_size=256, budgets={b: ALL for b in BUDGETS},
                expected="about 17 min on one H200 (projected from counted FLOPs, probes included)"),
}
PROFILES["paper"] = {**PROFILES["gpu"], "seeds": 10, "epochs": 30, "expected": "about 7.5x the gpu profile: 10 seeds x 30 epochs vs 4 x 10"}


@dataclass(frozen=True)
class LeaderboardConfig(PaperConfig):
    """The notebook's parameters; 0 or an empty list means "the profile's value" (seeds: the profile's count of
    seeds, 0, 1, ...)."""

    PROFILES = PROFILES  # the base's ClassVar: this paper's profiles

    entries: tuple[str, ...] = ()  # restrict to these entries (default: the profile's)
    budgets: tuple[int, ...] = ()  # restrict to these budgets (default: the profile's)
    epochs: int = 0
    gpus_per_run: float = 0.25

    def validate(self):
        bad = [e for e in self.entries if e not in ENTRIES]
        if bad:
            raise ConfigError(f"entries: unknown entr{'y' if len(bad) == 1 else 'ies'} {bad}; valid entries: "
                              f"{list(ENTRIES)}")
        allowed = sorted(self.settings["budgets"])
        bad = [b for b in self.budgets if b not in allowed]
        if bad:
            raise ConfigError(f"budgets: {bad} not in the {self.resolved_profile} profile; valid budgets: {allowed}")
        if self.epochs < 0:
            raise ConfigError(f"epochs = {self.epochs} must be >= 0 (0: the profile's)")
        if len(self.resolved_seeds) < 2:
            raise ConfigError(f"seeds = {list(self.seeds)}: the verdicts need at least 2 seeds per entry (empty: the "
                              f"profile's {self.settings['seeds']})")
        if 0 < self.epochs < 2:
            raise ConfigError(f"epochs = {self.epochs}: SensLI inserts halfway, so at least 2 epochs (0: the "
                              f"profile's {self.settings['epochs']})")
        if not 0 < self.gpus_per_run <= 1:
            raise ConfigError(f"gpus_per_run = {self.gpus_per_run} must be in (0, 1]")

    def plan(self) -> dict:
        """The profile's settings with this config's overrides applied."""
        p = self.settings
        p["seeds"] = self.resolved_seeds
        p["epochs"] = self.epochs or p["epochs"]
        budgets = {b: tuple(e for e in es if not self.entries or e in self.entries)
                   for b, es in p["budgets"].items() if not self.budgets or b in self.budgets}
        p["budgets"] = {b: es for b, es in budgets.items() if es}
        p["shape"] = input_shape(p)
        return p

    def pairs(self) -> list[tuple[str, int]]:
        """(entry, budget) of every matched entry, in budget then entry order (entries a budget cannot hold, such
        as the SensLI VGG below its classifier's 255k parameters, are left out: see ``unmatched``)."""
        p = self.plan()
        return [(e, b) for b, es in p["budgets"].items() for e in es if match(e, b, p["shape"]) is not None]

    def unmatched(self) -> list[tuple[str, int]]:
        p = self.plan()
        return [(e, b) for b, es in p["budgets"].items() for e in es if match(e, b, p["shape"]) is None]

    def configs(self, device=None) -> list[dict]:
        """One run config per matched (entry, budget) and seed; ``device`` is part of the key."""
        p = self.plan()
        device = self.resolved_device(device).type
        out = []
        for name, budget in self.pairs():
            m, e = match(name, budget, p["shape"]), entry(name)
            # the seeds the verdicts compare, then the longer probe that says whether they were trained long enough
            runs = [(seed, p["epochs"], "seed") for seed in p["seeds"]]
            for seed, epochs, role in runs + [(PROBE_SEED, PROBE_FACTOR * p["epochs"], "probe")]:
                c = dict(entry=name, budget=budget, model=e.model, kwargs=m.kwargs, method=e.method,
                         dataset=p["dataset"], data_kw=dict(p["data_kw"]), train_size=p["train_size"],
                         test_size=p["test_size"], pool=p["pool"], role=role,
                         train=recipe(epochs, p["batch_size"], seed), device=device)
                if e.method == "sensli":
                    c["insert_at"] = max(1, int(INSERT_FRACTION * epochs))
                out.append(c)
        return out

    def describe(self) -> str:
        p = self.plan()
        lines = [f"profile {self.resolved_profile}: {len(self.configs())} runs = {len(self.pairs())} entries x "
                 f"budgets x ({len(p['seeds'])} seeds + a {PROBE_FACTOR}x longer probe), {p['epochs']} epochs, batch {p['batch_size']}, {p['dataset']} "
                 f"train {p['train_size'] or 'all'} / test {p['test_size'] or 'all'}, first layer at "
                 f"{p['shape'][1]}x{p['shape'][2]}; expected {p['expected']}"]
        r = recipe(p["epochs"], p["batch_size"], 0)
        lines.append("  recipe: " + ", ".join(f"{k} {r[k]}" for k in ("optimizer", "lr", "momentum", "nesterov",
                     "weight_decay", "schedule", "warmup_epochs", "augment", "epochs", "batch_size")))
        lines += [f"  budget {b:,}: {', '.join(es)}" for b, es in p["budgets"].items()]
        lines += [f"  not at budget {b:,}: {e} (cannot be matched within 5%)" for e, b in self.unmatched()]
        return "\n".join(lines)


def recipe(epochs: int, batch_size: int, seed: int) -> dict:
    """The shared recipe at a profile's epochs and batch size: lr scaled with the batch, warm-up at most a quarter
    of the schedule. The test set is looked at once, after training (``run.train_entry``), so no evaluation during."""
    return dict(RECIPE, lr=RECIPE["lr"] * batch_size / LR_BATCH, warmup_epochs=min(WARMUP, epochs / 4),
                epochs=epochs, batch_size=batch_size, seed=seed, eval_every=epochs)


def input_shape(p: dict) -> tuple:
    """What the first layer sees: the data's sample shape divided by the profile's input pooling."""
    shape = tuple(p["data_kw"].get("shape", (3, 32, 32)))
    return (shape[0], *(s // p["pool"] for s in shape[1:]))


Config = LeaderboardConfig


def make_config(**params) -> LeaderboardConfig:
    """The notebook's config factory (bad values are refused, naming the valid ones, before any training)."""
    return LeaderboardConfig.from_dict(params)
