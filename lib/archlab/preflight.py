"""Checks before any kernel starts: is every dataset a run needs on this machine (or downloadable)?

``python -m archlab.run`` (and so ``make reproduce``) calls :func:`check_data` with the jobs of every notebook it is
about to run. Without it a missing dataset surfaced minutes in, as failed runs and then a traceback from an
empty table; now it stops in seconds with one message naming the dataset, every path searched and the ways out,
before anything is trained or written.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from .data import DataNotFoundError, available, downloadable, missing_message


def needed(jobs_by_notebook: dict[str, list[dict]]) -> tuple[dict, dict]:
    """``(required, optional)``: dataset -> the notebooks that need it. A job marked ``optional`` names a dataset
    its notebook skips (with a note) when it is absent."""
    required, optional = {}, {}
    for stem, jobs in jobs_by_notebook.items():
        for job in jobs:
            target = optional if job.get("optional") else required
            target.setdefault(job["dataset"], [])
            if stem not in target[job["dataset"]]:
                target[job["dataset"]].append(stem)
    return required, optional


def check_data(jobs_by_notebook: dict[str, list[dict]], log=print) -> None:
    """Raise :class:`DataNotFoundError` (one message for all) when a required dataset is neither on this machine
    nor downloadable; note absent optional ones. Host probes run concurrently (2 s timeout each)."""
    required, optional = needed(jobs_by_notebook)
    absent = [d for d in {**required, **optional} if not available(d)]
    with ThreadPoolExecutor(max_workers=max(1, len(absent))) as pool:
        online = dict(zip(absent, pool.map(downloadable, absent)))
    for d in absent:
        if online[d]:
            log(f"dataset {d!r} is not on this machine yet; it downloads on first use")
        elif d not in required:
            log(f"dataset {d!r} is not on this machine and cannot be downloaded: "
                f"{', '.join(optional[d])} skip the parts that need it")
    missing = [d for d in absent if d in required and not online[d]]
    if missing:
        raise DataNotFoundError(missing_message(missing, needed_by=required) +
                                "\nNothing was trained and nothing was written.")
