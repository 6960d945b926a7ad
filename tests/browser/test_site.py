"""The built site (docs/build_site.py, ``make site``) in headless Chromium: every page loads, every image has pixels,
every internal link (and its #fragment) resolves, and every notebook page names the profile, device and commit of its
outputs; every verdict is in view at a 1,280 px window (verdicts.py). The site is built from ``$SITE_RESULTS``
(default results/, read only) into a temp folder and served on 127.0.0.1. Requests off 127.0.0.1 are blocked (CI has
no internet) and listed, not failed.
"""
from __future__ import annotations

import os
import re
import urllib.parse
import urllib.request
from collections import deque
from pathlib import Path

import pytest

from verdicts import LANDING_VERDICTS, NOTEBOOK_VERDICTS, verdicts_in_view

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.browser

LINKS_JS = """() => [...document.querySelectorAll('a[href]')].map(a => a.href)"""
IMAGES_JS = """() => [...document.images].map(i => ({src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0}))"""


def _fetch(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.read().decode("utf-8", "replace") if r.status == 200 else None
    except OSError:
        return None


def crawl(browser, base: str, screenshot=None) -> tuple[int, list[str], list[str]]:
    """Visit every page reachable from ``base + "index.html"``: ``(pages, problems, blocked off-site requests)``."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    external = []

    def route(r):
        if urllib.parse.urlsplit(r.request.url).hostname in ("127.0.0.1", "localhost"):
            return r.continue_()
        external.append(r.request.url)
        return r.abort()

    context.route("**/*", route)
    page = context.new_page()
    queue, seen, problems, bodies = deque([base + "index.html"]), set(), [], {}
    pages = 0
    while queue:
        url = queue.popleft()
        if url in seen:
            continue
        seen.add(url)
        resp = page.goto(url, wait_until="load")
        if resp is None or not resp.ok:
            problems.append(f"{url}: HTTP {resp.status if resp else 'no response'}")
            continue
        pages += 1
        path = urllib.parse.urlsplit(url).path
        for img in page.evaluate(IMAGES_JS):
            if not img["ok"]:
                problems.append(f"{path}: image did not load: {img['src']}")
        if path.startswith("/notebooks/") and not path.endswith("none.html"):
            prov = page.locator(".archlab-provenance")
            text = prov.first.inner_text() if prov.count() else ""
            if not all(w in text for w in ("Profile", "device", "commit")):
                problems.append(f"{path}: no provenance header (profile, device, commit)")
        if screenshot and path in ("/", "/index.html"):
            page.screenshot(path=str(screenshot), full_page=True)
        for href in page.evaluate(LINKS_JS):
            parts = urllib.parse.urlsplit(href)
            if parts.hostname not in ("127.0.0.1", "localhost") or parts.scheme not in ("http", "https"):
                continue
            target = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
            if target not in bodies:
                bodies[target] = _fetch(target)
            if bodies[target] is None:
                problems.append(f"{path}: broken link {href}")
                continue
            frag = urllib.parse.unquote(parts.fragment)
            if frag and target.endswith(".html") and not re.search(
                    rf"""\b(id|name)=["']{re.escape(frag)}["']""", bodies[target]):
                problems.append(f"{path}: link to a missing anchor {href}")
            if target.endswith(".html") and "/_static/" not in target and "/_sources/" not in target:
                queue.append(target)
    context.close()
    return pages, problems, sorted(set(external))


def test_site_pages_images_and_links(site, browser, artifacts):
    base, html, build_s = site
    pages, problems, external = crawl(browser, base, artifacts / "site_index.png")
    print(f"site built in {build_s:.0f}s; {pages} pages checked; {len(external)} off-site request(s) blocked: "
          f"{external[:10]}")
    assert pages >= 3, f"only {pages} page(s) reachable from index.html"
    assert not problems, "\n".join(problems[:50])


def _claims_pages(html) -> list[str]:
    """The notebook pages that should show verdicts: those whose results folder has a claims table."""
    results = Path(os.environ.get("SITE_RESULTS") or ROOT / "results")
    stems = [d.name for d in results.iterdir() if (d / "claims.csv").exists() or (d / "claims_summary.csv").exists()]
    return sorted(f"notebooks/{s}.html" for s in stems if (html / "notebooks" / f"{s}.html").exists())


def test_verdicts_in_view_at_1280_px(site, browser, artifacts):
    """The landing page's claims table and every notebook page's verdict table show each verdict without scrolling
    sideways in a 1,280 px window."""
    base, html, _ = site
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems, seen = [], {}
    for path, selector in [("index.html", LANDING_VERDICTS)] + [(p, NOTEBOOK_VERDICTS) for p in _claims_pages(html)]:
        page.goto(base + path, wait_until="load")
        found = verdicts_in_view(page, selector)
        seen[path] = found["count"]
        if not found["count"]:
            problems.append(f"{path}: no verdict table ({selector})")
            page.screenshot(path=str(artifacts / f"verdicts_{Path(path).stem}.png"), full_page=True)
        problems += [f"{path}: {b}" for b in found["bad"]]
    context.close()
    print(f"verdict cells per page: {seen}")
    assert not problems, "\n".join(problems[:40])
