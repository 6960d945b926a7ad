"""Run functions for the store/sweep tests; module-level so subprocesses and Ray workers can import them."""
import math
import os
import time

import torch

from archlab.store import versioned


@versioned(1)
def square(config):
    """Records each call in a marker folder (when given), so tests can count recomputation."""
    if config.get("marker"):
        open(os.path.join(config["marker"], f"call-{config['x']}-{time.time_ns()}"), "w").close()
    time.sleep(config.get("sleep", 0))
    if config.get("fail"):
        raise ValueError(f"bad x={config['x']}")
    if config.get("missing") and not os.path.exists(config["missing"]):
        from archlab.data import DataNotFoundError

        raise DataNotFoundError(f"dataset 'toy' not found; searched {config['missing']}")
    if config.get("oom"):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 1 GiB")
    if config.get("diverge"):
        return {"status": "diverged", "loss": math.nan}
    if config.get("die"):
        os._exit(1)  # a worker killed mid-run
    return {"y": config["x"] ** 2, "seed_draw": float(torch.rand(1, generator=torch.Generator().manual_seed(config.get("seed", 0))))}


@versioned(1)
def square_group(configs):
    """``square`` for a group of configs in one call (the shape of a batched run function)."""
    if any(c.get("fail_group") for c in configs):
        raise ValueError("bad group")
    out = [{**square(c), "group_size": len(configs)} for c in configs]
    return out[:-1] if any(c.get("short") for c in configs) else out


@versioned(1)
def gpu_ids(config):
    """The GPUs Ray gave the task running this config (the fake-GPU scheduling test)."""
    import ray

    return {"x": config["x"], "gpus": [str(g) for g in ray.get_gpu_ids()]}
