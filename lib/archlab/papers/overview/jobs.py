"""The harness check's runs as benchmark / dry-run jobs."""
from __future__ import annotations

from ...data import dataset_info
from ...preflight import datasets_of
from .grid import configs, make_config


def jobs(profile: str = "paper", **params) -> list[dict]:
    """One job per run of ``make_config(profile=profile, **params)``: ``small_cnn`` per optimizer and seed (see
    ``bench.project`` for the job format)."""
    out = []
    for c in configs(make_config(profile=profile, **params)):
        info = dataset_info(c["dataset"])
        out.append(dict(model=c["model"], dataset=c["dataset"], shape=info["shape"],
                        kwargs={**c["model_kwargs"], "num_classes": info["classes"], "in_chans": info["shape"][0]},
                        batch_size=c["train"]["batch_size"], epochs=c["train"]["epochs"]))
    return out


def datasets(profile: str = "paper", **params) -> dict[str, bool]:
    """``dataset -> optional`` of ``jobs(profile, **params)`` (the runner's data preflight); read off the jobs,
    which are cheap to build here."""
    return datasets_of(jobs(profile, **params))
