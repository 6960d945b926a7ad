"""Every training run of each notebook's ``paper`` profile as a job for ``bench.project.project``.

A job is dict(model, kwargs, shape, dataset, batch_size, epochs) (a registered model and its forward input), with
optional overrides where a run is not "epochs x full passes of a standard data set" (see ``project.phases``).
Each list comes from the experiment module's own config code, so it follows the notebook when a grid changes.
"""
from __future__ import annotations

import math

from archlab.data import load_dataset

# Standard training/test set sizes (the full downloads a GPU machine uses; the offline MNIST copy is smaller), sample
# shapes and classes of the file-backed sets; embedded sets (spirals, digits, synthetic) are measured instead.
SIZES = {"mnist": (60_000, 10_000), "fashion_mnist": (60_000, 10_000), "cifar10": (50_000, 10_000),
         "cifar100": (50_000, 10_000)}
SHAPES = {"mnist": (1, 28, 28), "fashion_mnist": (1, 28, 28), "cifar10": (3, 32, 32), "cifar100": (3, 32, 32)}
CLASSES = {"mnist": 10, "fashion_mnist": 10, "cifar10": 10, "cifar100": 100}


def overview_jobs() -> list[dict]:
    """The harness check: small_cnn per optimizer and seed."""
    from archlab.experiments.overview import OverviewConfig, grid

    jobs = []
    for c in grid(OverviewConfig(profile="paper")):
        jobs.append(dict(model=c["model"], kwargs={**c["model_kwargs"], "num_classes": 10}, shape=(3, 32, 32),
                         dataset=c["dataset"], batch_size=c["train"]["batch_size"], epochs=c["train"]["epochs"]))
    return jobs


def gradient_paths_jobs() -> list[dict]:
    """E2 (stop-gradient), E3 (stacking) and E4-E6 (CSP / PRN / summary), a run two experiments share counted once.

    Left out, being small: E1's static path accounting (torch.fx, no training) and each run's gradient
    diagnostics (two forward+backward passes on one 256-sample batch).
    """
    from archlab.experiments import gradient_paths as gp

    jobs = []
    for c in gp.training_configs(gp.make_config(profile="paper").plan()):
        d = c["dataset"]
        kwargs = {**c["model_kwargs"], "num_classes": CLASSES[d], "in_chans": SHAPES[d][0]}
        jobs.append(dict(model=c["model"], kwargs=kwargs, shape=SHAPES[d], dataset=d,
                         batch_size=c["train"]["batch_size"], epochs=c["train"]["epochs"]))
    return jobs


def deep_vs_shallow_jobs() -> list[dict]:
    """The deep-vs-shallow grid: one run per (layout, L, F, k, ...) cell."""
    from archlab.experiments.deep_vs_shallow import SHAPES as DVS_SHAPES
    from archlab.experiments.deep_vs_shallow import DeepShallowConfig, model_kwargs

    jobs = []
    for c in DeepShallowConfig(profile="paper").configs(device="cpu"):
        shape = DVS_SHAPES[c["dataset"]]
        jobs.append(dict(model=c["layout"], kwargs=model_kwargs(c, shape, 10), shape=shape, dataset=c["dataset"],
                         batch_size=c["batch_size"], epochs=c["epochs"]))
    return jobs


def multipath_routing_jobs() -> list[dict]:
    """E1-E4 and E6 on CIFAR-10 and E5 on CIFAR-100 (counted whether or not its files are on this machine).

    ``train_arm`` evaluates at the end only (fit's final evaluation, then its own); multi-path nets add the routing
    analyses: one prediction pass plus one per ablated (stage, path). Ens2 trains its members one after the other,
    so it is one phase per member (a one-member ensemble costs one member). E6's two-context set is its base set
    with half the images inverted (same size); its runs add a prediction pass (per-domain accuracy) for every arm
    and, in multi-path nets, a second ablation pass per (stage, path) (drops per domain).
    """
    from archlab.experiments import multipath_contexts as mx
    from archlab.experiments import multipath_routing as mr

    jobs = []
    for c in mr.plan(mr.make_config(profile="paper"), datasets=mr.GRIDS["paper"]["datasets"]):
        d = mx.base_dataset(c["dataset"])
        e6 = d != c["dataset"]
        name, kw = mr.model_spec(c["arm"], c["widths"], c["stem"], c["convs_per_stage"], c["width_mult"])
        kw = {**kw, "num_classes": CLASSES[d], "in_chans": SHAPES[d][0]}
        job = dict(model=name, kwargs=kw, shape=SHAPES[d], dataset=d, batch_size=c["batch_size"], epochs=c["epochs"],
                   evals=2)
        if name == "multipath_net":
            job["evals"] += 1 + (2 if e6 else 1) * len(c["widths"]) * kw["paths"]
        elif e6:
            job["evals"] += 1
        if name == "mp_ensemble":
            job["phases"] = [dict(kwargs={**kw, "members": 1})] * kw["members"]
        jobs.append(job)
    return jobs


