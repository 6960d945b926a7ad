"""Every notebook in a real JupyterLab (headless Chromium), at the smoke profile, as a reader would use it.

1. Opening a notebook does not mark it modified (else autosave rewrites it: see lab_metadata.py).
2. Run > Run All Cells finishes with no error output, no stderr traceback and no "Error displaying widget"; then every
   archlab widget (``.archlab-widget``, see archlab.widgets) gets one control changed and its output area
   (``.archlab-output``) must look different afterwards: screenshots before and after are compared pixel by pixel.

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
from labserver import NOTEBOOKS_DIR, RUN_ALL_TIMEOUT_S, WIDGET_DEMO

# the widget demo first: it checks every kind of widget, whatever the paper notebooks use
NOTEBOOKS = [WIDGET_DEMO] + sorted(p.name for p in NOTEBOOKS_DIR.glob("*.ipynb"))
WIDGET_CALL = re.compile(r"(?<![\w.])(explorer|live)\(")

pytestmark = pytest.mark.browser


def _expects_widget(path: Path) -> bool:
    """Whether the notebook's code calls ``explorer(`` or ``live(`` (then at least one widget must appear)."""
    nb = json.loads(path.read_text())
    return any(WIDGET_CALL.search("".join(c["source"])) for c in nb["cells"] if c["cell_type"] == "code")


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


def _record_time(artifacts: Path, stem: str, seconds: float, load: tuple, cells: int) -> None:
    """artifacts/run_all_times.json: seconds per notebook with the 1-minute load average before the run."""
    path = artifacts / "run_all_times.json"
    times = json.loads(path.read_text()) if path.exists() else {}
    times[stem] = {"run_all_s": round(seconds, 1), "loadavg_1m_before": round(load[0], 2),
                   "loadavg_1m_after": round(os.getloadavg()[0], 2), "code_cells": cells, "cpus": os.cpu_count()}
    path.write_text(json.dumps(times, indent=2, sort_keys=True))
    print(f"{stem}: Run All {seconds:.1f}s (load {load[0]:.2f})")
