"""Paper 2's runs as benchmark / dry-run jobs: one per grid point and seed, a layout trained for plain epochs.

Left out, being small: the final training-set evaluation of each run, the truncation check (one body, no
training) and the notebook's step timings.
"""
from __future__ import annotations

from ...data import dataset_info
from .grid import make_config, model_kwargs


def jobs(profile: str = "paper", **params) -> list[dict]:
    """One job per run of ``make_config(profile=profile, **params)`` (see ``bench.project`` for the job format).

    Configs are built for the CPU: the device is part of a run's key, not of its cost."""
    configs = make_config(profile=profile, **params).configs(device="cpu")
    infos = {d: dataset_info(d) for d in dict.fromkeys(c["dataset"] for c in configs)}  # embedded sets: measured
    out = []
    for c in configs:
        info = infos[c["dataset"]]
        shape = tuple(info["shape"])
        out.append(dict(model=c["layout"], kwargs=model_kwargs(c, shape, info["classes"]), shape=shape,
                        dataset=c["dataset"], batch_size=c["batch_size"], epochs=c["epochs"]))
    return out