def layer_insertion_jobs() -> list[dict]:
    """Every study: spirals (fnn, resnet, validity, when, minibatch; full-batch GD except minibatch), the MNIST /
    CIFAR-10 MLPs and the CIFAR-10 VGG (cnn, see ``_cnn_job``). A growing run is one phase per architecture; the sensitivity pass before an insertion (forward
    and backward over the training set) counts as one more epoch of the net before it.

    Left out, being small: the final training-set evaluation, the logged sensitivities (one batch every
    ``sens_every`` epochs) and validity's first-step probe. Spirals runs execute on the CPU in the notebook; the
    projection prices them at the benchmarking device's per-step overhead like every other run.
    """
    from archlab.experiments import layer_insertion as li

    grids = li.grids(li.make_config(profile="paper"))
    return [_cnn_job(c) if study == "cnn" else _growth_job(c) for study, configs in grids.items() for c in configs]


def _cnn_job(c: dict) -> dict:
    """E5b's growing VGG: before insertion, the sensitivity pass as one epoch of the extended net (every candidate
    in; priced as a full training epoch, though its backward stops at the first candidate), then the grown net.

    The grown net is priced with the candidate at position 0: at the default widths every candidate costs the
    same (m_i^2 * (32 / 2^i)^2 is constant), so the chosen position does not change the cost. Test-set passes:
    one at the start of every epoch and one at the end; the final training-set evaluation counts as
    n_train / n_test of them.
    """
    from archlab.experiments.layer_insertion_cnn import BIG_DEPTHS, SELECT

    d = c["dataset"]
    shape = SHAPES[d]
    n_train, n_test = (min(n, size or n) for n, size in zip(SIZES[d], (c["train_size"], c["test_size"])))
    kw = dict(in_chans=shape[0], image_size=shape[-1], widths=tuple(c["widths"]), num_classes=CLASSES[d])
    small, grown, extended = ({**kw, "depths": dd} for dd in ((1, 1, 1), BIG_DEPTHS, (2, 2, 2)))
    final_evals = 1 + n_train / n_test
    if c["method"] in SELECT:
        t, rest = c["insert_at"][0], c["epochs"] - c["insert_at"][0]
        phases = [dict(kwargs=small, epochs=t, evals=t), dict(kwargs=extended, epochs=1, evals=0),
                  dict(kwargs=grown, epochs=rest, evals=rest + final_evals)]
    else:
        phases = [dict(kwargs=grown if c["method"] == "large" else small, epochs=c["epochs"],
                       evals=c["epochs"] + final_evals)]
    return dict(model="growing_vgg", kwargs=phases[0]["kwargs"], shape=shape, dataset=d, batch_size=c["batch_size"],
                epochs=c["epochs"], n_train=n_train, n_test=n_test, phases=phases)


def _growth_job(c: dict) -> dict:
    from archlab.experiments.layer_insertion import GROWING, start_widths

    d = c["dataset"]
    if d in SIZES:
        shape, classes, (n_train, n_test) = SHAPES[d], CLASSES[d], SIZES[d]
    else:  # embedded sets (spirals, digits, synthetic) are generated in memory, so measure them
        train, test = (load_dataset(d, s, **c["data_kw"]) for s in ("train", "test"))
        shape, classes, n_train, n_test = train.sample_shape, train.num_classes, len(train), len(test)
    n_train = min(n_train, c["train_size"] or n_train)
    batch = c["batch_size"] or n_train  # 0: full-batch GD
    widths = start_widths(c)
    bounds = [0, *(c["insert_at"] if c["method"] in GROWING else ()), c["epochs"]]
    kw = dict(in_features=math.prod(shape), num_classes=classes)
    phases = []
    for k, (start, end) in enumerate(zip(bounds[:-1], bounds[1:])):
        # Each insertion adds one layer of the (common) width; train_growing evaluates on the test set every
        # eval_every epochs, once more at the end, and run_growth once after that.
        evals = sum(e % c["eval_every"] == 0 for e in range(start, end)) if c["eval_every"] else 0
        phases.append(dict(kwargs={**kw, "widths": tuple(widths + [widths[-1]] * k)},
                           epochs=end - start + (end < c["epochs"]), evals=evals + 2 * (end == c["epochs"])))
    return dict(model=f"growing_{c['arch']}", kwargs=phases[0]["kwargs"], shape=(math.prod(shape),), dataset=d,
                batch_size=batch, epochs=c["epochs"], n_train=n_train, n_test=n_test, phases=phases)


NOTEBOOKS = {"00_overview": overview_jobs, "01_gradient_paths": gradient_paths_jobs,
             "02_deep_vs_shallow": deep_vs_shallow_jobs, "03_multipath_routing": multipath_routing_jobs,
             "04_layer_insertion": layer_insertion_jobs}
