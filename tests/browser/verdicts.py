"""Is every verdict in view? The check shared by the site and the JupyterLab tests (issue 33: the verdict column was
reachable only by a horizontal scrollbar at the bottom of a tall table).

A verdict cell is in view when it is rendered, its right edge lies inside the window, and no ancestor that clips or
scrolls sideways (``overflow-x`` auto, scroll or hidden) cuts it off: so a reader at a 1,280 px window sees it without
scrolling sideways.
"""
from __future__ import annotations

# the compact verdict table of archlab.notebook (ClaimsFrame, ctx.show_claims) and the landing page's claims table
NOTEBOOK_VERDICTS = ".archlab-verdicts .archlab-verdict"
LANDING_VERDICTS = "table.archlab-claims tbody tr td:nth-child(5)"

VERDICTS_IN_VIEW_JS = """(selector) => {
  const cells = [...document.querySelectorAll(selector)];
  const width = document.documentElement.clientWidth;
  const bad = [];
  for (const c of cells) {
    const r = c.getBoundingClientRect();
    const what = `"${c.innerText.trim().slice(0, 40)}"`;
    if (r.width === 0 || r.height === 0) { bad.push(`${what}: not rendered`); continue; }
    if (r.right > width + 1) bad.push(`${what}: right edge ${Math.round(r.right)} px beyond the ${width} px window`);
    for (let a = c.parentElement; a && a !== document.documentElement; a = a.parentElement) {
      if (!['auto', 'scroll', 'hidden'].includes(getComputedStyle(a).overflowX)) continue;
      const box = a.getBoundingClientRect();
      if (r.right > box.left + a.clientWidth + 1 || r.left < box.left - 1)
        bad.push(`${what}: cut off by <${a.tagName.toLowerCase()} class="${a.className}"> ` +
                 `(cell ${Math.round(r.left)}-${Math.round(r.right)} px, box ${Math.round(box.left)}-` +
                 `${Math.round(box.left + a.clientWidth)} px)`);
    }
  }
  return {count: cells.length, bad: bad};
}"""


def verdicts_in_view(page, selector: str = NOTEBOOK_VERDICTS) -> dict:
    """``{"count": verdict cells found, "bad": [why each one is not in view]}`` for the page as it is now."""
    return page.evaluate(VERDICTS_IN_VIEW_JS, selector)
