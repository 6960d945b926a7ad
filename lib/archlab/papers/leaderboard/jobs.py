"""The leaderboard's runs as benchmark / dry-run jobs: one per entry, budget and seed.

A plain entry is one phase of ``epochs`` passes; the ensemble trains its members one after the other (one phase
per member, each a single-path net of the member's widths); the SensLI VGG has two phases, before and after its
insertion (the grown net is counted with the candidate at stage 0, the position its sensitivity picked in every
cpu run so far; the other positions cost less). Left out, being small: SensLI's sensitivity pass (one forward and
backward epoch) and the test-set evaluations every quarter of the schedule.
"""
from __future__ import annotations

from ...dryrun_train import with_recipes
from .grid import make_config
from .models import factory_args


def _phases(c: dict, kwargs: dict) -> list[dict] | None:
    epochs = c["train"]["epochs"]
    if c["method"] == "ensemble":
        member = {k: v for k, v in kwargs.items() if k != "members"}
        return [dict(model="mp_plain_net", kwargs=member, epochs=epochs)] * kwargs["members"]
    if c["method"] == "sensli":
        t = c["insert_at"]
        grown = dict(kwargs, depths=(2, 1, 1))
        return [dict(kwargs=kwargs, epochs=t), dict(kwargs=grown, epochs=epochs - t)]
    return None


def jobs(profile: str = "paper", **params) -> list[dict]:
    """One job per run of ``make_config(profile=profile, **params)`` (see ``bench.project`` for the job format).

    Shapes are what the first layer sees (the profile's input pooling applied), with the dataset's sizes."""
    cfg = make_config(profile=profile, **params)
    shape = cfg.plan()["shape"]
    return [_job(c, shape) for c in cfg.configs(device="cpu")]


def dry_jobs(profile: str = "paper", **params) -> list[dict]:
    """``jobs`` with each run's training recipe (``archlab.dryrun``): the entry's TrainConfig, one run at a time."""
    cfg = make_config(profile=profile, **params)
    shape, configs = cfg.plan()["shape"], cfg.configs(device="cpu")
    return with_recipes([_job(c, shape) for c in configs], configs, [c["train"] for c in configs])


def _job(c: dict, shape) -> dict:
    kwargs = factory_args(c["kwargs"], shape)  # the factory's arguments: the stored kwargs on ``shape``, 10 classes
    job = dict(model=c["model"], kwargs=kwargs, shape=shape, dataset=c["dataset"],
               batch_size=c["train"]["batch_size"], epochs=c["train"]["epochs"])
    phases = _phases(c, kwargs)
    if phases:
        job["phases"] = phases
    if c["train_size"]:
        job["n_train"] = c["train_size"]
    if c["test_size"]:
        job["n_test"] = c["test_size"]
    return job


def datasets(profile: str = "paper", **params) -> dict[str, bool]:
    """``dataset -> optional`` of ``jobs(profile, **params)`` (the runner's data preflight): every run trains on the
    plan's dataset, so the plan answers without matching entries to budgets (seconds on the gpu profile). A plan
    none of whose entries can be matched would still name it."""
    p = make_config(profile=profile, **params).plan()
    return {p["dataset"]: False} if p["budgets"] else {}
