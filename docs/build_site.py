"""Build the archlab site (``make site``): a Jupyter Book 1 (Sphinx) book of what ``make reproduce`` left in results/.

Nothing is executed: the pages are the executed notebooks ``results/<stem>/<stem>.ipynb`` as stored, README.md and
the methods notes ``docs/papers/*.md``, with the verdict table ``results/00_overview/claims_summary.csv`` and its
forest plot as the landing page. Everything is staged into a scratch folder first (the results copies are never
touched): each notebook gets a header cell naming the profile, device and commit its outputs came from (from
``results/<stem>/figures/manifest.json`` and the notebook's papermill metadata), and README links to files that are
not pages become code spans, so every link of the site resolves.

    python docs/build_site.py [--results DIR] [--out DIR]      # or: make site [SITE_RESULTS=DIR]

``--results`` (env ``SITE_RESULTS``, default results/) is where the executed notebooks are read from; the HTML lands in
``--out`` (env ``SITE_OUT``, default docs/_build/site)/html. Configuration: docs/_config.yml and docs/_toc.yml.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from archlab.claims import VERDICTS, read_claims as _read_claims, summary_counts
from archlab.notebook import effect_text, short, verdict_label
from archlab.plots import FOREST_CAPTION
from archlab.provenance import git_commit  # the manifests' own rule: results/ never makes the code dirty

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
OVERVIEW = "00_overview"
FOREST = "figures/claims_forest.png"


# ----------------------------------------------------------------------------- provenance


def provenance(stem_dir: Path, nb: dict | None = None) -> dict:
    """What a page's outputs came from: profiles, devices and commits of its figures' manifest, and the papermill run
    (parameters, start, duration). A value the manifest lacks falls back to the notebook's parameters."""
    figures = {}
    manifest = stem_dir / "figures" / "manifest.json"
    if manifest.exists():
        figures = json.loads(manifest.read_text()).get("figures", {})
    distinct = lambda key: sorted({str(f[key]) for f in figures.values() if f.get(key)})  # noqa: E731
    pm = (nb or {}).get("metadata", {}).get("papermill", {})
    params = pm.get("parameters", {})
    out = {"profile": distinct("profile") or ([str(params["profile"])] if "profile" in params else []),
           "device": distinct("device"), "commit": distinct("git_commit"), "created": distinct("created"),
           "figures": len(figures), "parameters": params, "start": pm.get("start_time"), "duration": pm.get("duration")}
    return out


def _join(values: list, code: bool = False, short: bool = False) -> str:
    if not values:
        return "unknown"
    fmt = (lambda v: f"`{v[:12] + v[40:] if short and len(v) >= 40 else v}`") if code else (lambda v: f"**{v}**")
    return " / ".join(fmt(v) for v in values)


def provenance_markdown(p: dict, what: str = "this page") -> str:
    """A short MyST admonition: profile, device, commit (and how the notebook was run)."""
    run = ""
    if p["start"]:
        run = f" Executed {p['start'][:16].replace('T', ' ')} UTC"
        if p["duration"] is not None:
            run += f" in {p['duration']:.0f} s"
        run += f" by papermill with parameters `{json.dumps(p['parameters'])}`." if p["parameters"] else " by papermill."
    elif p["created"]:
        run = f" Figures written {p['created'][0][:16].replace('T', ' ')} to {p['created'][-1][:16].replace('T', ' ')}."
    return (f":::{{admonition}} Outputs of {what}\n:class: note archlab-provenance\n"
            f"Profile {_join(p['profile'])} · device {_join(p['device'])} · commit {_join(p['commit'], code=True, short=True)}."
            f"{run} Shown as stored; building the site re-executed nothing.\n:::\n")


# ----------------------------------------------------------------------------- staging


def stage_notebook(src: Path, dst: Path) -> dict:
    """Copy an executed notebook with a provenance header cell after its title cell; return its provenance."""
    nb = json.loads(src.read_text())
    p = provenance(src.parent, nb)
    header = {"cell_type": "markdown", "id": "archlab-provenance", "metadata": {"tags": ["archlab-provenance"]},
              "source": provenance_markdown(p, "this notebook").splitlines(keepends=True)}
    cells = nb.get("cells", [])
    first = "".join(cells[0].get("source", "")) if cells and cells[0].get("cell_type") == "markdown" else ""
    if first.lstrip().startswith("# "):  # the header goes right under the title line, above the introduction
        title, _, rest = first.lstrip().partition("\n")
        cells[0] = {**cells[0], "source": page_title(src.stem, title) + "\n"}
        cells[1:1] = [header] + ([{"cell_type": "markdown", "id": "archlab-intro", "metadata": {},
                                   "source": rest.lstrip("\n")}] if rest.strip() else [])
    else:
        cells.insert(0, header)
    for c in cells:  # the notebooks link the methods notes as ../docs/papers/*.md; in the book they are ../papers/
        if c.get("cell_type") == "markdown" and c is not header:
            text = "".join(c.get("source", "")).replace("](../docs/papers/", "](../papers/")
            c["source"] = stage_markdown(text, dst.parent, dst.parent.parent)
    nb["cells"] = cells
    pm = nb.get("metadata", {}).get("papermill", {})
    for key in ("input_path", "output_path"):  # where it was built is no one's business: the file names suffice
        if pm.get(key):
            pm[key] = Path(pm[key]).name
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(json.dumps(nb, indent=1, ensure_ascii=False))
    return p


