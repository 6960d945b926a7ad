"""The run store: every training run is computed once and kept in an embedded SQLite database.

A run is identified by a hash of (run function's stable name, its config, archlab's version, the
function's own code version). The name is declared with ``@versioned(n, name=...)``, so moving a function to
another module keeps its runs; names it had before (``formerly=``) are migrated on first use. ``run_or_load`` returns the stored result when the key is present, so notebooks
resume after a crash and figures re-render from stored runs without training. SQLite in WAL mode
lets several processes (sweep workers, a notebook reading results) use one file safely, and each
run is committed the moment it finishes, so killing a sweep loses only the runs in flight.

A store can read other stores beneath its own (``references``, read only): the reference runs shipped with the
repository (``archlab.reference``), so a notebook opened in JupyterLab renders from them instead of training. Its own
runs win over a reference's with the same key, and whatever it trains goes into its own file only.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import socket
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from . import __version__
from .paths import reference_profiles, reference_root, store_path

# ok/diverged: the experiment's outcome. failed: the experiment itself raised (a deterministic error of the model
# code), kept until ``retry_failed``. oom/environment: the machine failed the run (out of memory, missing data, an
# import error, a killed worker): recorded so it is shown, but never a result: the next invocation retries it.
STATUSES = ("ok", "diverged", "failed", "oom", "environment")
RETRIED = ("oom", "environment")


def finished(retry_failed: bool = False) -> tuple:
    """The statuses a sweep does not rerun: every one but the environment's, and but ``failed`` on request."""
    return tuple(s for s in STATUSES if s not in RETRIED and not (retry_failed and s == "failed"))

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY,
    fn TEXT NOT NULL,
    config TEXT NOT NULL,
    status TEXT NOT NULL,
    result TEXT,
    error TEXT,
    code_version TEXT NOT NULL,
    seconds REAL,
    host TEXT,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_fn ON runs (fn);
