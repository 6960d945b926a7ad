"""Driving a notebook in JupyterLab as a reader would, and reading back what Lab itself knows about it.

Actions go through the UI (the Run menu's "Run All Cells", the widgets' own dropdowns, sliders and buttons); the
checks read Lab's application object (``window.jupyterapp``, exposed by ``LabServer``): the kernel status, each
cell's execution count and outputs, the document's dirty flag. Waits poll a condition with a generous timeout; no
test passes or fails on how long something took.
"""
from __future__ import annotations

import io
import time

# The notebook panel Lab shows, its kernel and what its cells hold. `pending` counts non-empty code cells that have
# not run yet or are queued/running ([*]); `errors` lists error outputs and stderr tracebacks in the cells.
STATE_JS = """() => {
  const app = window.jupyterapp; const w = app && app.shell.currentWidget;
  if (!w || !w.context || !w.sessionContext || !w.content) return null;
  const k = w.sessionContext.session && w.sessionContext.session.kernel;
  const st = {path: w.context.path, ready: w.context.isReady, dirty: w.context.model.dirty,
              kernel: k ? k.status : null, cells: 0, pending: 0, errors: []};
  w.content.widgets.forEach((c, i) => {
    if (c.model.type !== 'code' || !c.model.sharedModel.getSource().trim()) return;
    st.cells += 1;
    const prompt = c.node.querySelector('.jp-InputPrompt');
    if (c.model.executionCount === null || (prompt && prompt.textContent.includes('*'))) st.pending += 1;
    const outs = c.model.outputs;
    for (let j = 0; j < outs.length; j++) {
      const o = outs.get(j).toJSON();
      if (o.output_type === 'error') st.errors.push(`cell ${i}: ${o.ename}: ${o.evalue}`);
      if (o.output_type === 'stream' && o.name === 'stderr' && String(o.text).includes('Traceback'))
        st.errors.push(`cell ${i}: stderr traceback: ${String(o.text).slice(-400)}`);
    }
  });
  return st;
}"""

OPENED_JS = f"() => {{ const s = ({STATE_JS})(); return !!(s && s.ready && s.kernel === 'idle'); }}"
DONE_JS = f"() => {{ const s = ({STATE_JS})(); return !!(s && (s.errors.length || (s.pending === 0 && s.kernel === 'idle'))); }}"

# Lab fills the notebook's metadata from the kernel's info and spec replies; wait for both before reading `dirty`.
SETTLED_DIRTY_JS = """async () => {
  const w = window.jupyterapp.shell.currentWidget; const k = w.sessionContext.session.kernel;
  await k.info; await k.spec; await w.sessionContext.ready;
  for (let i = 0; i < 10; i++) await new Promise(r => requestAnimationFrame(() => setTimeout(r, 50)));
  return {dirty: w.context.model.dirty, metadata: w.context.model.toJSON().metadata};
}"""

SHUTDOWN_JS = """async () => { const w = window.jupyterapp.shell.currentWidget;
  if (w && w.sessionContext && w.sessionContext.session) await w.sessionContext.shutdown(); }"""

# The rendered page: error outputs anywhere (cells and widget Output areas), and ipywidgets' own failure text.
DOM_ERRORS_JS = """() => {
  const out = [];
  document.querySelectorAll('[data-mime-type="application/vnd.jupyter.error"]').forEach(
      e => out.push('error output: ' + e.innerText.slice(0, 300)));
  document.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]').forEach(e => {
      if (e.innerText.includes('Traceback')) out.push('stderr traceback: ' + e.innerText.slice(-300)); });
  if (document.body.innerText.includes('Error displaying widget')) out.push('"Error displaying widget" on the page');
  return out;
}"""

# Every image in an element has loaded and has pixels.
IMAGES_READY_JS = """(el) => { const imgs = [...el.querySelectorAll('img')];
  return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0); }"""


# Images in an element that are blank: no opaque, non-white pixel (a figure the kernel rendered empty, as the
# interactive_output + plt.show explorer did after a control change). Returns their indices.
BLANK_IMAGES_JS = """(el) => [...el.querySelectorAll('img')].map((img, i) => {
  const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
  const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
  const d = ctx.getImageData(0, 0, c.width, c.height).data;
  for (let j = 0; j < d.length; j += 4) if (d[j + 3] > 0 && (d[j] < 250 || d[j + 1] < 250 || d[j + 2] < 250)) return -1;
  return i; }).filter(i => i >= 0)"""


def open_notebook(page, lab, name: str, timeout_s: float = 300) -> dict:
    page.goto(lab.url(name))
    page.wait_for_function(OPENED_JS, timeout=timeout_s * 1000, polling=500)
    return page.evaluate(STATE_JS)


def state(page) -> dict:
    return page.evaluate(STATE_JS)


