"""The time packing saves on one profile of notebook 01: each group of seeds the notebook trains (one architecture,
``run.GROUP_BY``) timed side by side packed and one seed at a time (``archlab.packed_probe.packing_speedup``: the
same training step, thread count and batch size), scaled by the group's number of training steps.

``savings`` is a measurement of the training steps only (not data loading, evaluation or the gradient
diagnostics, which packing leaves alone); it is how the methods note states the time packing saves. A group the
probe finds slower packed is counted at its one-at-a-time time, as ``packing_choice`` would run it.
"""
from __future__ import annotations

import math

import pandas as pd

from ...sweep import group_units
from .grid import FAMILIES, make_config, training_configs


def savings(profile: str = "cpu", steps: int = 6, repeats: int = 2, threads: int = 1, log=None, **params) -> pd.DataFrame:
    """One row per group of seeds of ``profile``: seeds (K), training steps per run, seconds per step one at a time
    and packed, and the group's training time both ways (``single_total_s`` = K x steps x one seed's step,
    ``packed_total_s`` = steps x the packed step, or the one-at-a-time time where packing would be slower)."""
    from ...packed_probe import packing_speedup, seeded_factory, speedup_pays

    configs = training_configs(make_config(profile=profile, **params).plan())
    rows = []
    for unit in group_units([(str(i), c) for i, c in enumerate(configs)], "train.seed"):
        c, K = unit[0][1], len(unit)
        t = c["train"]
        n = c["train_size"] or 50_000
        run_steps = t["epochs"] * math.ceil(n / t["batch_size"])
        if log:
            log(f"{FAMILIES[c['model']]} {c['model_kwargs']} K={K}")
        shape = (3, 32, 32)
        make = seeded_factory(c["model"], num_classes=10, input_shape=shape, **c["model_kwargs"])
        r = packing_speedup(make, shape, min(t["batch_size"], n), K=K, steps=steps,
                            repeats=repeats, threads=threads) if K > 1 else {"speedup": None}
        single = r.get("single_s", math.nan)
        one = K * run_steps * single if K > 1 else math.nan
        packed = run_steps * r["packed_s"] if speedup_pays(r) else one
        rows.append({"family": FAMILIES[c["model"]], "blocks": c["model_kwargs"]["blocks"],
                     "widths": tuple(c["model_kwargs"]["widths"]), "K": K, "steps": run_steps,
                     "speedup": r["speedup"], "single_total_s": one, "packed_total_s": packed})
    return pd.DataFrame(rows)
