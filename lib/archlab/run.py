"""Run a notebook headless with papermill: ``python -m archlab.run NOTEBOOK [-p name value ...]``.

Parameters are checked against the notebook's ``parameters`` cell before a kernel starts: an
unknown name, a value of the wrong type or a value outside the choices declared in the cell's
comment (``# choices: a, b``) is refused with the valid names and choices. When the notebook's
metadata names its paper package (``{"archlab": {"package": "archlab.papers.x"}}``), the package's
``make_config`` is called with every parameter too, so cross-field errors (a kernel larger than the image, ...) also surface
before anything trains. The executed notebook lands in ``results/<stem>/<stem>.ipynb``.
"""
from __future__ import annotations

import argparse
import ast
import importlib
import json
import os
import re
import sys
import time
from pathlib import Path

from .config import ConfigError
from .data import DataNotFoundError
from .paths import REPO_ROOT, results_dir

_TYPES = {"int": (int,), "float": (float, int), "str": (str,), "bool": (bool,), "list": (list, tuple),
          "tuple": (list, tuple), "dict": (dict,), "None": (type(None),)}


class ParameterError(ConfigError):
    pass


def read_notebook(path: Path) -> dict:
    """The notebook as nbformat 4 JSON, each cell's ``source`` one string. Read as plain JSON: importing nbformat
    (jsonschema builds its format grammars on import) costs ~1.2 s, a fifth of a preflight that finds data missing;
    an older format goes through nbformat's conversion."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    if nb.get("nbformat") != 4:
        import nbformat

        nb = json.loads(nbformat.writes(nbformat.read(path, as_version=4)))
    for cell in nb.get("cells", []):
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
    return nb


def notebook_parameters(path: Path) -> dict:
    """``name -> {"default", "type", "choices", "help"}`` from the cell tagged ``parameters``."""
    cells = [c for c in read_notebook(path)["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells:
        raise ParameterError(f"{path} has no cell tagged 'parameters'")
    params = {}
    for line in cells[0]["source"].splitlines():
        m = re.match(r"^([A-Za-z_]\w*)\s*(?::[^=]+)?=\s*(.+?)\s*(?:#\s*(.*))?$", line)
        if not m:
            continue
        name, expr, comment = m.group(1), m.group(2), (m.group(3) or "")
        try:
            default = ast.literal_eval(expr)
        except (ValueError, SyntaxError):
            raise ParameterError(f"{path}: parameter {name} = {expr} is not a plain value") from None
        ch = re.search(r"choices:\s*(.+)$", comment)
        params[name] = {"default": default, "type": type(default).__name__ if default is not None else "None",
                        "choices": [_literal(v.strip()) for v in ch.group(1).split(",")] if ch else None,
                        "help": comment}
    return params


def _literal(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def check_parameters(path: Path, given: dict) -> dict:
    """Validate ``given`` against the notebook; return the full parameter dict (defaults filled in)."""
    spec = notebook_parameters(path)
    unknown = sorted(set(given) - set(spec))
    if unknown:
        raise ParameterError(f"{path.name}: unknown parameter(s) {unknown}; valid parameters: {sorted(spec)}")
    for name, value in given.items():
        s = spec[name]
        if s["type"] != "None" and not isinstance(value, _TYPES.get(s["type"], (object,))):
            raise ParameterError(f"{path.name}: parameter {name} = {value!r} should be of type {s['type']} "
                                 f"(default {s['default']!r})")
        if s["type"] in ("int", "float") and isinstance(value, bool):
            raise ParameterError(f"{path.name}: parameter {name} = {value!r} should be a number")
        if s["choices"] is not None:
            values = value if isinstance(value, (list, tuple)) else [value]
            bad = [v for v in values if v not in s["choices"]]
            if bad:
                raise ParameterError(f"{path.name}: parameter {name} = {value!r} is not valid; "
                                     f"choose from {s['choices']}")
    full = {k: v["default"] for k, v in spec.items()} | given
    factory = _config_factory(path)
    if factory is not None:
        factory(**full)  # raises ConfigError naming the bad value
    return full


def notebook_package(path: Path):
    """The paper package a notebook names in its metadata (``{"archlab": {"package": "archlab.papers.x"}}``), or
    None. Imported by name, so the runner (harness) never imports a paper statically."""
    name = read_notebook(path).get("metadata", {}).get("archlab", {}).get("package")
    return importlib.import_module(name) if name else None


def _config_factory(path: Path):
    package = notebook_package(path)
    return None if package is None else package.make_config


def parse_value(text: str):
    """Command-line values: Python literals when they parse (3, 0.1, True, [1, 2]), else strings."""
    return _literal(text)


def run_notebook(path: str | Path, parameters: dict | None = None, *, output_dir: Path | None = None,
                 timeout: int | None = None) -> Path:
    import papermill as pm

    path = Path(path).resolve()
    if not path.exists():
        raise FileNotFoundError(f"no notebook at {path}; notebooks: {[p.name for p in (REPO_ROOT / 'notebooks').glob('*.ipynb')]}")
    given = dict(parameters or {})
    check_parameters(path, given)
    stem = path.stem
    out_dir = output_dir or results_dir(stem)
    out = out_dir / f"{stem}.ipynb"
    os.environ["ARCHLAB_HEADLESS"] = "1"  # plain log lines instead of progress widgets in the saved notebook
    # Figures inline in the saved notebook even when the caller's environment picks a non-GUI backend (MPLBACKEND=Agg
    # would leave the executed copy, which the site and code hosts render, without a single image).
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    t0 = time.perf_counter()
    pm.execute_notebook(str(path), str(out), parameters=given, cwd=str(path.parent), kernel_name="python3",
                        progress_bar=False, log_output=True, execution_timeout=timeout)
    _relative_paths(out)
    print(f"{stem}: executed in {time.perf_counter() - t0:.1f}s -> {out}", flush=True)
    return out


def _relative_paths(out: Path) -> None:
    """papermill records its input and output paths in the executed notebook: make them repository-relative, so a
    committed notebook never names the machine it was built on."""
    import nbformat

    nb = nbformat.read(out, as_version=4)
    meta = nb.metadata.get("papermill", {})
    for key in ("input_path", "output_path"):
        if meta.get(key):
            p = Path(meta[key])
            meta[key] = str(p.relative_to(REPO_ROOT)) if p.is_relative_to(REPO_ROOT) else p.name
    nbformat.write(nb, out)


def _ask_package(path: Path, params: dict, name: str, empty):
    """``(profile, package.<name>(profile, **rest))`` for the notebook's paper package and ``params`` (defaults
    filled in); no package: ``(profile, empty)``."""
    from .profiles import resolve_profile

    package = notebook_package(path)
    profile = resolve_profile(params.get("profile", "auto"))
    if package is None:
        return profile, empty
    rest = {k: v for k, v in params.items() if k != "profile"}
    return profile, getattr(package, name)(profile, **rest)


def notebook_jobs(path: Path, params: dict, recipes: bool = False) -> tuple[str, list[dict]]:
    """``(profile, jobs)``: every training run the notebook will do with ``params``, from its package's ``jobs``;
    ``recipes``: from its ``dry_jobs`` where it has one (the jobs with their training recipes, for the dry run)."""
    recipes = recipes and hasattr(notebook_package(path), "dry_jobs")
    return _ask_package(path, params, "dry_jobs" if recipes else "jobs", [])


def notebook_datasets(path: Path, params: dict) -> dict[str, bool]:
    """``dataset -> optional`` of every run the notebook will do with ``params``, from its package's ``datasets``
    (what ``notebook_jobs`` would name, without the cost matching some papers' jobs need)."""
    return _ask_package(path, params, "datasets", {})[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m archlab.run", description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="+", type=Path)
    ap.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    ap.add_argument("--list", action="store_true", help="print each notebook's parameters and exit")
    ap.add_argument("--dry-run", action="store_true",
                    help="build every architecture of the profile's runs and step it once on the CPU; trains nothing")
    args = ap.parse_args(argv)
    # Papermill logs each cell's output as it arrives: show it, so a long headless run reports progress.
    import logging

    logging.basicConfig(format="%(message)s")
    logging.getLogger("papermill").setLevel(logging.INFO)
    given = {k: parse_value(v) for k, v in args.parameter}

    def body():
        if args.list:
            for nb in args.notebooks:
                print(json.dumps({nb.name: notebook_parameters(nb)}, indent=2, default=str))
            return 0
        # With several notebooks each gets the parameters it declares; a name no notebook declares is an error.
        # Every notebook is checked first, so a typo fails before the first one trains.
        specs = {}
        for nb in args.notebooks:
            if not nb.exists():
                raise ParameterError(f"no notebook at {nb}")
            specs[nb] = notebook_parameters(nb)
        if len(args.notebooks) > 1:
            known = set().union(*specs.values())
            if set(given) - known:
                raise ParameterError(f"unknown parameter(s) {sorted(set(given) - known)}; valid: {sorted(known)}")
        plan = {nb: given if len(specs) == 1 else {k: v for k, v in given.items() if k in spec}
                for nb, spec in specs.items()}
        full = {nb: check_parameters(nb, params) for nb, params in plan.items()}
        if args.dry_run:
            from .dryrun import report

            jobs = {nb: notebook_jobs(nb, params, recipes=True) for nb, params in full.items()}  # a bad grid fails before any table
            for nb, (profile, nb_jobs) in jobs.items():
                report(nb.stem, profile, nb_jobs)
            return 0
        from .preflight import check_data

        check_data({nb.stem: notebook_datasets(nb, params) for nb, params in full.items()})
        for nb, params in plan.items():
            run_notebook(nb, params)

    return exit_status(body)


def exit_status(body, bad_input=(ConfigError,)) -> int:
    """A command's exit status: ``body()``'s (0 when it returns None), 2 for bad input (``bad_input``), 3 for
    missing data, each with its message on stderr; both are raised before anything is trained or written."""
    try:
        return body() or 0
    except bad_input as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except DataNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
