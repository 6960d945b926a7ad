"""Sweeps: a grid of configurations, run through the run store by an executor.

Executors:
- ``local``: in this process, one run after another;
- ``ray``: Ray tasks, several per GPU (``gpus_per_run`` is the fraction of a GPU each takes), on a
  local Ray instance or on the cluster that ``RAY_ADDRESS`` names. Workers only compute; the driver
  writes every result into its run store, so the store never needs to be reachable from a cluster.

Either way a finished run is stored the moment it completes and is never recomputed, and a failing
run (exception, out-of-memory, divergence) is recorded with its reason while the sweep goes on.

With ``group_by``, configs that are equal but for the named keys (seeds, learning rates) go to ``fn`` as one
list, so a batched run function (``archlab.batched``) trains them in one step; each member is still stored under
its own key, and both executors run such groups.
"""
from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import sys
import time

import pandas as pd

from .profiles import auto_executor  # noqa: F401  (re-exported: papers resolve their executor through either)
from .store import STATUSES, RunStore, execute, finished, run_key

EXECUTORS = ("local", "ray")


_FORCED: dict = {}


@contextlib.contextmanager
def forced_sweeps(executor: str | None = None, shard=None):
    """Within the block every :func:`run_sweep` uses ``executor`` and ``shard`` whatever its caller asked for: the
    headless trainer (``archlab.train_runs``) runs a notebook's sweeps locally, one shard of each."""
    if executor is not None and executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; valid executors: {', '.join(EXECUTORS)}")
    parse_shard(shard)  # a bad shard fails here, before any sweep
    saved = dict(_FORCED)
    _FORCED.update({k: v for k, v in (("executor", executor), ("shard", shard)) if v is not None})
    try:
        yield
    finally:
        _FORCED.clear()
        _FORCED.update(saved)


def expand_grid(grid: dict, **fixed) -> list[dict]:
    """The Cartesian product of ``grid`` (a dict of lists) with ``fixed`` values added to every config."""
    for k, v in grid.items():
        if not isinstance(v, (list, tuple)):
            raise TypeError(f"grid values must be lists; {k!r} is {v!r}")
    keys = list(grid)
    return [{**dict(zip(keys, combo)), **fixed} for combo in itertools.product(*(grid[k] for k in keys))]


def parse_shard(shard) -> tuple[int, int] | None:
    """``"i/n"`` or ``(i, n)`` -> (i, n): run only configs whose position modulo n is i."""
    if shard is None:
        return None
    i, n = (int(s) for s in shard.split("/")) if isinstance(shard, str) else shard
    if not 0 <= i < n:
        raise ValueError(f"shard {shard!r} must satisfy 0 <= i < n")
    return i, n


def run_sweep(fn, configs: list[dict], *, store: RunStore | None = None, executor: str = "local",
              gpus_per_run: float = 0.25, shard=None, desc: str | None = None, verbose: bool = True,
              retry_failed: bool = False, group_by=None, group_fn=None) -> pd.DataFrame:
    """Run every config not yet in the store and return all of them as a DataFrame.

    Columns: the config keys, the scalar entries of each result, ``status``, ``error``, ``seconds``,
    ``key``, and ``result`` (the whole result dict). With ``shard="i/n"`` only that shard is run, but
    the frame still holds every config already stored. Runs the environment failed (``oom``, ``environment``:
    missing data, a killed worker) are always retried; ``retry_failed`` also reruns ``failed`` ones (after fixing
    their cause); finished and diverged runs are never recomputed.

    ``group_by``: a config key (dotted for a nested one, ``"train.seed"``) or a tuple of keys. Configs equal but
    for them form a group that runs as one call ``fn(list_of_configs) -> list_of_results``; a group that raises
    is recorded as failed (or oom) for each member, and ``seconds`` is each member's share. Shards split whole
    groups. Without it ``fn`` takes one config. It may also be a function ``config -> group name``, None for a
    config that runs as a group of its own (e.g. ``lambda c: group_name(c, "seed") if packs(c) else None``), so
    that the groups and the single runs of one sweep share its workers.

    ``group_fn`` (with ``group_by``): an execution strategy, not another experiment: each group runs as one call
    ``group_fn(list_of_configs)`` while every member is stored under ``fn``'s key, so a stored run is found again
    whichever way it was trained. ``group_fn`` must return what ``fn`` returns per config, equal up to rounding
    (e.g. K seeds packed into one network, ``archlab.packed_train``); runs ``fn`` already stored are not retrained.
    """
    executor, shard = _FORCED.get("executor", executor), _FORCED.get("shard", shard)
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; valid executors: {', '.join(EXECUTORS)}")
    store = store if store is not None else RunStore()
    keys = [run_key(fn, c) for c in configs]
    if len(set(keys)) != len(keys):
        raise ValueError("the sweep holds duplicate configurations")
    done = _finished_keys(fn, store, retry_failed)
    sh = parse_shard(shard)
    units = group_units(list(zip(keys, configs)), group_by)
    todo = [[(k, c) for k, c in unit if k not in done] for j, unit in enumerate(units)
            if sh is None or j % sh[1] == sh[0]]
    todo = [unit for unit in todo if unit]
    log = _Reporter(sum(map(len, todo)), sum(k in done for k in keys), desc or fn.__name__, verbose)
    grouped = group_by is not None
    runner = group_fn if grouped and group_fn is not None else fn  # computes; fn alone names the stored runs
    if todo:
        if executor == "local":
            for unit in todo:
                _store_unit(store, fn, unit, call_unit(runner, unit, grouped), grouped, log)
        else:
            _run_ray(fn, todo, store, gpus_per_run, log, grouped, runner)
    log.close()
    return frame(store, fn, configs)