"""
FIELDS = ("key", "fn", "config", "status", "result", "error", "code_version", "seconds", "host", "created")
EXPORT = "runs.jsonl.xz"  # a store exported as reference runs (archlab.reference): one JSON row a line, xz


def load_export(export: Path) -> Path:
    """The SQLite copy of an exported store, beside it (``runs.sqlite``), rebuilt when missing or older than the
    export. Built under a temp name and renamed, so concurrent kernels never see half a file; a rollback journal,
    not WAL, so read-only readers need no ``-shm`` file."""
    import lzma
    import os
    import tempfile

    target = export.parent / "runs.sqlite"
    if target.exists() and target.stat().st_mtime >= export.stat().st_mtime:
        return target
    fd, tmp = tempfile.mkstemp(prefix=".runs-", suffix=".sqlite", dir=export.parent)
    os.close(fd)
    rows = [json.loads(line) for line in lzma.decompress(export.read_bytes()).decode().splitlines()]
    with closing(sqlite3.connect(tmp)) as db, db:
        db.executescript(SCHEMA)
        db.executemany(f"INSERT OR REPLACE INTO runs VALUES ({', '.join('?' * len(FIELDS))})",
                       [tuple(r[f] for f in FIELDS) for r in rows])
    os.replace(tmp, target)
    return target


def default_references() -> list[Path]:
    """The reference runs a default ``RunStore`` reads beneath its own: the profiles ``paths.reference_profiles``
    names (in JupyterLab every profile's, headless none) that have an export."""
    wanted = reference_profiles()
    exports = sorted(reference_root().glob(f"*/{EXPORT}")) if wanted == "all" else [
        reference_root() / p / EXPORT for p in wanted]
    return [load_export(e) for e in exports if e.exists()]


def versioned(version: int, *, name: str | None = None, formerly: tuple = ()):
    """Tag a run function with a code version (bump it when a change alters the function's results) and a stable
    ``name`` for its run keys (default: its module path). ``formerly`` lists names its runs were stored under
    before (e.g. the module path before a move); :meth:`RunStore.migrate` re-keys those runs to ``name``."""

    def wrap(fn):
        fn.code_version = version
        if name is not None:
            fn.run_name = name
        fn.formerly = tuple(formerly)
        return fn

    return wrap


def fn_name(fn) -> str:
    return getattr(fn, "run_name", None) or f"{fn.__module__}.{fn.__qualname__}"


def code_version(fn) -> str:
    return f"archlab-{__version__}/fn-{getattr(fn, 'code_version', 0)}"


def run_key(fn, config: dict) -> str:
    blob = json.dumps({"fn": fn_name(fn), "config": config, "code": code_version(fn)}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _json(obj) -> str:
    # NaN/inf are valid results (a diverged loss); store them as strings JSON can carry.
    def clean(o):
        if isinstance(o, float) and not math.isfinite(o):
            return str(o)
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [clean(v) for v in o]
        return o

    return json.dumps(clean(obj), default=str)


def _unjson(text):
    def restore(o):
        if o in ("nan", "inf", "-inf"):
            return float(o)
        if isinstance(o, dict):
            return {k: restore(v) for k, v in o.items()}
        if isinstance(o, list):
            return [restore(v) for v in o]
        return o

    return None if text is None else restore(json.loads(text))


class RunStore:
    """A SQLite file of runs. Cheap to construct; each call opens and closes its own connection.

    ``references``: stores read beneath this one (never written); default: none for an explicit ``path``, else the
    reference runs ``paths.reference_profiles()`` names (JupyterLab: every profile's; headless runs: none).
    """

    def __init__(self, path: str | Path | None = None, references: list | None = None):
        self.path = Path(path) if path is not None else store_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if references is None and path is None:
            references = default_references()
        self.references = [Path(r) for r in references or ()]
        with closing(self._connect()) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=60)
        db.row_factory = sqlite3.Row
        return db

    def _read(self, query: str, args=()) -> list[sqlite3.Row]:
        """``query``'s rows from this store, then from each reference (opened read only)."""
        with closing(self._connect()) as db:
            rows = db.execute(query, args).fetchall()
        for ref in self.references:
            with closing(sqlite3.connect(f"file:{ref}?mode=ro", uri=True, timeout=60)) as db:
                db.row_factory = sqlite3.Row
                rows += db.execute(query, args).fetchall()
        return rows

    def get(self, key: str) -> dict | None:
        rows = self._read("SELECT * FROM runs WHERE key = ?", (key,))
        return self._row(rows[0]) if rows else None

    def put(self, key: str, fn, config: dict, status: str, result: dict | None = None, error: str | None = None,
            seconds: float | None = None) -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown run status {status!r}; valid: {STATUSES}")
        with closing(self._connect()) as db, db:
            db.execute(
                "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, fn_name(fn) if callable(fn) else fn, _json(config), status, _json(result), error,
                 code_version(fn) if callable(fn) else "", seconds, socket.gethostname(), time.time()),
            )

    def keys(self, fn=None, statuses=STATUSES) -> set[str]:
        """Keys of stored runs (of ``fn``, with one of ``statuses``)."""
        if fn is None:
            rows = self._read("SELECT key, status FROM runs")
        else:
            rows = self._read("SELECT key, status FROM runs WHERE fn = ?", (fn_name(fn),))
        first = {}
        for r in rows:  # this store's row first, so a run retrained here shadows the reference's
            first.setdefault(r["key"], r["status"])
        return {k for k, s in first.items() if s in statuses}

    def runs(self, fn=None) -> list[dict]:
        q, args = ("SELECT * FROM runs", ()) if fn is None else ("SELECT * FROM runs WHERE fn = ?", (fn_name(fn),))
        first = {}
        for r in self._read(q, args):
            first.setdefault(r["key"], r)
        return sorted((self._row(r) for r in first.values()), key=lambda r: r["created"])

    def merge(self, other: str | Path) -> int:
        """Copy in every run of another store (e.g. one shard's) that this one lacks; returns how many."""
        before = len(self)
        with closing(self._connect()) as db:
            db.execute("ATTACH DATABASE ? AS other", (str(other),))
            with db:
                db.execute("INSERT OR IGNORE INTO runs SELECT * FROM other.runs")
            db.execute("DETACH DATABASE other")
        return len(self) - before

    def migrate(self, fn) -> int:
        """Re-key the runs stored under one of ``fn.formerly`` to ``fn``'s name; returns how many moved.

        Only runs of the current code version move (older ones could never match a key again). The new key is the
        hash of the stored config, so a migrated run is found exactly where a fresh run would be stored."""
        old = tuple(getattr(fn, "formerly", ()))
        if not old:
            return 0
        with closing(self._connect()) as db:
            marks = ",".join("?" * len(old))
            rows = db.execute(f"SELECT key, config, code_version FROM runs WHERE fn IN ({marks})", old).fetchall()
            moved = 0
            with db:
                for r in rows:
                    if r["code_version"] != code_version(fn):
                        continue
                    new = run_key(fn, _unjson(r["config"]))
                    db.execute("UPDATE OR IGNORE runs SET key = ?, fn = ? WHERE key = ?", (new, fn_name(fn), r["key"]))
                    moved += 1
        return moved

    def delete(self, key: str) -> None:
        with closing(self._connect()) as db, db:
            db.execute("DELETE FROM runs WHERE key = ?", (key,))

    @staticmethod
    def _row(row: sqlite3.Row) -> dict:
        d = dict(row)
        d["config"] = _unjson(d["config"])
        d["result"] = _unjson(d["result"])
        return d

    def __len__(self) -> int:
        """How many runs this store's own file holds (references not counted)."""
        with closing(self._connect()) as db:
            return db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]


