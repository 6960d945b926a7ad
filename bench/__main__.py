"""``python -m bench [--size tiny|small|full] [--out results/bench/bench.json]``: one table of ratios measured side
by side in this run, and a JSON file with the raw timings, device, versions and commit.

Sizes: ``small`` (default without CUDA) runs in a minute or two on a 2-core CPU; ``full`` (default with CUDA) is the
real benchmark on one GPU (CIFAR-10 when a local copy exists, else synthetic images of the same shape), a few
minutes on an H100; ``tiny`` is the CI smoke test.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import pandas as pd

from archlab.paths import results_root
from archlab.provenance import provenance

from .common import SIZES, cifar_or_synthetic, dataset_cache_mb, device
from .packing import bench_packing
from .project import H100_BF16_FLOPS, NOTEBOOKS, flops, project_all
from .project_gpu import CPU_BATCH, project_gpu_profile
from .sweep import bench_sweep
from .trainer import bench_case

# Targets from the issue; they apply on a GPU (trainer efficiency on a CPU too).
SPEEDUP_TARGETS = {("small_cnn", 512): 6.0, ("resnet18_cifar", 512): 2.5, ("small_cnn", 128): 3.0}
EFFICIENCY_TARGET, SWEEP_TARGET, PACKING_TARGET = 0.9, 3.0, 2.0


def table(cases: list[dict], sweep: dict, projection: dict, gpu: bool, cache_mb: float,
          packing: list | None = None, gpu_profile: dict | None = None) -> pd.DataFrame:
    rows = []

    def row(metric, case, value, target=None, note=""):
        met = "" if target is None or value is None else ("yes" if value >= target else "NO")
        rows.append({"metric": metric, "case": case, "value": value, "target": target, "met": met, "note": note})

    for c in cases:
        case = f"{c['model']} b{c['batch_size']}"
        row("trainer efficiency (bare loop / fit)", case, c["bare_s"] / c["fit_s"], EFFICIENCY_TARGET)
        target = SPEEDUP_TARGETS.get((c["model"], c["batch_size"])) if gpu else None
        row("speed-up over conventional loop", case, c["conventional_s"] / c["fit_s"], target,
            f"{c['conventional_s']:.1f}s vs {c['fit_s']:.1f}s")
        for key in [k for k in c if k.startswith("compile_") and k.endswith("_s") and not k.endswith("first_s")]:
            mode = key[len("compile_"):-2]
            row(f"speed-up over conventional, compile={mode}", case, c["conventional_s"] / c[key], target,
                f"second run; compiling cost the first {c[f'compile_{mode}_first_s'] - c[key]:.1f}s more")
            row(f"compile={mode} vs eager fit", case, c["fit_s"] / c[key], None)
        if c["fit_peak_mb"] is not None:
            row("peak GPU memory per run, fit (MB)", case, c["fit_peak_mb"])
            row("peak GPU memory per run, conventional (MB)", case, c["conventional_peak_mb"])
    for mode in ("ray", "batched"):
        if f"{mode}_s" in sweep:
            failed = {m: sweep["runs"] - sweep[f"{m}_ok"] for m in ("local", mode) if sweep[f"{m}_ok"] < sweep["runs"]}
            row(f"sweep throughput {mode} / one-at-a-time", f"{sweep['runs']} runs", sweep["local_s"] / sweep[f"{mode}_s"],
                SWEEP_TARGET if gpu else None, f"{sweep[f'{mode}_runs_per_hour']:.0f} vs {sweep['local_runs_per_hour']:.0f} "
                f"runs/h" + "".join(f"; {n} {m} runs NOT ok" for m, n in failed.items()))
    if sweep.get("local_peak_mb") is not None:
        row("peak GPU memory per run, sweep (MB)", "one at a time", sweep["local_peak_mb"])
        row("peak GPU memory per run, sweep (MB)", "batched", sweep["batched_peak_mb"] / sweep["runs_per_group"])
    row("host memory of the dataset cache (MB)", "trainer data", cache_mb)
    for r in packing or []:  # issue 27's target: K = 8 packed seeds at >= 2x one at a time (same thread, batch)
        if r["speedup"] is None:
            row(f"seeds/s packed / one at a time (K={r['K']})", r["label"], None, note=f"not packable: {r['error']}")
            continue
        row(f"seeds/s packed / one at a time (K={r['K']}, {r['threads']} thread)", r["label"], r["speedup"],
            PACKING_TARGET if r["K"] >= 8 else None,
            f"{r['single_s'] * 1e3:.0f} ms/step one seed, {r['packed_s'] * 1e3:.0f} ms/step {r['K']} packed "
            f"({r['memory_format']}; " + ", ".join(f"{f} {r['K'] * r['single_s'] / s:.2f}x" for f, s in
                                                   r["packed_s_by_format"].items()) +
            f"), batch {r['batch_size']}" + ("" if r["layout"] else ", no channel cat/split"))
        row(f"seeds/s vmap / one at a time (K={r['K']}, {r['threads']} thread)", r["label"], r["vmap_speedup"],
            note=f"packed is {r['packed_vs_vmap']:.2f}x vmap")
    for stem, p in projection.items():
        if "error" in p:
            row("projected paper profile, this device (h)", stem, None, note=p["error"])
            continue
        row("projected paper profile, this device (h)", stem, p["concurrent_h"], note=f"{p['runs']} runs, {p['train_pflop']:,.1f} PFLOP; "
            f"one at a time {p['serial_h']:.3g} h; compute-bound floor {p['compute_bound_h']:.3g} h")
        row("H100 compute floor of paper profile (h)", stem, p["h100_floor_h"],
            note=f"{p['train_pflop']:,.1f} PFLOP at {H100_BF16_FLOPS / 1e12:.0f} TFLOP/s (bf16 matmul): a lower bound")
    for stem, p in (gpu_profile or {}).items():
        metric = "projected gpu profile, this device (min)"
        if "error" in p:
            row(metric, stem, None, note=p["error"])
            continue
        row(metric, stem, p["minutes"], note=f"aim {p['aim_min']:.0f} min: {'within' if p['within_aim'] else 'OVER'}; "
            f"{len(p['families'])} families timed, runs one at a time")
    return pd.DataFrame(rows)


def main(argv=None) -> dict:
    gpu = device().type == "cuda"
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", choices=list(SIZES), default="full" if gpu else "small")
    ap.add_argument("--out", default=str(results_root() / "bench" / "bench.json"))
    ap.add_argument("--no-ray", action="store_true", help="skip the Ray executor in the sweep benchmark")
    ap.add_argument("--no-packing", action="store_true", help="skip the packed-seeds benchmark (archlab.packed)")
    ap.add_argument("--synthetic", action="store_true", help="synthetic images even when CIFAR-10 is present")
    ap.add_argument("--compile", nargs="*", choices=["default", "reduce-overhead", "max-autotune"], default=None,
                    help="torch.compile modes to time (default: the size's; reduce-overhead on full)")
    args = ap.parse_args(argv)
    size = SIZES[args.size]
    t0 = time.perf_counter()
    data = cifar_or_synthetic(size["n_train"], synthetic=args.synthetic or args.size == "tiny")
    log = lambda msg: print(f"[bench {time.perf_counter() - t0:5.0f}s] {msg}", file=sys.stderr, flush=True)  # noqa: E731
    cases = []
    for name, kwargs, batch in size["cases"]:
        log(f"trainer: {name} batch {batch} on {len(data.ds)} {data.source} images")
        modes = size["compile"] if args.compile is None else args.compile
        cases.append(bench_case(name, kwargs, batch, data, size["epochs"], device(), size["workers"], modes,
                                size["repeats"]))
    log("sweep throughput")
    sweep = bench_sweep(size["sweep"], size["ray"] and not args.no_ray)
    packing = [] if args.no_packing else bench_packing(args.size, log=log)
    big = max(cases, key=lambda c: c["fit_s"] / c["steps_per_epoch"])  # the most compute per step
    rate = 3 * flops(big["model"], {**big["model_kwargs"], "num_classes": 10}) * big["samples"] / big["fit_s"]
    steps = sweep["runs"] * sweep["epochs"] * sweep["steps_per_epoch"]
    overhead = sweep["local_s"] / steps
    # Ray's concurrency applies to every notebook's sweeps; batched training to paper 2's, whose paper grid has
    # three learning rates per architecture (the sweep benchmark's groups are that size). Where a way is slower
    # than one at a time, one would not use it.
    ray = max(1.0, sweep["local_s"] / sweep["ray_s"]) if "ray_s" in sweep else 1.0
    concurrency = {"02_deep_vs_shallow": max(ray, sweep["local_s"] / sweep["batched_s"]), "default": ray}
    log("projection")
    stems = list(NOTEBOOKS) if args.size != "tiny" else ["00_overview"]
    projection = project_all(overhead, rate, concurrency, stems)
    log("gpu profile projection (seconds per step measured per architecture family)")
    gpu_profile = project_gpu_profile(device(), stems if args.size == "tiny" else None,
                                      None if gpu else 8 if args.size == "tiny" else CPU_BATCH, log)
    df = table(cases, sweep, projection, gpu, dataset_cache_mb(data.ds), packing, gpu_profile)
    out = {**provenance(device=device()), "size": args.size, "data_source": data.source, "wall_s": time.perf_counter() - t0,
           "cases": cases, "sweep": sweep, "packing": packing, "projection": {"flop_rate": rate, "overhead_s_per_step": overhead,
                                                          "concurrency": concurrency, "notebooks": projection,
                                                          "gpu_profile": gpu_profile},
           "table": df.to_dict("records")}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1, default=str, allow_nan=True))
    with pd.option_context("display.max_colwidth", 90, "display.width", 220):
        print(f"device: {out['device']} | torch {out['versions']['torch']} | commit {out['git_commit']} | size "
              f"{args.size} | data {data.source} | {out['wall_s']:.0f} s")
        print(df.to_string(index=False, float_format=lambda v: f"{v:.3g}" if math.isfinite(v) else "nan"))
    print(f"wrote {args.out}")
    return out


if __name__ == "__main__":
    main()