def pending(fn, configs: list[dict], store: RunStore | None = None, retry_failed: bool = False) -> list[dict]:
    """The configs :func:`run_sweep` would compute (not yet stored as finished), in order: what an execution choice
    made before the sweep (how to group, whether to pack) needs to ask about."""
    done = _finished_keys(fn, store if store is not None else RunStore(), retry_failed)
    return [c for c in configs if run_key(fn, c) not in done]


def _finished_keys(fn, store: RunStore, retry_failed: bool) -> set[str]:
    """Keys of ``fn``'s runs a sweep loads instead of computing (runs stored under a former name migrated first)."""
    store.migrate(fn)
    return store.keys(fn, statuses=finished(retry_failed))


def group_units(items: list, group_by) -> list[list]:
    """``items`` ((key, config) pairs) as units of work: one each, or groups of configs equal but for ``group_by``
    (or of one :func:`run_sweep`'s ``group_by(config)`` name), in order of first appearance, so shards are stable."""
    if group_by is None:
        return [[it] for it in items]
    name = group_by if callable(group_by) else (lambda c: group_name(c, group_by))
    groups: dict = {}
    for i, (k, c) in enumerate(items):
        g = name(c)
        groups.setdefault(("alone", i) if g is None else g, []).append((k, c))
    return list(groups.values())


def group_name(config: dict, group_by) -> str:
    """What the configs of one group share: ``config`` without the key(s) ``group_by``, as text."""
    rest = config
    for path in (group_by,) if isinstance(group_by, str) else tuple(group_by):
        rest = _without(rest, path)
    return json.dumps(rest, sort_keys=True, default=str)


def _without(config: dict, path: str) -> dict:
    """``config`` minus the (possibly nested, dotted) key ``path``."""
    head, _, rest = path.partition(".")
    if not rest:
        return {k: v for k, v in config.items() if k != head}
    return {**config, head: _without(config.get(head, {}), rest)}