def run_all(page, timeout_s: float) -> tuple[dict, float]:
    """Run > Run All Cells from the menu bar; wait until every cell ran (or one failed) and the kernel is idle."""
    page.locator(".lm-MenuBar-item", has_text="Run").first.click()
    page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()
    t0 = time.monotonic()
    page.wait_for_function(DONE_JS, timeout=timeout_s * 1000, polling=500)
    return state(page), time.monotonic() - t0


def shutdown(page) -> None:
    try:
        page.evaluate(SHUTDOWN_JS)
    except Exception:  # the page may be gone already; the server's exit ends the kernel anyway
        pass


def dom_errors(page) -> list[str]:
    return page.evaluate(DOM_ERRORS_JS)


def wait_images(locator, timeout_s: float = 120) -> None:
    locator.page.wait_for_function(IMAGES_READY_JS, arg=locator.element_handle(), timeout=timeout_s * 1000,
                                   polling=250)


def grow_viewport(page, width: int = 1280, max_height: int = 30000) -> dict:
    """Make the viewport as tall as the notebook (up to ``max_height``) and return the old size.

    Lab scrolls the notebook inside its own panel, so an element taller than the viewport, or below it, would be
    shot with Lab's menus over it or cut; with the whole notebook in view every element shot is the element."""
    old = page.viewport_size
    height = page.evaluate("""() => { const s = document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer')
                               || document.querySelector('.jp-NotebookPanel .jp-Notebook');
                               return s ? s.scrollHeight + 200 : document.body.scrollHeight; }""")
    page.set_viewport_size({"width": width, "height": int(min(max(height, old["height"]), max_height))})
    settle(page)
    return old


def settle(page) -> None:
    """Two animation frames: layout and paint have caught up with the last change."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r())))")


def notebook_screenshot(page, path) -> None:
    """The whole notebook in one picture (call with the viewport grown, see ``grow_viewport``)."""
    settle(page)
    page.screenshot(path=str(path), full_page=True)


def stable_screenshot(page, locator, timeout_s: float = 60) -> bytes:
    """A screenshot of ``locator`` once two consecutive ones are equal (images decoded and painted)."""
    deadline = time.monotonic() + timeout_s
    settle(page)
    prev = locator.screenshot()
    while time.monotonic() < deadline:
        page.wait_for_timeout(250)
        settle(page)
        cur = locator.screenshot()
        if pixels(cur) == pixels(prev):
            return cur
        prev = cur
    return prev


def pixels(png: bytes):
    """Decoded pixels of a screenshot: two screenshots differ when their size or any pixel differs."""
    from PIL import Image

    im = Image.open(io.BytesIO(png)).convert("RGBA")
    return im.size, im.tobytes()


def change_control(widget) -> str:
    """Change the first control of a widget that can change (``.archlab-control``); say what was done.

    Dropdown: the next option. Slider: one step right (left at the maximum), with the keyboard on its handle, which
    is how noUiSlider emits the ``change`` that ``continuous_update=False`` sliders wait for. Checkbox: a click."""
    controls = widget.locator(".archlab-control")
    for i in range(controls.count()):
        c = controls.nth(i)
        select = c.locator("select")
        if select.count():
            opts = select.locator("option")
            n = opts.count()
            if n < 2:
                continue
            cur = select.evaluate("s => s.selectedIndex")
            select.select_option(index=(cur + 1) % n)
            return f"dropdown {i}: option {cur} -> {(cur + 1) % n} ({opts.nth((cur + 1) % n).inner_text()!r})"
        handle = c.locator(".noUi-handle")
        if handle.count():
            readout = c.locator(".widget-readout")
            before = readout.inner_text() if readout.count() else None
            for key in ("ArrowRight", "ArrowLeft"):
                handle.first.focus()
                handle.first.press(key)
                if readout.count() == 0 or readout.inner_text() != before:
                    return f"slider {i}: {key} ({before} -> {readout.inner_text() if readout.count() else '?'})"
            continue
        box = c.locator("input[type=checkbox]")
        if box.count():
            box.first.click()
            return f"checkbox {i}: toggled"
    raise AssertionError("the widget has no control that can change (no dropdown with two options, slider or checkbox)")


def wait_changed(page, widget, before: bytes, timeout_s: float) -> bytes:
    """Poll the widget's output area until its picture differs from ``before`` with the redraw complete (the root
    has lost ``archlab-busy``), every image in it loaded and the picture stable; return that screenshot (the caller
    asserts on it, so a timeout fails there, with both pictures saved)."""
    output = widget.locator(".archlab-output")
    deadline = time.monotonic() + timeout_s
    ref, shot = pixels(before), before
    while time.monotonic() < deadline:
        page.wait_for_timeout(500)
        if widget.evaluate("el => el.classList.contains('archlab-busy')"):
            continue
        if output.locator("img").count() and not page.evaluate(IMAGES_READY_JS, output.element_handle()):
            continue
        shot = output.screenshot()
        if pixels(shot) != ref:
            shot = stable_screenshot(page, output)
            if not widget.evaluate("el => el.classList.contains('archlab-busy')"):
                return shot
    return shot