def training_disabled() -> bool:
    """Whether ``ARCHLAB_NO_TRAINING`` forbids training here (``make figures`` renders stored runs only)."""
    return bool(os.environ.get("ARCHLAB_NO_TRAINING"))


class TrainingDisabled(RuntimeError):
    """A run was missing while ``ARCHLAB_NO_TRAINING`` forbids training (``make figures`` renders stored runs only)."""


def execute(fn, config: dict) -> tuple[str, dict | None, str | None, float]:
    """Run ``fn(config)`` and classify the outcome: (status, result, error, seconds). Never raises
    for a failing run, so one bad configuration cannot take a sweep down; but raises ``TrainingDisabled`` when
    ``ARCHLAB_NO_TRAINING`` is set, before anything trains."""
    import traceback

    if training_disabled():
        what = getattr(fn, "fn", fn)  # a group's wrapper (sweep._Batch) carries the run function
        raise TrainingDisabled(f"{getattr(what, 'run_name', getattr(what, '__name__', what))} run {json.dumps(config, default=str)[:300]} is "
                               "not among the stored runs and ARCHLAB_NO_TRAINING forbids training it (make figures "
                               "renders the reference runs only: were they exported from this code? `make reproduce` "
                               "retrains, `make reference` exports anew)")

    t0 = time.perf_counter()
    try:
        result = fn(dict(config))
    except Exception as e:  # noqa: BLE001 - every failure is recorded with its reason
        status = "oom" if _is_oom(e) else "environment" if _is_environmental(e) else "failed"
        if status == "oom":
            _free_cuda()
        tb = traceback.format_exception_only(type(e), e)[-1].strip()
        return status, None, tb, time.perf_counter() - t0
    if not isinstance(result, dict):
        return "failed", None, f"run function returned {type(result).__name__}, expected dict", time.perf_counter() - t0
    status = result.get("status", "ok")
    if status not in STATUSES:
        status = "failed"
    return status, result, result.get("error"), time.perf_counter() - t0


def _is_environmental(e: Exception) -> bool:
    """Failures of the machine, not of the experiment: missing files or data (``DataNotFoundError`` is a
    ``FileNotFoundError``), other OS errors (disk full, permissions, network) and missing modules."""
    return isinstance(e, (OSError, ImportError))


def _is_oom(e: Exception) -> bool:
    import torch

    return isinstance(e, torch.OutOfMemoryError) or "out of memory" in str(e).lower()


def _free_cuda() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def run_or_load(fn, config: dict, *, store: RunStore | None = None, retry_failed: bool = False) -> dict:
    """The stored result of ``fn(config)``, computing and storing it first when absent.

    Returns the result dict with ``status`` set; a failed run returns ``{"status": ..., "error": ...}``.
    """
    store = store if store is not None else RunStore()
    store.migrate(fn)
    key = run_key(fn, config)
    row = store.get(key)
    if row is not None and row["status"] in finished(retry_failed):
        return {**(row["result"] or {}), "status": row["status"], "error": row["error"]}
    status, result, error, seconds = execute(fn, config)
    store.put(key, fn, config, status, result, error, seconds)
    return {**(result or {}), "status": status, "error": error}


def measured(fn, config: dict, *, store: RunStore | None = None) -> dict:
    """``run_or_load`` for a measurement a notebook cannot go on without (a timing, a probe): its result, stored
    once like a trained run's, or a ``RuntimeError`` naming the run and why it did not finish."""
    r = run_or_load(fn, config, store=store)
    if r["status"] != "ok":
        raise RuntimeError(f"{fn_name(fn)} did not finish ({r['status']}): {r['error']}")
    return r


def main(argv=None) -> int:
    """``python -m archlab.store merge SHARD.sqlite ... [--into results/runs.sqlite]``: gather sharded runs."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m archlab.store")
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("merge", help="copy the runs of other stores into one")
    m.add_argument("sources", nargs="+", type=Path)
    m.add_argument("--into", type=Path, default=None, help="target store (default: results/runs.sqlite)")
    args = ap.parse_args(argv)
    target = RunStore(args.into)
    for src in args.sources:
        if not src.exists():
            ap.error(f"no store at {src}")
        print(f"{src}: {target.merge(src)} new runs -> {target.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
