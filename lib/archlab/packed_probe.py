"""Whether K seeds of one architecture train faster packed (``archlab.packed``) than one at a time, measured.

:func:`packing_speedup` times the seeds per second of K members packed, in each memory format of ``FORMATS``,
against one model at a time, side by side (same threads, batch size and training step), on the device the runs
train on; :func:`packing_choice` turns that into the choice a run function makes, the faster format or None (one
at a time), measured once per architecture, batch size, K, threads and device in a process. channels_last lets the
CPU's oneDNN take its fast grouped-convolution path (paper 3's plain arm, K = 8: 1.79x one at a time against 1.32x
contiguous), but not every net gains (paper 1's PRN: 1.35x against 1.61x), so both are measured.
"""
from __future__ import annotations

import contextlib
import copy
import functools
import time

import torch
import torch.nn.functional as F

from .packed import FORMATS, NotPackable, in_format, member_losses, member_outputs, pack, pack_inputs

__all__ = ["packing_speedup", "seeded_factory", "packing_choice", "speedup_pays"]


def _sgd_steps(net, xs: list, ys: list, K: int, steps: int) -> None:
    """``steps`` plain training steps (forward, mean cross-entropy, backward, SGD with momentum) of ``net``: the
    same work per step on both sides of the comparison."""
    opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9, weight_decay=5e-4)
    for i in range(steps):
        x, y = xs[i % len(xs)], ys[i % len(ys)]
        out = net(x)
        loss = member_losses(member_outputs(out, K), y, 0.0).sum() if K > 1 else F.cross_entropy(out, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def packing_speedup(make_model, input_shape: tuple, batch_size: int, K: int = 8, steps: int = 20, repeats: int = 3,
                    threads: int | None = 1, num_classes: int = 10, device="cpu") -> dict:
    """Seeds per second of K members packed against one model at a time, measured side by side in this process
    on random data (``make_model(seed) -> nn.Module``) on ``device``; packed in each memory format of ``FORMATS``
    that fits the input (channels_last for images). Every side is timed ``repeats`` times, the sides taking turns,
    fastest kept (slower repeats measure other processes' load). ``threads``: torch threads for all sides
    (restored after). Returns ``{"single_s", "packed_s"}`` (seconds per step; packed in its faster format),
    ``"memory_format"`` (that format), ``"packed_s_by_format"`` and ``"speedup"`` (packed seeds/s over one at a
    time); ``speedup`` is None (and ``"error"`` says why) when the model cannot be packed. The global random
    states (Python, NumPy, torch) are as they were after it, whatever ``make_model`` seeds."""
    old = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        with _random_states_kept(device):
            return _packing_speedup(make_model, input_shape, batch_size, K, steps, repeats, threads, num_classes,
                                    device)
    finally:
        torch.set_num_threads(old)


@contextlib.contextmanager
def _random_states_kept(device):
    """Restore Python's, NumPy's and torch's (CPU, and ``device`` if a GPU) random states on exit."""
    import random

    import numpy as np

    py, npy = random.getstate(), np.random.get_state()
    dev = torch.device(device)
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else [], device_type=dev.type):
        yield
    random.setstate(py)
    np.random.set_state(npy)


def _packing_speedup(make_model, input_shape, batch_size, K, steps, repeats, threads, num_classes, device) -> dict:
    g = torch.Generator().manual_seed(0)
    xs = [torch.randn(batch_size, *input_shape, generator=g) for _ in range(2)]
    ys = [torch.randint(0, num_classes, (batch_size,), generator=g) for _ in range(2)]
    models = [make_model(s) for s in range(K)]
    try:
        net = pack(models, check_input=xs[0][:4])  # checked on the CPU, then moved
    except NotPackable as e:
        return {"K": K, "speedup": None, "error": str(e)}
    dev = torch.device(device)
    single_net, net = models[0].to(dev), net.to(dev)
    xs, ys = [x.to(dev) for x in xs], [y.to(dev) for y in ys]
    packed_y = [torch.stack([y] * K) for y in ys]
    fmts = FORMATS[: 2 if len(input_shape) == 3 else 1]  # channels_last: images only
    nets = {fmt: in_format(copy.deepcopy(net), fmt) for fmt in fmts}
    packed_x = {fmt: [in_format(pack_inputs([x] * K), fmt) for x in xs] for fmt in fmts}
    sides = {"single": lambda n: _sgd_steps(single_net, xs, ys, 1, n)}  # n training steps of one side
    for fmt in fmts:
        sides[fmt] = lambda n, fmt=fmt: _sgd_steps(nets[fmt], packed_x[fmt], packed_y, K, n)
    for fn in sides.values():  # warm-up: allocator, kernel selection
        fn(1)
    # taking turns, so that a change of load or clock during the probe slows every side alike
    times = {name: [] for name in sides}
    for _ in range(repeats):
        for name, fn in sides.items():
            times[name].append(_seconds(lambda: fn(steps), dev))
    per_step = {name: min(t) / steps for name, t in times.items()}
    single = per_step.pop("single")
    fmt = min(per_step, key=per_step.get)
    return {"K": K, "threads": threads, "batch_size": batch_size, "single_s": single, "packed_s": per_step[fmt],
            "memory_format": fmt, "packed_s_by_format": per_step, "speedup": K * single / per_step[fmt],
            "layout": net.layout}


def _seconds(fn, device=None) -> float:
    """Wall seconds of ``fn()``, waiting for a GPU's queued work at both ends."""
    sync = torch.cuda.synchronize if device is not None and device.type == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - t0


def seeded_factory(model: str, **kwargs):
    """``make(seed) -> nn.Module``: registered ``model`` built with ``kwargs`` after seeding with ``seed``, the
    members :func:`packing_speedup` times."""
    from .models import create_model
    from .train import seed_everything

    def make(seed):
        seed_everything(seed)
        return create_model(model, **kwargs)

    return make


@functools.lru_cache(maxsize=None)
def _cached_speedup(model: str, kwargs: str, input_shape: tuple, batch_size: int, K: int, threads: int,
                    device: str) -> dict:
    import json

    # 2 x 2 steps per side after one to warm up: under 2 s for each of paper 3's arms (0.13 s a packed step), paid
    # before any run trains; a ratio near 1 may come out either way, and then either choice costs little
    return packing_speedup(seeded_factory(model, **json.loads(kwargs)), input_shape, batch_size, K=K, steps=2,
                           repeats=2, threads=threads, device=device)


def packing_choice(model: str, kwargs: dict, input_shape: tuple, batch_size: int, K: int,
                   device="cpu") -> str | None:
    """The memory format (of ``FORMATS``) in which K members of registered ``model`` train fastest packed, where
    that gives more seeds per second than one at a time on ``device``; None where it does not. Measured there once
    per (architecture, batch size, K, threads, device) in this process (a few seconds for paper 1's and paper 3's
    cpu nets) at the current thread count, not guessed."""
    import json

    if K < 2:
        return None
    dev = torch.device(device)
    threads = torch.get_num_threads() if dev.type == "cpu" else None
    probe = _cached_speedup(model, json.dumps(kwargs, sort_keys=True), tuple(input_shape), batch_size, K, threads,
                            str(dev))
    return probe["memory_format"] if speedup_pays(probe) else None


def speedup_pays(probe: dict) -> bool:
    """Whether a :func:`packing_speedup` measurement says packing pays: packable and more seeds per second."""
    return probe["speedup"] is not None and probe["speedup"] > 1.0
