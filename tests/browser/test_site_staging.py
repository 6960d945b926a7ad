"""docs/build_site.py's staging, without a browser or a Sphinx build (fast; runs in `make test`): provenance headers,
link rewriting, the landing page, and that the results folder is only read."""
import hashlib
import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("build_site", ROOT / "docs" / "build_site.py")
bs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bs)


def _results(tmp_path: Path) -> Path:
    res = tmp_path / "results"
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {"papermill": {
        "parameters": {"profile": "smoke"}, "start_time": "2026-12-01T21:41:41+00:00", "duration": 30.1}},
        "cells": [{"cell_type": "markdown", "id": "0", "metadata": {}, "source": "# Paper 9\n\nIntro text.\n"},
                  {"cell_type": "code", "id": "1", "metadata": {}, "execution_count": 1, "source": "1",
                   "outputs": [{"output_type": "execute_result", "execution_count": 1, "metadata": {},
                                "data": {"text/plain": "1"}}]}]}
    for stem in ("00_overview", "09_paper"):
        (res / stem / "figures").mkdir(parents=True)
        (res / stem / f"{stem}.ipynb").write_text(json.dumps(nb))
        (res / stem / "figures" / "manifest.json").write_text(json.dumps({"figures": {"a": {
            "profile": "smoke", "device": "CPU: x86_64 (2 threads)", "git_commit": "a" * 40, "created": "2026-12-01"}}}))
    (res / "00_overview" / "claims_summary.csv").write_text(
        "paper,id,claim,criterion,measured,verdict,profile\n9,C1,\"a, b\",crit,0.5,reproduced,smoke\n")
    return res


def _digest(folder: Path) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() + str(p).encode() for p in sorted(folder.rglob("*")) if p.is_file())).hexdigest()


def test_stage_reads_results_and_writes_only_the_stage(tmp_path):
    res = _results(tmp_path)
    before = _digest(res)
    stems = bs.stage(res, tmp_path / "src")
    assert _digest(res) == before and sorted(stems) == ["00_overview", "09_paper"]
    nb = json.loads((tmp_path / "src" / "notebooks" / "09_paper.ipynb").read_text())
    srcs = ["".join(c["source"]) for c in nb["cells"]]
    assert srcs[0] == "# 09 — Paper 9\n" and "archlab-provenance" in srcs[1] and srcs[2].startswith("Intro text.")
    assert all(w in srcs[1] for w in ("**smoke**", "CPU: x86_64 (2 threads)", "`aaaaaaaaaaaa`", '{"profile": "smoke"}'))
    assert nb["cells"][3]["outputs"], "outputs are staged as stored"
    index = (tmp_path / "src" / "index.md").read_text()
    assert "[9](notebooks/09_paper.ipynb)" in index and "No forest plot yet" in index
    assert "a, b" in (tmp_path / "src" / "claims_summary.csv").read_text()
    assert (tmp_path / "src" / "_toc.yml").exists() and "extra_footer: \"<p>Built" in (tmp_path / "src" / "_config.yml").read_text()


def test_links_to_files_that_are_not_pages_become_code(tmp_path):
    (tmp_path / "page.md").write_text("x")
    text = "[a](page.md) [b](lib/archlab/x.py) [c](https://example.org) [d](#top) ![e](img.png)"
    assert bs.stage_markdown(text, tmp_path, tmp_path) == "[a](page.md) b (`lib/archlab/x.py`) [c](https://example.org) [d](#top) ![e](img.png)"


def test_empty_results_still_stage_a_book(tmp_path):
    (tmp_path / "results").mkdir()
    assert bs.stage(tmp_path / "results", tmp_path / "src") == {}
    assert (tmp_path / "src" / "notebooks" / "none.md").exists()
    assert "No verdict table" in (tmp_path / "src" / "index.md").read_text()