def page_title(stem: str, title: str) -> str:
    """``# 01 — <title>`` for every notebook (the navigation names them one way): the notebook's number, then its title
    without its own prefix ("Paper 1 —", "02 —", "archlab —")."""
    text = re.sub(r"^(paper\s*\d+|notebook\s*\d+|\d+|archlab)\s*[—:–-]\s*", "", title.lstrip("# ").strip(), flags=re.I)
    number = stem.split("_", 1)[0]
    return f"# {number} — {text[:1].upper() + text[1:]}" if number.isdigit() and text else title


def note_number(md: Path) -> tuple:
    """Sort key of a methods note: the paper (or notebook) number in its title, then its file name."""
    first = md.read_text().lstrip().partition("\n")[0]
    m = re.search(r"(?:paper|notebook)\s*(\d+)", first, flags=re.I)
    return (int(m.group(1)) if m else 99, md.name)


def toc(template: str, notebooks: list[str], notes: list[str]) -> str:
    """docs/_toc.yml with its globs replaced by the staged pages in order: notebooks by number, methods notes by the
    number of their paper (a glob would sort them by file name)."""
    def entries(indent: str, paths: list[str]) -> str:
        return "\n".join(f"{indent}- file: {p}" for p in paths)
    out = re.sub(r"^(\s*)- glob: notebooks/\*$", lambda m: entries(m.group(1), notebooks), template, flags=re.M)
    return re.sub(r"^(\s*)- glob: papers/\*$", lambda m: entries(m.group(1), notes), out, flags=re.M)


_LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)")


def stage_markdown(text: str, here: Path, stage: Path) -> str:
    """Relative links to files that are not staged pages become ``text (`path`)``; web links and anchors stay."""
    def repl(m):
        label, target = m.group(1), m.group(2)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            return m.group(0)
        path = target.split("#", 1)[0]
        if (here / path).exists():
            return m.group(0)
        return f"{label} (`{path}`)" if f"`{path}`" not in label else label
    return _LINK.sub(repl, text)


def read_claims(path: Path) -> pd.DataFrame:
    return _read_claims(path)


def landing_page(results: Path, stage: Path, stems: dict) -> str:
    """index.md: the verdict counts per paper (exact checks apart), the forest plot with its key, and every claim with
    its kind, effect and verdict."""
    lines = ["# archlab: every claim and its verdict", ""]
    ov = results / OVERVIEW
    claims_csv = ov / "claims_summary.csv"
    nb = ov / f"{OVERVIEW}.ipynb"
    p = provenance(ov, json.loads(nb.read_text()) if nb.exists() else None)
    lines += ["A reproducible companion to four papers on how a network's **shape** (its depth, width and paths) "
              "decides how well it trains. Each paper has a notebook; each claim gets a measured verdict by a "
              "criterion fixed before any result existed. See [the README](readme.md) for how to reproduce it.", "",
              provenance_markdown(p, "the verdict table"), ""]
    if not claims_csv.exists():
        lines += [":::{warning}", f"No verdict table: `{claims_csv.name}` is missing from the results folder. "
                  "Run `make reproduce` first.", ":::", ""]
        return "\n".join(lines)
    claims = read_claims(claims_csv)
    lines += counts_markdown(claims, stems)
    forest = ov / FOREST
    lines += ["## Effect sizes", ""]
    if forest.exists():
        shutil.copy2(forest, stage / "claims_forest.png")
        lines += ["```{figure} claims_forest.png", ":name: claims-forest", ":alt: forest plot of every claim's effect",
                  "", FOREST_CAPTION, "```", ""]
    else:
        lines += [":::{note}", f"No forest plot yet (`results/{OVERVIEW}/{FOREST}` is missing from this results "
                  "folder).", ":::", ""]
    scale = write_claims_table(claims, stage / "claims_summary.csv")
    lines += ["## Every claim", "", f"Each claim's criterion, regime and note are in `results/{OVERVIEW}/claims_summary.csv` "
              f"and in its notebook's verdict table. {scale} (`smoke` verdicts only exercise the plumbing.) An exact "
              "check passes or fails; it is not a reproduced finding.", "", "```{csv-table}", ":file: claims_summary.csv", ":header-rows: 1", ":class: archlab-claims",
              ":widths: auto", "```", ""]
    return "\n".join(lines)


