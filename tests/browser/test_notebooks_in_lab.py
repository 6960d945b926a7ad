"""Every notebook in a real JupyterLab (headless Chromium), at the smoke profile, as a reader would use it.

1. Opening a notebook does not mark it modified (else autosave rewrites it: see lab_metadata.py).
2. Run > Run All Cells finishes with no error output, no stderr traceback and no "Error displaying widget"; then every
   archlab widget (``.archlab-widget``, see archlab.widgets) gets one control changed and its output area
   (``.archlab-output``) must look different afterwards: screenshots before and after are compared pixel by pixel.

3. After Run All every verdict of the notebook's verdict table is in view at a 1,280 px window, without scrolling
   sideways (verdicts.py).
4. The notebooks' links to their methods notes (../docs/papers/*.md) open the note in Lab (the server is rooted as
   `make lab` roots it).
5. A notebook run in Lab as a reader runs it (`make lab`: no ARCHLAB_RESULTS) leaves `git status` clean.

Screenshots (the whole notebook, and each widget's output before/after) and the Run All times land in
tests/browser/artifacts/. Times are reported, never asserted.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

import labpage as lp
from labserver import NOTEBOOKS_DIR, RUN_ALL_TIMEOUT_S, WIDGET_DEMO, LabServer, git_status
from verdicts import verdicts_in_view

# the widget demo first: it checks every kind of widget, whatever the paper notebooks use
NOTEBOOKS = [WIDGET_DEMO] + sorted(p.name for p in NOTEBOOKS_DIR.glob("*.ipynb"))
WIDGET_CALL = re.compile(r"(?<![\w.])(explorer|live)\(")
VERDICT_CALL = re.compile(r"(write_claims|show_claims|select_claims|collect_claims)\(")
NOTE_LINK = re.compile(r"\]\((\.\./docs/papers/[\w.-]+\.md)\)")
# the cheapest notebook at the smoke profile that writes results: the git-status test runs it
GIT_STATUS_NOTEBOOK = os.environ.get("ARCHLAB_GIT_STATUS_NOTEBOOK", "00_overview.ipynb")

pytestmark = pytest.mark.browser


def _calls(path: Path, pattern: re.Pattern, kind: str = "code") -> list[str]:
    """The matches of ``pattern`` in the notebook's ``kind`` cells."""
    nb = json.loads(path.read_text())
    return [m.group(1) for c in nb["cells"] if c["cell_type"] == kind for m in pattern.finditer("".join(c["source"]))]


