"""The harness check's runs as benchmark / dry-run jobs."""
from __future__ import annotations

from ...data import dataset_info
from ...dryrun_train import with_recipes
from ...preflight import datasets_of
from .grid import configs, make_config


def jobs(profile: str = "paper", **params) -> list[dict]:
    """One job per run of ``make_config(profile=profile, **params)``: ``small_cnn`` per optimizer and seed (see
    ``bench.project`` for the job format)."""
    return [_job(c) for c in configs(make_config(profile=profile, **params))]


def dry_jobs(profile: str = "paper", **params) -> list[dict]:
    """``jobs`` with each run's training recipe (``archlab.dryrun``): ``run_training``'s TrainConfig, one at a time."""
    cs = configs(make_config(profile=profile, **params))
    return with_recipes([_job(c) for c in cs], cs, [c["train"] for c in cs])


def _job(c: dict) -> dict:
    info = dataset_info(c["dataset"])
    return dict(model=c["model"], dataset=c["dataset"], shape=info["shape"],
                kwargs={**c["model_kwargs"], "num_classes": info["classes"], "input_shape": tuple(info["shape"])},
                batch_size=c["train"]["batch_size"], epochs=c["train"]["epochs"])


def datasets(profile: str = "paper", **params) -> dict[str, bool]:
    """``dataset -> optional`` of ``jobs(profile, **params)`` (the runner's data preflight); read off the jobs,
    which are cheap to build here."""
    return datasets_of(jobs(profile, **params))
