"""Train every run a notebook needs into a run store, headless: no papermill, no widgets, no Ray.

``python -m archlab.train_runs NOTEBOOK [-p name value ...] [--shard i/n] [--store PATH]``

For a GPU machine that has torch but not the notebook stack (papermill, nbformat, ipywidgets, Ray), or to split a
profile over machines: the notebook's parameters are checked as ``python -m archlab.run`` checks them, its paper
package's ``make_config`` and ``run`` train (or load) exactly the runs the notebook would, under the same run keys,
one after another in this process. ``--shard i/n`` trains every n-th unit of each sweep; stores from several
shards or machines merge with ``python -m archlab.store merge``. The notebook then renders from the store with no
run left to do: ``python -m archlab.run NOTEBOOK -p profile ...`` on any machine, the store at ``results/runs.sqlite``.
"""
from __future__ import annotations

import argparse
import inspect
import sys
import time
from pathlib import Path

from .config import ConfigError
from .profiles import default_device, resolve_profile
from .run import ParameterError, check_parameters, exit_status, notebook_datasets, notebook_package, parse_value
from .store import RunStore
from .sweep import forced_sweeps


def run_calls(package, device) -> list[dict]:
    """The keyword arguments of each ``package.run(cfg, store, **kw)`` call the notebook makes: one per experiment
    when ``run`` takes ``experiment`` (paper 1 runs e2, e3 and e456), ``device`` where ``run`` takes one (the
    notebook passes its session's device, the profile's default)."""
    accepted = inspect.signature(package.run).parameters
    base = {"device": device} if "device" in accepted else {}
    if "experiment" in accepted:
        experiments = sys.modules[package.run.__module__].EXPERIMENTS
        return [{**base, "experiment": e} for e in experiments]
    return [base]


def train_notebook(path: Path, given: dict, store: RunStore, shard: str | None = None, log=print) -> int:
    """Train (or load) every run of the notebook at ``path`` with parameters ``given``; returns the number of runs
    stored in ``store`` afterwards."""
    path = Path(path)
    full = check_parameters(path, given)
    package = notebook_package(path)
    if package is None:
        raise ParameterError(f"{path.name} names no paper package in its metadata, so it has no runs to train")
    profile = resolve_profile(full.get("profile", "auto"))
    cfg = package.make_config(**{k: v for k, v in full.items() if k in package.Config.field_names()})
    device = default_device(profile)
    t0 = time.perf_counter()
    with forced_sweeps(executor="local", shard=shard):
        for kwargs in run_calls(package, device):
            package.run(cfg, store, **kwargs)
    log(f"{path.stem}: profile {profile} on {device}{f', shard {shard}' if shard else ''}: "
        f"{len(store)} runs in {store.path} ({time.perf_counter() - t0:.1f}s)")
    return len(store)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m archlab.train_runs", description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="+", type=Path)
    ap.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    ap.add_argument("--shard", default=None, help="i/n: train only every n-th unit of each sweep, from the i-th")
    ap.add_argument("--store", type=Path, default=None, help="the run store (default: results/runs.sqlite)")
    args = ap.parse_args(argv)
    given = {k: parse_value(v) for k, v in args.parameter}

    def body():
        for nb in args.notebooks:
            if not nb.exists():
                raise ParameterError(f"no notebook at {nb}")
        from .preflight import check_data

        # Every dataset is checked (and downloaded) here, once, before the first run.
        check_data({nb.stem: notebook_datasets(nb, check_parameters(nb, given)) for nb in args.notebooks})
        store = RunStore(args.store) if args.store else RunStore()
        for nb in args.notebooks:
            train_notebook(nb, given, store, args.shard)

    return exit_status(body, bad_input=(ConfigError, ValueError))


if __name__ == "__main__":
    sys.exit(main())
