"""Seeds per second: an architecture's K seeds packed into one network (``archlab.packed``) and under vmap
(``archlab.batched``'s stacked-parameter step) against one seed at a time, for each paper's cpu-profile nets.

All three sides run the same training step (forward, mean cross-entropy per member, backward, SGD with momentum and
weight decay) at the profile's batch size on random inputs of the net's shape, in this process, with the same torch
thread count (1 by default: the cpu profile runs one single-thread run per core), each timed ``repeats`` times with
the fastest kept. Seeds per second = K / (seconds per step of the K seeds), one at a time = 1 / (seconds per step).
"""
from __future__ import annotations

import copy
import time

import torch
import torch.nn.functional as F
from torch.func import functional_call, stack_module_state

from archlab.packed_probe import packing_speedup, seeded_factory

# (label, registered model, kwargs, input shape, batch size) at each notebook's cpu profile: paper 1's E2 net
# (ResNet-56 depth, widths 4/8/16), E3's nets at k = 6 and E4-E6 nets (2 blocks, widths 8/16/32), stride-2 stem;
# paper 3's single-path arms and MP2-CC (pooled to 16x16 inside); the leaderboard's entries (16x16 input, batch 128);
# paper 2's layouts (MNIST, batch 32). A model the packer refuses is listed with the reason.
P1 = dict(stem_stride=2)
C32, C16, M28 = (3, 32, 32), (3, 16, 16), (1, 28, 28)
P2 = dict(activation="relu", batchnorm=False, filters=8, head="flatten", kernel=3, layers=4, pool=4)
ARCHS = [
    ("paper 1 E2 ResNet-56 (4/8/16)", "gp_resnet", dict(P1, widths=(4, 8, 16), blocks=9), C32, 16),
    ("paper 1 E2 SG on identity", "gp_resnet_sg_identity", dict(P1, widths=(4, 8, 16), blocks=9), C32, 16),
    ("paper 1 E3 VoVNet k=6", "gp_vovnet", dict(P1, widths=(4, 8, 16), blocks=6), C32, 16),
    ("paper 1 E3 ELAN k=6", "gp_elan", dict(P1, widths=(4, 8, 16), blocks=6, convs=3), C32, 16),
    ("paper 1 E3 VoVNet-ELAN k=6", "gp_vovnet_elan", dict(P1, widths=(4, 8, 16), blocks=6), C32, 16),
    ("paper 1 E4 CSP fusion", "gp_csp_fusion", dict(P1, widths=(8, 16, 32), blocks=2), C32, 32),
    ("paper 1 E5 PRN rho 0.5", "gp_prn", dict(P1, widths=(8, 16, 32), blocks=2, rho=0.5), C32, 32),
    ("paper 1 E6 ELAN", "gp_elan", dict(P1, widths=(8, 16, 32), blocks=2), C32, 32),
    ("paper 3 plain arm", "mp_plain_net", dict(widths=(8, 16, 32), stem=8, pool_input=2), C32, 64),
    ("paper 3 SE arm", "mp_se_net", dict(widths=(8, 16, 32), stem=8, pool_input=2), C32, 64),
    ("paper 3 MP2-CC", "multipath_net", dict(widths=(8, 16, 32), stem=8, pool_input=2, paths=2,
                                             router="cross_connections"), C32, 64),
    ("leaderboard ResNet", "gp_resnet", dict(blocks=2, widths=(8, 15, 30)), C16, 128),
    ("leaderboard ELAN", "gp_elan", dict(blocks=2, convs=2, hidden_ratio=0.5, widths=(12, 23, 46)), C16, 128),
    ("leaderboard parallel", "parallel", dict(P2, batchnorm=True, filters=35), C16, 128),
    ("leaderboard MP2-CC", "multipath_net", dict(convs_per_stage=2, paths=2, router="cross_connections", stem=9,
                                                 widths=(9, 18, 36)), C16, 128),
    ("paper 2 sequential", "sequential", P2, M28, 32),
    ("paper 2 parallel", "parallel", P2, M28, 32),
]
TINY = [a for a in ARCHS if a[0] == "paper 1 E4 CSP fusion"]  # CI: the channel cat/split path, a second or two
SIZES = {"tiny": dict(archs=TINY, K=2, steps=2, repeats=1),
         "small": dict(archs=ARCHS, K=8, steps=8, repeats=3),
         "full": dict(archs=ARCHS, K=8, steps=20, repeats=3)}


def _vmap_seconds(make, shape: tuple, batch: int, K: int, steps: int, repeats: int) -> float:
    """Seconds per step of K seeds under ``torch.vmap`` over stacked parameters (``archlab.batched``'s step)."""
    models = [make(s) for s in range(K)]
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")
    opt = torch.optim.SGD(params.values(), lr=1e-3, momentum=0.9, weight_decay=5e-4)

    def loss_fn(p, b, x, y):
        return F.cross_entropy(functional_call(base, (p, b), (x,)), y)

    step = torch.vmap(loss_fn, randomness="different")
    x, y = torch.randn(K, batch, *shape), torch.randint(0, 10, (K, batch))

    def run(n):
        for _ in range(n):
            opt.zero_grad(set_to_none=True)
            step(params, buffers, x, y).sum().backward()
            opt.step()

    run(1)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        run(steps)
        best = min(best, time.perf_counter() - t0)
    return best / steps


def bench_packing(size: str, threads: int = 1, log=print) -> list[dict]:
    """One row per architecture: seconds per step one at a time, packed and under vmap, and seeds/s ratios."""
    spec, rows = SIZES[size], []
    old = torch.get_num_threads()
    for label, name, kwargs, shape, batch in spec["archs"]:
        log(f"packing: {label}")
        make = seeded_factory(name, num_classes=10, input_shape=shape, **kwargs)
        r = packing_speedup(make, shape, batch, K=spec["K"], steps=spec["steps"], repeats=spec["repeats"],
                            threads=threads)
        row = {"label": label, "model": name, "model_kwargs": kwargs, **r}
        if r["speedup"] is not None:
            torch.set_num_threads(threads)
            try:
                row["vmap_s"] = _vmap_seconds(make, shape, batch, spec["K"], spec["steps"], spec["repeats"])
            finally:
                torch.set_num_threads(old)
            row["vmap_speedup"] = spec["K"] * r["single_s"] / row["vmap_s"]
            row["packed_vs_vmap"] = row["vmap_s"] / r["packed_s"]
        rows.append(row)
    return rows
