"""Paper 3's runs as benchmark / dry-run jobs: E1-E4 and E6 on the first dataset, E5 on each other one (counted
whether or not its files are on this machine, and marked ``optional``: the notebook skips E5 when they are absent).

``train_arm`` evaluates at the end only (two passes over the test set: loss and accuracy, then the per-example
correctness; one over the training set); multi-path nets add the routing analyses on ``analysis_size`` test images:
one prediction pass plus one per ablated (stage, path). Ens2 trains its members one after the other, so
it is one phase per member (a one-member ensemble costs one member). E6's two-context set is its base set with
half the images inverted (same size); its runs add a prediction pass (per-domain accuracy) for every arm and, in
multi-path nets, a second ablation pass per (stage, path) (drops per domain).
"""
from __future__ import annotations

from ...data import dataset_info
from ...dryrun_train import with_recipes
from ...preflight import datasets_of
from .arms import model_spec
from .contexts import base_dataset
from .grid import PROFILES, make_config, run_configs


def jobs(profile: str = "paper", **params) -> list[dict]:
    """One job per run of ``make_config(profile=profile, **params)`` (see ``bench.project`` for the job format)."""
    return [job(c, optional) for c, optional in _runs(make_config(profile=profile, **params))]


def dry_jobs(profile: str = "paper", **params) -> list[dict]:
    """``jobs`` with each run's training recipe (``archlab.dryrun``): ``run.train_config``, one run at a time (an
    ensemble's members one after the other, as its phases say)."""
    from .run import train_config

    runs = _runs(make_config(profile=profile, **params))
    configs = [c for c, _ in runs]
    return with_recipes([job(c, o) for c, o in runs], configs, [train_config(c).to_dict() for c in configs])


def datasets(profile: str = "paper", **params) -> dict[str, bool]:
    """``dataset -> optional`` of ``jobs(profile, **params)`` (the runner's data preflight), from the same runs
    without their width search."""
    return datasets_of([dict(dataset=base_dataset(c["dataset"]), optional=optional)
                        for c, optional in _runs(make_config(profile=profile, **params), matched=False)])


def _runs(cfg, matched: bool = True) -> list[tuple[dict, bool]]:
    """(run config, optional) of every run: every dataset of the profile counted, E5's marked optional."""
    datasets = PROFILES[cfg.resolved_profile]["datasets"] if cfg.dataset == "auto" else None
    return [(c, datasets is not None and base_dataset(c["dataset"]) != datasets[0])
            for c in run_configs(cfg, datasets=datasets, matched=matched)]


def job(c: dict, optional: bool = False) -> dict:
    """The job of one run config."""
    d = base_dataset(c["dataset"])
    e6 = d != c["dataset"]
    info = dataset_info(d)
    name, kw = model_spec(c["arm"], c["widths"], c["stem"], c["convs_per_stage"], c["width_mult"],
                          c.get("pool_input", 1))
    kw = {**kw, "num_classes": info["classes"], "input_shape": tuple(info["shape"])}
    # evals counts test-set passes; the training-set pass is n_train / n_test of them (5 on full CIFAR)
    n_train, n_test = c["train_size"] or info["n_train"], c["test_size"] or info["n_test"]
    out = dict(model=name, kwargs=kw, shape=tuple(info["shape"]), dataset=d, batch_size=c["batch_size"],
               epochs=c["epochs"], evals=2 + round(n_train / n_test), n_train=n_train, n_test=n_test)
    share = min(1.0, (c.get("analysis_size") or n_test) / n_test)  # analyses read a subset of the test set
    if name == "multipath_net":
        out["evals"] += max(1, round(share * (1 + (2 if e6 else 1) * len(c["widths"]) * kw["paths"])))
    elif e6:
        out["evals"] += 1
    if name == "mp_ensemble":
        out["phases"] = [dict(kwargs={**kw, "members": 1})] * kw["members"]
    if optional:
        out["optional"] = True
    return out