class _Batch:
    """``fn`` over a list of configs, shaped for :func:`execute` (module level, so Ray can ship it)."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, config: dict) -> dict:
        results = self.fn(config["configs"])
        if not isinstance(results, list) or len(results) != len(config["configs"]):
            raise TypeError(f"{self.fn.__name__} must return one result per config, got {type(results).__name__}")
        return {"results": results}


def call_unit(fn, unit: list, grouped: bool) -> tuple:
    """What a worker runs for one unit: :func:`execute` of one config or of one group."""
    if not grouped:
        return execute(fn, unit[0][1])
    return execute(_Batch(fn), {"configs": [c for _, c in unit]})


def _store_unit(store, fn, unit: list, outcome: tuple, grouped: bool, log) -> None:
    status, result, error, seconds = outcome
    if not grouped:
        (k, c), = unit
        store.put(k, fn, c, status, result, error, seconds)
        log.update(c, status, seconds, error)
        return
    results = result["results"] if result else [None] * len(unit)
    share = None if seconds is None else seconds / len(unit)
    for (k, c), r in zip(unit, results):
        s, e = (status, error) if r is None else (r.get("status", "ok"), r.get("error"))
        s = s if s in STATUSES else "failed"
        store.put(k, fn, c, s, r, e, share)
        log.update(c, s, share, e)


def frame(store: RunStore, fn, configs: list[dict]) -> pd.DataFrame:
    """Stored runs of ``fn`` for ``configs`` as a DataFrame (configs not yet run are left out)."""
    stored = {r["key"]: r for r in store.runs(fn)}  # one query, not one per config
    rows = []
    for c in configs:
        r = stored.get(run_key(fn, c))
        if r is None:
            continue
        result = r["result"] or {}
        scalars = {k: v for k, v in result.items() if isinstance(v, (int, float, str, bool)) or v is None}
        rows.append({**c, **scalars, "status": r["status"], "error": r["error"], "seconds": r["seconds"],
                     "key": r["key"], "result": result})
    return pd.DataFrame(rows)


def _run_ray(fn, todo, store, gpus_per_run, log, grouped, runner=None):
    import ray
    import torch

    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        # Ray's INFO lines and its token-authentication notice (a local cluster enables token auth by default and
        # says so on every start) would land in the stored notebook; warnings that matter still show.
        kwargs = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING}
        logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
        if address:
            import archlab

            from .paths import data_root

            # A remote cluster gets this checkout of archlab shipped to its workers, and the driver's data folder
            # (which must be reachable at the same path on every node, e.g. a shared mount).
            kwargs["runtime_env"] = {"py_modules": [archlab], "env_vars": {"ARCHLAB_DATA": str(data_root())}}
        else:
            # Told, not detected: a Ray that misses the GPU would never schedule a fractional-GPU task, and
            # ray.wait below would block for ever.
            kwargs["num_gpus"] = torch.cuda.device_count()
        ray.init(address=address, **kwargs)
    gpus = gpus_per_run if (torch.cuda.is_available() or ray.cluster_resources().get("GPU", 0)) else 0
    task = ray.remote(num_cpus=1, num_gpus=gpus, max_retries=0)(call_unit)
    # Bounded in-flight window: results stream back and are stored as they finish.
    window = max(1, int(ray.cluster_resources().get("CPU", 1)) * 2)
    pending, queue = {}, list(todo)
    while queue or pending:
        while queue and len(pending) < window:
            unit = queue.pop(0)
            pending[task.remote(runner or fn, unit, grouped)] = unit
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            unit = pending.pop(ref)
            try:
                outcome = ray.get(ref)
            except Exception as e:  # noqa: BLE001 - a killed worker or a lost node is a failed run
                outcome = "environment", None, f"{type(e).__name__}: {str(e).splitlines()[0]}", None
            _store_unit(store, fn, unit, outcome, grouped, log)


class _Reporter:
    """A tqdm bar when interactive. Headless (papermill, CI) the notebook stores what is printed, so it gets a few
    lines, not a run log: the start, a progress line at most once a minute (the terminal of ``make reproduce`` still
    sees a long sweep move), every run that did not finish ``ok``, and a summary with the count per status."""

    EVERY_S = 60.0

    def __init__(self, n: int, cached: int, desc: str, verbose: bool):
        from .train import interactive

        self.n, self.i, self.desc, self.verbose = n, 0, desc, verbose
        self.t0 = time.perf_counter()
        self.bar = None
        self.statuses: dict[str, int] = {}
        self.shown = self.t0  # when progress was last printed
        if verbose:
            print(f"[{desc}] {n} runs to do, {cached} already stored", flush=True)
            if n and interactive():
                from tqdm.auto import tqdm

                self.bar = tqdm(total=n, desc=desc)

    def update(self, config, status, seconds, error):
        self.i += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if self.bar is not None:
            self.bar.update(1)
            if status != "ok":
                self.bar.write(f"{status}: {config} {error or ''}")
        elif self.verbose:
            if status != "ok":
                print(f"[{self.desc}] {status} in {seconds or 0:.1f}s: {config} {error or ''}", flush=True)
            now = time.perf_counter()
            if now - self.shown >= self.EVERY_S and self.i < self.n:
                self.shown = now
                eta = (now - self.t0) / self.i * (self.n - self.i)
                print(f"[{self.desc}] {self.i}/{self.n} runs, eta {eta:.0f}s", file=sys.stdout, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()
        if self.verbose and self.n:
            counts = ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items()))
            print(f"[{self.desc}] done: {self.n} runs in {time.perf_counter() - self.t0:.1f}s ({counts})", flush=True)
