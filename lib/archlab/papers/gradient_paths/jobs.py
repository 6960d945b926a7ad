"""Paper 1's runs as benchmark / dry-run jobs: E2 (stop-gradient), E3 (stacking) and E4-E6 (CSP / PRN / summary),
a run two experiments share counted once.

Left out, being small: E1's static path accounting (torch.fx, no training) and each run's gradient diagnostics
(two forward+backward passes on one 256-sample batch).
"""
from __future__ import annotations

from ...data import dataset_info
from .grid import make_config, training_configs


def jobs(profile: str = "paper", **params) -> list[dict]:
    """One job per run of ``make_config(profile=profile, **params)`` (see ``bench.project`` for the job format)."""
    out = []
    for c in training_configs(make_config(profile=profile, **params).plan()):
        d = c["dataset"]
        info = dataset_info(d)
        shape = tuple(info["shape"])
        kwargs = {**c["model_kwargs"], "num_classes": info["classes"], "in_chans": shape[0]}
        out.append(dict(model=c["model"], kwargs=kwargs, shape=shape, dataset=d,
                        batch_size=c["train"]["batch_size"], epochs=c["train"]["epochs"]))
    return out