def test_notebook_links_to_methods_notes_point_at_the_staged_notes(tmp_path):
    res = _results(tmp_path)
    nb = json.loads((res / "09_paper" / "09_paper.ipynb").read_text())
    nb["cells"][0]["source"] = "# Paper 9\n\nSee [the note](../docs/papers/gradient_paths.md) and [code](../lib/x.py).\n"
    (res / "09_paper" / "09_paper.ipynb").write_text(json.dumps(nb))
    bs.stage(res, tmp_path / "src")
    staged = json.loads((tmp_path / "src" / "notebooks" / "09_paper.ipynb").read_text())
    intro = "".join(staged["cells"][2]["source"])
    assert (tmp_path / "src" / "papers" / "gradient_paths.md").exists()
    assert "[the note](../papers/gradient_paths.md)" in intro and "code (`../lib/x.py`)" in intro


def test_landing_page_counts_exact_checks_apart_and_shows_each_kind(tmp_path):
    res = _results(tmp_path)
    (res / "00_overview" / "claims_summary.csv").write_text(
        "paper,id,kind,claim,effect,ci_low,ci_high,unit,measured,verdict,profile\n"
        "9,C1,exact,counts,,,,,5 / 7 / 5,reproduced,cpu\n9,C2,directional,A beats B,2.5,1,4,pp,,reproduced,cpu\n"
        "9,C3,equivalence,A about B,0.01,-0.02,0.04,log-ratio,,inconclusive,cpu\n")
    bs.stage(res, tmp_path / "src")
    index = (tmp_path / "src" / "index.md").read_text()
    header = next(line for line in index.splitlines() if line.startswith("| paper |"))
    row = next(line for line in index.splitlines() if line.startswith("| [9](notebooks/09_paper.ipynb) |"))
    cells = dict(zip((c.strip() for c in header.split("|")), (c.strip() for c in row.split("|"))))
    assert cells["reproduced"] == "1" and cells["exact checks"] == "1 passed", cells  # not 2 reproduced
    table = (tmp_path / "src" / "claims_summary.csv").read_text().splitlines()
    assert table[0] == "claim,kind,what it says,effect [interval],verdict"  # one profile: named above, no column
    assert "P9 C1,exact,counts,5 / 7 / 5,exact: passed" in table[1] and '"+2.5 [1, 4] pp",reproduced' in table[2]
    assert "Every verdict was reached at the `cpu` profile" in index
    assert "black tick" not in index  # no forest plot in this results folder, so no caption either


def test_navigation_names_notebooks_one_way_and_orders_notes_by_paper(tmp_path):
    assert bs.page_title("01_gradient_paths", "# Paper 1 — Gradient paths") == "# 01 — Gradient paths"
    assert bs.page_title("02_deep", "# 02 — Make deep networks shallow") == "# 02 — Make deep networks shallow"
    assert bs.page_title("00_overview", "# archlab — overview") == "# 00 — Overview"
    notes = []
    for name, title in (("b.md", "# Paper 2: B"), ("a.md", "# Paper 1 — A"), ("z.md", "# Notebook 05 — Z")):
        (tmp_path / name).write_text(title + "\n")
        notes.append(tmp_path / name)
    assert [p.name for p in sorted(notes, key=bs.note_number)] == ["a.md", "b.md", "z.md"]
    toc = bs.toc("parts:\n    chapters:\n      - glob: notebooks/*\n    chapters:\n      - glob: papers/*\n",
                 ["notebooks/00_overview", "notebooks/01_x"], ["papers/a", "papers/b"])
    assert toc == ("parts:\n    chapters:\n      - file: notebooks/00_overview\n      - file: notebooks/01_x\n"
                   "    chapters:\n      - file: papers/a\n      - file: papers/b\n")


def test_staged_notebooks_do_not_name_the_build_folder(tmp_path):
    res = _results(tmp_path)
    nb = json.loads((res / "09_paper" / "09_paper.ipynb").read_text())
    nb["metadata"]["papermill"].update(input_path="/build/here/notebooks/09_paper.ipynb",
                                       output_path="/build/here/results/09_paper/09_paper.ipynb")
    (res / "09_paper" / "09_paper.ipynb").write_text(json.dumps(nb))
    bs.stage(res, tmp_path / "src")
    assert "/build/here" not in (tmp_path / "src" / "notebooks" / "09_paper.ipynb").read_text()
