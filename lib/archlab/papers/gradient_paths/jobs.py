"""Paper 1's runs as benchmark / dry-run jobs: E2 (stop-gradient), E3 (stacking) and E4-E6 (CSP / PRN / summary),
a run two experiments share counted once.

Left out, being small: E1's static path accounting (torch.fx, no training) and each run's gradient diagnostics
(two forward+backward passes on one fixed batch, before and after training).
"""
from __future__ import annotations

from ...data import dataset_info
from ...dryrun_train import with_recipes
from .grid import EXPERIMENTS, experiment_plan, make_config, training_configs


def jobs(profile: str = "paper", **params) -> list[dict]:
    """One job per run of ``make_config(profile=profile, **params)`` (see ``bench.project`` for the job format);
    a profile that trains on a subset says so (``n_train``, ``n_test``), and one that evaluates only at the end
    of training says how often it evaluates (``evals``)."""
    return [_job(c) for c in training_configs(make_config(profile=profile, **params).plan())]


def dry_jobs(profile: str = "paper", **params) -> list[dict]:
    """``jobs`` with each run's training recipe (``archlab.dryrun``): its TrainConfig, seeds vmapped together where
    the plan batches (``run.run_function``)."""
    from .run import GROUP_BY

    p = make_config(profile=profile, **params).plan()
    cs = training_configs(p)
    return with_recipes([_job(c) for c in cs], cs, [c["train"] for c in cs], GROUP_BY if p["batched"] else None)


def _job(c: dict) -> dict:
    d, t = c["dataset"], c["train"]
    info = dataset_info(d)
    shape = tuple(info["shape"])
    kwargs = {**c["model_kwargs"], "num_classes": info["classes"], "input_shape": shape}
    job = dict(model=c["model"], kwargs=kwargs, shape=shape, dataset=d, batch_size=t["batch_size"],
               epochs=t["epochs"], evals=-(-t["epochs"] // t.get("eval_every", 1)))
    job.update({k: v for k, v in (("n_train", c["train_size"]), ("n_test", c["test_size"])) if v})
    return job


def datasets(profile: str = "paper", **params) -> dict[str, bool]:
    """``dataset -> optional`` of ``jobs(profile, **params)`` (the runner's data preflight), none optional: every
    run trains on its experiment's plan's dataset, so the plans answer without E4-E6's width matching (~100 cost
    counts, seconds)."""
    p = make_config(profile=profile, **params).plan()
    return dict.fromkeys((experiment_plan(p, e)["dataset"] for e in EXPERIMENTS), False)
