"""Paper 2's runs as benchmark / dry-run jobs: one per grid point, K and seed, a layout trained for the whole epochs
its step budget (``grid.schedule``) gives on K samples.

Left out, being small: the final training-set evaluation of each run, the truncation check (one body, no
training) and the notebook's step timings.
"""
from __future__ import annotations

from ...data import FILE_SETS, dataset_info
from ...dryrun_train import with_recipes
from ...preflight import datasets_of
from .grid import make_config, model_kwargs, nominal_train_size, repeats, schedule


def jobs(profile: str = "paper", **params) -> list[dict]:
    """One job per run of ``make_config(profile=profile, **params)`` (see ``bench.project`` for the job format).

    Configs are built for the CPU: the device is part of a run's key, not of its cost."""
    return _jobs(make_config(profile=profile, **params).configs(device="cpu"))


def dry_jobs(profile: str = "paper", **params) -> list[dict]:
    """``jobs`` with each run's training recipe (``archlab.dryrun``): ``run.train_config``'s TrainConfig, seeds and
    learning rates vmapped together where the profile batches (``run.run_function``)."""
    from .run import GROUP_BY, train_config

    cfg = make_config(profile=profile, **params)
    configs = cfg.configs(device="cpu")
    out = _jobs(configs)
    trains = [train_config(c, j["n_train"]).to_dict() for c, j in zip(configs, out)]
    return with_recipes(out, configs, trains, GROUP_BY if cfg.resolved_batched() else None)


def _jobs(configs: list[dict]) -> list[dict]:
    infos = {d: dataset_info(d) for d in dict.fromkeys(c["dataset"] for c in configs)}  # embedded sets: measured
    out = []
    for c in configs:
        info = infos[c["dataset"]]
        shape = tuple(info["shape"])
        K = nominal_train_size(c) if c["dataset"] in FILE_SETS else info["n_train"]
        if c["train_size"] is not None:
            K = min(K, c["train_size"])
        stream = K * repeats(c, K)  # the samples one epoch passes over (run.tiled)
        s = schedule(c, stream)
        out.append(dict(model=c["layout"], kwargs=model_kwargs(c, shape, info["classes"]), shape=shape,
                        dataset=c["dataset"], batch_size=min(c["batch_size"], stream), epochs=s["epochs"],
                        n_train=stream, n_test=min(c["test_size"] or info["n_test"], info["n_test"]),
                        evals=s["epochs"] // s["eval_every"] + 1))
    return out


def datasets(profile: str = "paper", **params) -> dict[str, bool]:
    """``dataset -> optional`` of ``jobs(profile, **params)`` (the runner's data preflight); read off the jobs,
    which are cheap to build here."""
    return datasets_of(jobs(profile, **params))
