"""The device check's short runs: the first unit of each of a paper's sweeps in a profile, shortened, on the
profile's device (``bench.device_check``, step 3).

Which runs a notebook sweeps is asked of the paper package itself: its ``run`` is called as the headless trainer
calls it (``archlab.train_runs.run_calls``) with ``run_sweep`` swapped for a recorder, so the configs are exactly
the profile's. Each first unit (one run, or one batched group of seeds) is shortened to one epoch (two with an
insertion after the first, SensLI's) and trained through ``archlab.sweep``'s worker call, so a failure is recorded
with its reason as a sweep would record it.
"""
from __future__ import annotations

import sys
import time

import torch


def shorten(config, epochs: int = 1):
    """``config`` with every ``epochs`` set to ``epochs`` (2 where an ``insert_at`` sits beside it, which becomes
    1) and any warm-up removed, so one short run exercises the same code."""
    if isinstance(config, list):
        return [shorten(c, epochs) for c in config]
    if not isinstance(config, dict):
        return config
    out = {k: shorten(v, epochs) for k, v in config.items()}
    if isinstance(out.get("epochs"), int):
        out["epochs"] = 2 if "insert_at" in out else epochs
    if isinstance(out.get("insert_at"), int):
        out["insert_at"] = 1
    if "warmup_epochs" in out:
        out["warmup_epochs"] = 0.0
    return out


def first_units(package, profile: str) -> list[tuple]:
    """``(fn, runner, unit configs, grouped)`` for the first unit of every sweep ``package.run`` makes in
    ``profile``; ``runner`` is what the sweep computes the unit with (its ``group_fn`` for a group, where given)."""
    from archlab.profiles import default_device
    from archlab.sweep import group_units
    from archlab.train_runs import run_calls

    module = sys.modules[package.run.__module__]
    found = []

    def record(fn, configs, **kw):
        unit = group_units([(str(i), c) for i, c in enumerate(configs)], kw.get("group_by"))[0] if configs else []
        grouped = kw.get("group_by") is not None
        runner = kw.get("group_fn") if grouped and kw.get("group_fn") is not None else fn
        found.append((fn, runner, [c for _, c in unit], grouped))
        raise _Recorded  # the caller's code after the sweep would need a real frame

    real = module.run_sweep
    module.run_sweep = record
    try:
        cfg = package.make_config(profile=profile)
        for kwargs in run_calls(package, default_device(profile)):
            try:
                package.run(cfg, None, **kwargs)
            except _Recorded:  # one sweep per run() call: paper 4's first study stands for its others (device time)
                pass
    finally:
        module.run_sweep = real
    return found


class _Recorded(Exception):
    pass


def short_runs(profile: str, log, scratch) -> list[dict]:
    from archlab.papers import PAPERS
    from archlab.store import run_key
    from archlab.sweep import call_unit

    rows = []
    cuda = torch.cuda.is_available()
    for stem, package in sorted(PAPERS.items()):
        try:
            units = first_units(package, profile)
        except Exception as e:  # noqa: BLE001 - a paper whose configs cannot be built is a finding, not a crash
            rows.append({"paper": stem, "status": "config error", "error": f"{type(e).__name__}: {e}"})
            log(f"{stem}: configs failed: {type(e).__name__}: {e}")
            continue
        for fn, runner, configs, grouped in units:
            configs = shorten(configs)
            if cuda:
                torch.cuda.reset_peak_memory_stats()
            t0 = time.perf_counter()
            status, result, error, _ = call_unit(runner, [(run_key(fn, c), c) for c in configs], grouped)
            results = (result or {}).get("results", [result]) if grouped else [result]
            spe = [r.get("sec_per_epoch") for r in results if isinstance(r, dict) and r.get("sec_per_epoch")]
            row = {"paper": stem, "fn": fn.__name__, "runs": len(configs), "status": status, "error": error,
                   "seconds": time.perf_counter() - t0, "sec_per_epoch": spe[0] if spe else None,
                   "peak_mb": torch.cuda.max_memory_allocated() / 2**20 if cuda else None}
            rows.append(row)
            log(f"{stem} {fn.__name__} x{len(configs)}: {status} in {row['seconds']:.1f}s, sec/epoch "
                f"{row['sec_per_epoch']}, peak {row['peak_mb']} MB{f' ({error})' if error else ''}")
    return rows
