"""Why JupyterLab marks every notebook modified on open, and the fix: store the metadata Lab would write.

On opening, Lab connects the kernel and writes what the kernel reports into the notebook's metadata:
``kernelspec.display_name`` ("Python 3 (ipykernel)") and the full ``language_info`` (codemirror_mode, file_extension,
mimetype, nbconvert_exporter, pygments_lexer, version). The committed notebooks carried ``"Python 3"`` and
``language_info: {"name": "python"}``, so every open changed the document (dirty) and autosave rewrote it. Cell ids and
nbformat 4.5 were left alone (checked by saving from Lab and diffing the JSON).

The fix is to commit that metadata. nbstripout keeps it (it strips only ``metadata.signature`` and
``metadata.widgets`` at notebook level), so ``make strip`` does not undo it. ``language_info.version`` is the kernel's
Python version: a reader on another Python (or patch release) still gets the notebook marked modified, as in any
Jupyter project; the environment pins Python 3.11.

    python tests/browser/lab_metadata.py --check notebooks/*.ipynb   # exit 1 and list the notebooks Lab would modify
    python tests/browser/lab_metadata.py --write notebooks/*.ipynb   # rewrite only the metadata (1-space JSON, as Lab)
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def kernel_metadata(kernel: str = "python3") -> dict:
    """``{"kernelspec": ..., "language_info": ...}`` exactly as JupyterLab writes them for ``kernel`` on this Python."""
    from ipykernel.ipkernel import IPythonKernel
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec(kernel)
    return {"kernelspec": {"display_name": spec.display_name, "language": spec.language, "name": kernel},
            "language_info": json.loads(json.dumps(IPythonKernel.language_info))}


def needs_fix(nb: dict, meta: dict | None = None) -> dict:
    """The metadata keys Lab would change on opening ``nb``: ``{key: (stored, lab's)}``."""
    meta = meta or kernel_metadata(nb.get("metadata", {}).get("kernelspec", {}).get("name", "python3"))
    return {k: (nb.get("metadata", {}).get(k), v) for k, v in meta.items() if nb.get("metadata", {}).get(k) != v}


def fix(nb: dict, meta: dict | None = None) -> dict:
    """``nb`` with Lab's kernel metadata filled in (cells untouched)."""
    meta = meta or kernel_metadata(nb.get("metadata", {}).get("kernelspec", {}).get("name", "python3"))
    return {**nb, "metadata": {**nb.get("metadata", {}), **meta}}


def write(path: Path, nb: dict) -> None:
    """Write as nbformat and JupyterLab do (sorted keys, 1-space indent, trailing newline), so the diff is the fix."""
    path.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="+", type=Path)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true")
    mode.add_argument("--write", action="store_true")
    args = ap.parse_args(argv)
    bad = 0
    for path in args.notebooks:
        nb = json.loads(path.read_text())
        diff = needs_fix(nb)
        if not diff:
            continue
        bad += 1
        if args.write:
            write(path, fix(nb))
            print(f"fixed {path}: {sorted(diff)}")
        else:
            print(f"{path}: JupyterLab would rewrite {', '.join(f'{k} {a!r} -> {b!r}' for k, (a, b) in diff.items())}")
    return 1 if bad and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
