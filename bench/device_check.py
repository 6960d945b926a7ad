"""``python -m bench.device_check [--out DIR] [--rehearse]``: the prepared check for a lent GPU, in one command.

Fits one command of at most 9 minutes on one H100 with no network and only torch, torchvision, pandas, scipy,
seaborn, statsmodels and pytest (no papermill, nbformat, ipywidgets or Ray). Steps, each logged and timed, each
failure recorded rather than stopping the rest:
1. data: unpack the copies carried in ``.devdata/`` (git-ignored: ``MNIST/raw/*`` and ``cifar10-jpeg.tar.gz``
   from /work/shared/data, ~40 MB of the 64 MiB a transfer may carry) into the data folder;
2. tests: the CUDA-relevant tests (training loop, batched training, the CUDA code paths) under pytest;
3. runs: the first unit of each paper's sweeps in the ``gpu`` profile, shortened to 1 epoch, on ``cuda``: status,
   seconds per epoch, peak GPU memory (a throw-away run store);
4. bench: ``python -m bench`` without Ray or packing: trainer efficiency against a bare loop, speed-up over a
   DataLoader loop, batched sweep throughput, the measured projections (the paper profile's; the gpu profile's
   minutes per notebook from seconds per step timed per architecture family, ``bench.project_gpu``).
Writes ``device_check.json`` and ``device_check.log`` into ``--out`` (default ``$OUT``, else results/device_check).
``--rehearse`` runs the same steps on the CPU at tiny sizes (smoke profile, bench ``tiny``): the test suite runs it.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CARRY = ROOT / ".devdata"
# The notebooks' forced-paths tests are left out: on the GPU machine the real CUDA paths run in step 3 instead.
TESTS = ["tests/harness/test_train.py", "tests/harness/test_batched.py", "tests/harness/test_cuda_paths.py",
         "-k", "not every_papers"]
REHEARSE_TESTS = ["tests/harness/test_cuda_paths.py::test_fused_sgd_takes_a_parameter_whose_first_gradient_comes_mid_run"]


class Log:
    """Lines to stderr and to the log file, each with the seconds since the start."""

    def __init__(self, path: Path):
        self.path, self.t0 = path, time.perf_counter()
        path.write_text("")

    def __call__(self, msg: str) -> None:
        line = f"[{time.perf_counter() - self.t0:6.1f}s] {msg}"
        print(line, file=sys.stderr, flush=True)
        with self.path.open("a") as f:
            f.write(line + "\n")


def unpack_data(data: Path, log) -> dict:
    """The carried copies into ``data`` in the layouts archlab.data reads (as ``make data`` does)."""
    found = {}
    mnist = CARRY / "MNIST" / "raw"
    if mnist.is_dir():
        (data / "MNIST" / "raw").mkdir(parents=True, exist_ok=True)
        for f in mnist.iterdir():
            (data / "MNIST" / "raw" / f.name).write_bytes(f.read_bytes())
        found["mnist"] = True
    cifar = CARRY / "cifar10-jpeg.tar.gz"
    if cifar.exists() and not (data / "cifar10" / "train").is_dir():
        (data / "cifar10").mkdir(parents=True, exist_ok=True)
        with tarfile.open(cifar) as tar:
            tar.extractall(data / "cifar10", filter="data")
    found["cifar10"] = (data / "cifar10" / "train").is_dir()
    log(f"data in {data}: {found}")
    return found


def run_tests(tests: list[str], log, timeout: int) -> dict:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    summary = (p.stdout.strip().splitlines() or [""])[-1]
    log(f"tests: {summary}")
    if p.returncode:
        log(p.stdout[-4000:] + p.stderr[-2000:])
    return {"returncode": p.returncode, "summary": summary, "seconds": time.perf_counter() - t0}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m bench.device_check", description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or ROOT / "results" / "device_check"))
    ap.add_argument("--rehearse", action="store_true", help="the same steps on the CPU at tiny sizes")
    ap.add_argument("--skip", nargs="*", default=[], choices=["data", "tests", "runs", "bench"])
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    log = Log(args.out / "device_check.log")
    scratch = Path(tempfile.mkdtemp(prefix="archlab-device-check-"))
    # Everything the steps write (run store, executed results) goes to scratch; the data folder stays the user's.
    os.environ.setdefault("ARCHLAB_RESULTS", str(scratch / "results"))
    os.environ.update(ARCHLAB_HEADLESS="1", ARCHLAB_OFFLINE="1", MPLBACKEND="Agg")
    import torch

    from .device_runs import short_runs
    out = {"rehearse": args.rehearse, "torch": torch.__version__, "python": sys.version.split()[0],
           "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu", "steps": {}}
    if not args.rehearse and not torch.cuda.is_available():
        log("no CUDA device: run with --rehearse on a CPU")
    steps = {
        "data": lambda: unpack_data(Path(os.environ.get("ARCHLAB_DATA") or ROOT / "data"), log),
        "tests": lambda: run_tests(REHEARSE_TESTS if args.rehearse else TESTS, log, 120 if args.rehearse else 240),
        "runs": lambda: short_runs("smoke" if args.rehearse else "gpu", log, scratch),
        "bench": lambda: _bench(args.rehearse, args.out, log),
    }
    for name, step in steps.items():
        if name in args.skip:
            continue
        t0 = time.perf_counter()
        log(f"--- {name}")
        try:
            out["steps"][name] = {"ok": True, "result": step()}
        except Exception as e:  # noqa: BLE001 - one failing step must not lose the others' measurements
            out["steps"][name] = {"ok": False, "error": f"{type(e).__name__}: {e}"}
            log(f"{name} FAILED: {type(e).__name__}: {e}")
        out["steps"][name]["seconds"] = time.perf_counter() - t0
    out["wall_s"] = time.perf_counter() - log.t0
    (args.out / "device_check.json").write_text(json.dumps(out, indent=1, default=str))
    log(f"done in {out['wall_s']:.0f}s -> {args.out / 'device_check.json'}")
    return out


def _bench(rehearse: bool, out: Path, log) -> dict:
    from .__main__ import main as bench_main

    size = "tiny" if rehearse else "small"
    result = bench_main(["--size", size, "--no-ray", "--no-packing", "--out", str(out / "bench.json")])
    log(f"bench {size}: table in {out / 'bench.json'}")
    # The gpu profile's measured projection (bench.project_gpu): minutes per notebook on this device.
    gpu_profile = result.get("projection", {}).get("gpu_profile") if isinstance(result, dict) else None
    return {"size": size, "table": result.get("table") if isinstance(result, dict) else None,
            "gpu_profile_minutes": {k: v.get("minutes") for k, v in (gpu_profile or {}).items()}}


if __name__ == "__main__":
    main()
