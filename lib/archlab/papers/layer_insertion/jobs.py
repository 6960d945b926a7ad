"""Paper 4's runs as benchmark / dry-run jobs: one phase per architecture a run trains.

Every study: spirals (fnn, resnet, validity, when, minibatch; full-batch GD except minibatch), the MNIST / CIFAR-10
MLPs and the CIFAR-10 VGG (cnn, see ``cnn_job``). A growing run is one phase per architecture; the sensitivity
pass before an insertion (forward and backward over the training set) counts as one more epoch of the net before it.

Left out, being small: the final training-set evaluation, the logged sensitivities (one batch every ``sens_every``
epochs) and validity's first-step probe. Spirals runs execute on the CPU in the notebook; the projection prices
them at the benchmarking device's per-step overhead like every other run.
"""
from __future__ import annotations

import math

from ...data import dataset_info
from ...preflight import datasets_of
from .grid import BIG_DEPTHS, CNN_SELECT, GROWING, grids, make_config, start_widths


def jobs(profile: str = "paper", **params) -> list[dict]:
    """One job per run of ``make_config(profile=profile, **params)`` (see ``bench.project`` for the job format)."""
    return [cnn_job(c) if study == "cnn" else growth_job(c)
            for study, configs in grids(make_config(profile=profile, **params)).items() for c in configs]


def datasets(profile: str = "paper", **params) -> dict[str, bool]:
    """``dataset -> optional`` of ``jobs(profile, **params)`` (the runner's data preflight); read off the jobs,
    which are cheap to build here."""
    return datasets_of(jobs(profile, **params))


def cnn_job(c: dict) -> dict:
    """E5b's growing VGG: before insertion, the sensitivity pass as one epoch of the extended net (every candidate
    in; priced as a full training epoch, though its backward stops at the first candidate), then the grown net.

    The grown net is priced with the candidate at position 0: at the default widths every candidate costs the
    same (m_i^2 * (32 / 2^i)^2 is constant), so the chosen position does not change the cost. Test-set passes:
    one at the start of every epoch and one at the end; the final training-set evaluation counts as
    n_train / n_test of them.
    """
    d = c["dataset"]
    info = dataset_info(d, **c["data_kw"])
    shape = info["shape"]
    n_train, n_test = (min(n, size or n) for n, size in zip((info["n_train"], info["n_test"]),
                                                            (c["train_size"], c["test_size"])))
    kw = dict(input_shape=tuple(shape), widths=tuple(c["widths"]), num_classes=info["classes"])
    small, grown, extended = ({**kw, "depths": dd} for dd in ((1, 1, 1), BIG_DEPTHS, (2, 2, 2)))
    final_evals = 1 + n_train / n_test
    if c["method"] in CNN_SELECT:
        t, rest = c["insert_at"][0], c["epochs"] - c["insert_at"][0]
        phases = [dict(kwargs=small, epochs=t, evals=t), dict(kwargs=extended, epochs=1, evals=0),
                  dict(kwargs=grown, epochs=rest, evals=rest + final_evals)]
    else:
        phases = [dict(kwargs=grown if c["method"] == "large" else small, epochs=c["epochs"],
                       evals=c["epochs"] + final_evals)]
    return dict(model="growing_vgg", kwargs=phases[0]["kwargs"], shape=shape, dataset=d, batch_size=c["batch_size"],
                epochs=c["epochs"], n_train=n_train, n_test=n_test, phases=phases)


def growth_job(c: dict) -> dict:
    """An MLP run (``run.run_growth``): one phase per architecture, the sensitivity pass as one more epoch."""
    d = c["dataset"]
    info = dataset_info(d, **c["data_kw"])  # embedded sets (spirals, digits, synthetic) are measured
    shape, classes = info["shape"], info["classes"]
    n_train, n_test = min(info["n_train"], c["train_size"] or info["n_train"]), info["n_test"]
    batch = c["batch_size"] or n_train  # 0: full-batch GD
    widths = start_widths(c)
    bounds = [0, *(c["insert_at"] if c["method"] in GROWING else ()), c["epochs"]]
    kw = dict(input_shape=tuple(shape), num_classes=classes)
    phases = []
    for k, (start, end) in enumerate(zip(bounds[:-1], bounds[1:])):
        # Each insertion adds one layer of the (common) width; train_growing evaluates on the test set every
        # eval_every epochs, once more at the end, and run_growth once after that.
        evals = sum(e % c["eval_every"] == 0 for e in range(start, end)) if c["eval_every"] else 0
        phases.append(dict(kwargs={**kw, "widths": tuple(widths + [widths[-1]] * k)},
                           epochs=end - start + (end < c["epochs"]), evals=evals + 2 * (end == c["epochs"])))
    return dict(model=f"growing_{c['arch']}", kwargs=phases[0]["kwargs"], shape=(math.prod(shape),), dataset=d,
                batch_size=batch, epochs=c["epochs"], n_train=n_train, n_test=n_test, phases=phases)


def dry_jobs(profile: str = "paper", **params) -> list[dict]:
    """``jobs`` as the dry run's list. Paper 4 trains in its own loop (``loop.train_growing``, fp32 SGD on every
    device), not through ``train.fit``, so there is no recipe to step: the dry run counts these jobs and says so."""
    return jobs(profile, **params)