def _expects_widget(path: Path) -> bool:
    """Whether the notebook's code calls ``explorer(`` or ``live(`` (then at least one widget must appear)."""
    return bool(_calls(path, WIDGET_CALL))


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_opening_does_not_mark_the_notebook_modified(lab, page, name):
    from lab_metadata import needs_fix

    lp.open_notebook(page, lab, name)
    try:
        settled = page.evaluate(lp.SETTLED_DIRTY_JS)
    finally:
        lp.shutdown(page)
    stored = json.loads((lab.root / name).read_text())
    changed = {k: (stored["metadata"].get(k), v) for k, v in settled["metadata"].items() if stored["metadata"].get(k) != v}
    assert not settled["dirty"], (
        f"JupyterLab marked {name} modified on open (autosave would rewrite it); metadata it changed: {changed}; "
        f"fix: python tests/browser/lab_metadata.py --write notebooks/{name} (offline check: {sorted(needs_fix(stored))})")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_run_all_then_every_widget_responds(lab, page, artifacts, name):
    stem = Path(name).stem
    out = artifacts / stem
    out.mkdir(exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()
    lp.open_notebook(page, lab, name)
    try:
        load_before = os.getloadavg()
        st, seconds = lp.run_all(page, RUN_ALL_TIMEOUT_S)
        _record_time(artifacts, stem, seconds, load_before, st["cells"])
        if st["errors"]:
            lp.grow_viewport(page)
            lp.notebook_screenshot(page, out / "notebook.png")
        assert not st["errors"], f"{name}: error output after Run All: {st['errors']}"
        assert st["pending"] == 0, f"{name}: {st['pending']} cell(s) did not run"
        widgets = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .archlab-widget")
        if _expects_widget(lab.root / name):
            page.wait_for_selector(".archlab-widget", timeout=120_000)  # widget views render after the cell ends
            assert widgets.count() >= 1, f"{name} calls explorer/live but shows no archlab widget (headless leak?)"
        for i in range(widgets.count()):
            lp.wait_images(widgets.nth(i).locator(".archlab-output"))
            blank = page.evaluate(lp.BLANK_IMAGES_JS, widgets.nth(i).locator(".archlab-output").element_handle())
            assert not blank, f"{name}: widget {i} opens with blank image(s) {blank}"
        if _calls(lab.root / name, VERDICT_CALL):
            page.wait_for_selector(".archlab-verdicts", timeout=60_000)
            found = verdicts_in_view(page)
            assert found["count"] and not found["bad"], (
                f"{name}: verdicts not in view at a 1,280 px window: {found['bad'][:10] or 'no verdict table'}")
        # the whole notebook in view from here on: one picture of it, and widget shots without Lab's chrome over them
        lp.grow_viewport(page)
        errors = lp.dom_errors(page)
        lp.notebook_screenshot(page, out / "notebook.png")
        assert not errors, f"{name}: {errors}"

        for i in range(widgets.count()):
            w = widgets.nth(i)
            area = w.locator(".archlab-output")
            area.scroll_into_view_if_needed()
            before = lp.stable_screenshot(page, area)
            (out / f"widget{i}_before.png").write_bytes(before)
            did = lp.change_control(w)
            run = w.locator(".archlab-run")
            if run.count():
                run.click()
            after = lp.wait_changed(page, w, before, timeout_s=300)
            (out / f"widget{i}_after.png").write_bytes(after)
            assert lp.pixels(after) != lp.pixels(before), (
                f"{name}: widget {i}'s output did not change after {did} (see {out}/widget{i}_*.png)")
            errors = lp.dom_errors(page)
            assert not errors, f"{name}: widget {i} after {did}: {errors}"
            blank = page.evaluate(lp.BLANK_IMAGES_JS, area.element_handle())
            assert not blank, f"{name}: widget {i} after {did} shows blank image(s) {blank} (see {out}/widget{i}_after.png)"
    finally:
        lp.shutdown(page)


NOTE_LINKS = [(name, link) for name in sorted(p.name for p in NOTEBOOKS_DIR.glob("*.ipynb"))
              for link in _calls(NOTEBOOKS_DIR / name, NOTE_LINK, "markdown")[:1]]


@pytest.mark.parametrize("name,link", NOTE_LINKS)
def test_methods_note_link_opens(lab, page, name, link):
    """Clicking the notebook's link to its methods note opens the note in Lab (a tab whose path is the note)."""
    target = "docs/papers/" + link.rsplit("/", 1)[1]
    lp.open_notebook(page, lab, name)
    try:
        # Lab resolves the href (e.g. to /files/docs/papers/...): find the link by the note's file name
        page.locator(f'.jp-NotebookPanel:not(.lm-mod-hidden) .jp-RenderedMarkdown a[href*="{target}"]').first.click()
        page.wait_for_function(OPENED_PATH_JS, arg=target, timeout=60_000, polling=250)
    finally:
        lp.shutdown(page)


# whether a document with this path is open in Lab's main area
OPENED_PATH_JS = """(path) => { const app = window.jupyterapp; if (!app) return false;
  for (const w of app.shell.widgets('main')) if (w.context && w.context.path === path) return true;
  return false; }"""


def test_run_in_lab_leaves_git_status_clean(browser, artifacts):
    """A reader's `make lab` (no ARCHLAB_RESULTS) running a notebook writes nothing git would report (issue 33: it
    overwrote the committed results/<notebook>/). Runs on a throw-away git copy of the working tree."""
    with LabServer(repo=True) as lab:
        context = browser.new_context(viewport={"width": 1280, "height": 1000})
        context.set_default_timeout(60_000)
        page = context.new_page()
        assert git_status(lab.served) == [], "the copy is not clean before the run"
        try:
            lp.open_notebook(page, lab, GIT_STATUS_NOTEBOOK)
            st, seconds = lp.run_all(page, RUN_ALL_TIMEOUT_S)
            assert not st["errors"] and st["pending"] == 0, f"{GIT_STATUS_NOTEBOOK}: {st['errors']}"
        finally:
            lp.shutdown(page)
            context.close()
        changed = git_status(lab.served)
    print(f"{GIT_STATUS_NOTEBOOK}: Run All {seconds:.0f}s in the repository copy; git status: {changed[:10]}")
    assert not changed, f"running {GIT_STATUS_NOTEBOOK} in `make lab` changed the working tree: {changed[:20]}"


def _record_time(artifacts: Path, stem: str, seconds: float, load: tuple, cells: int) -> None:
    """artifacts/run_all_times.json: seconds per notebook with the 1-minute load average before the run."""
    path = artifacts / "run_all_times.json"
    times = json.loads(path.read_text()) if path.exists() else {}
    times[stem] = {"run_all_s": round(seconds, 1), "loadavg_1m_before": round(load[0], 2),
                   "loadavg_1m_after": round(os.getloadavg()[0], 2), "code_cells": cells, "cpus": os.cpu_count()}
    path.write_text(json.dumps(times, indent=2, sort_keys=True))
    print(f"{stem}: Run All {seconds:.1f}s (load {load[0]:.2f})")