def counts_markdown(claims: pd.DataFrame, stems: dict) -> list[str]:
    """Verdicts per paper as the README counts them (``claims.summary_counts``): statistical claims by verdict (columns
    that are zero for every paper left out), exact checks apart in one column; narrow enough for the page column."""
    counts = summary_counts(claims)
    exact = [c for c in counts.columns if c.startswith("exact ")]
    cols = [c for c in counts.columns if c not in exact and (counts[c].sum() > 0 or c in VERDICTS[:3])]
    out = ["## Verdicts per paper", "", "Statistical claims (directional and equivalence) by verdict; exact checks "
           "(identities, counts) counted apart: they pass or fail, they do not reproduce a finding.", "",
           "| paper | " + " | ".join(cols) + " | exact checks |", "|---|" + "---|" * (len(cols) + 1)]
    for paper, row in counts.iterrows():
        stem = next((s for s in stems if s.split("_", 1)[0].lstrip("0") == str(paper)), None)
        name = "**all**" if paper == "all" else (f"[{paper}](notebooks/{stem}.ipynb)" if stem else str(paper))
        checks = ", ".join(f"{row[c]} {c.split(' ', 1)[1]}" for c in exact if row[c]) or "none"
        out.append(f"| {name} | " + " | ".join(str(row[c]) for c in cols) + f" | {checks} |")
    return out + [""]


def write_claims_table(claims: pd.DataFrame, path: Path) -> str:
    """The landing page's claims table: short columns only (the verdict must be in view without scrolling sideways);
    the profile is a column only when the verdicts were reached at more than one. Returns a sentence naming it."""
    records = claims.to_dict("records")
    table = pd.DataFrame({"claim": [f"P{r['paper']} {r['id']}" for r in records], "kind": claims.kind,
                          "what it says": [short(c, 120) for c in claims.claim],
                          "effect [interval]": [effect_text(r) for r in records],
                          "verdict": [verdict_label(r) for r in records]})
    profiles = sorted({str(p) for p in claims.profile if str(p) not in ("", "nan")})
    if len(profiles) > 1:
        table["profile"] = claims.profile
    table.to_csv(path, index=False)
    return (f"Every verdict was reached at the `{profiles[0]}` profile." if len(profiles) == 1 else
            "The `profile` column says at which scale each verdict was reached.")


def stage(results: Path, src: Path) -> dict:
    """Fill ``src`` with the book's sources; return ``{stem: provenance}`` of the notebooks staged."""
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    # methods notes first: the notebooks' links to them are checked against the staged files
    papers = sorted((DOCS / "papers").glob("*.md"), key=note_number)
    (src / "papers").mkdir()
    for md in papers:
        (src / "papers" / md.name).write_text(stage_markdown(md.read_text(), src / "papers", src))
    if not papers:
        (src / "papers" / "none.md").write_text("# Methods notes\n\nNo methods note (`docs/papers/*.md`) yet.\n")
    stems = {}
    for nb in sorted(results.glob("*/*.ipynb")):
        if nb.stem == nb.parent.name:  # results/<stem>/<stem>.ipynb only
            stems[nb.stem] = stage_notebook(nb, src / "notebooks" / nb.name)
    if not stems:  # the toc's glob must match something; say why the section is empty
        (src / "notebooks").mkdir()
        (src / "notebooks" / "none.md").write_text(
            f"# No executed notebook\n\n`{results}` has no `<stem>/<stem>.ipynb`: run `make reproduce` first.\n")
    readme = (ROOT / "README.md").read_text()
    readme = re.sub(r"\]\(notebooks/([^)]+)\.ipynb\)", lambda m: f"](notebooks/{m.group(1)}.ipynb)"
                    if m.group(1) in stems else f"](#{m.group(1)})", readme)
    (src / "readme.md").write_text(stage_markdown(readme, src, src))
    (src / "index.md").write_text(landing_page(results, src, stems))
    commit = git_commit()
    config = (DOCS / "_config.yml").read_text().replace(
        'extra_footer: ""', "extra_footer: " + json.dumps(
            f"<p>Built {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} from commit <code>{commit[:12]}"
            f"{commit[40:]}</code>; each page names the profile, device and commit of its outputs.</p>"), 1)
    (src / "_config.yml").write_text(config)
    notes = [f"papers/{md.stem}" for md in papers] or ["papers/none"]
    pages = [f"notebooks/{stem}" for stem in sorted(stems)] or ["notebooks/none"]
    (src / "_toc.yml").write_text(toc((DOCS / "_toc.yml").read_text(), pages, notes))
    return stems


def build(results: Path, out: Path) -> Path:
    """Stage and build; return the HTML folder."""
    t0 = time.perf_counter()
    src = out / "src"
    stems = stage(results, src)
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb) if jb.exists() else "jupyter-book", "build", str(src), "--path-output", str(out), "--builder", "html",
           "--keep-going"]
    html = out / "_build" / "html"
    if html.exists():
        shutil.rmtree(html)  # stale pages of notebooks no longer in results/ must not linger
    subprocess.run(cmd, check=True)
    print(f"site: {len(stems)} notebook(s) {sorted(stems)} from {results} -> {html / 'index.html'} "
          f"in {time.perf_counter() - t0:.0f}s")
    return html


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=Path(os.environ.get("SITE_RESULTS") or ROOT / "results"))
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("SITE_OUT") or DOCS / "_build" / "site"))
    args = ap.parse_args(argv)
    if not args.results.is_dir():
        print(f"error: no results folder at {args.results}", file=sys.stderr)
        return 2
    build(args.results.resolve(), args.out.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
