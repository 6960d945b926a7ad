"""Fixtures of the browser tests: one JupyterLab server and one headless Chromium for the whole session, a fresh page
per test, the built site served on 127.0.0.1, and the artefact folder for screenshots.

These tests take minutes (every notebook runs at the smoke profile), so they run only when selected with
``-m browser`` (``make test-browser``, and ``.ci/run`` after ``make test``); a plain ``pytest tests`` reports them as
skipped. They need Debian's ``/usr/bin/chromium`` (``apt-get install -y chromium``) and the ``browser`` extra.
"""
from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ARTIFACTS = Path(os.environ.get("ARCHLAB_BROWSER_ARTIFACTS", HERE / "artifacts"))


def pytest_collection_modifyitems(config, items):
    if "browser" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="browser test: run with `make test-browser` (pytest -m browser tests/browser)")
    for item in items:
        if item.get_closest_marker("browser") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """``tests/browser/artifacts/`` (git-ignored): screenshots, Run All times, the Lab log."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def lab(artifacts):
    from labserver import NOTEBOOKS_DIR, LabServer, write_widget_demo

    with LabServer(NOTEBOOKS_DIR) as server:
        write_widget_demo(server.root)
        try:
            yield server
        finally:
            server.log.flush()
            shutil.copy2(server.work / "jupyterlab.log", artifacts / "jupyterlab.log")


@pytest.fixture(scope="session")
def browser():
    from labserver import chromium

    with chromium() as b:
        yield b


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, device_scale_factor=1)
    context.set_default_timeout(60_000)
    pg = context.new_page()
    yield pg
    context.close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def site(tmp_path_factory, artifacts):
    """The site built by docs/build_site.py from ``$SITE_RESULTS`` (default: results/, read only) into a temp folder,
    served by ``http.server`` on 127.0.0.1: ``(base_url, html_dir, build_seconds)``."""
    out = tmp_path_factory.mktemp("site")
    results = Path(os.environ.get("SITE_RESULTS") or ROOT / "results")
    t0 = time.monotonic()
    log = artifacts / "site_build.log"
    with log.open("w") as f:
        rc = subprocess.run([sys.executable, str(ROOT / "docs" / "build_site.py"), "--results", str(results),
                             "--out", str(out)], stdout=f, stderr=subprocess.STDOUT, cwd=ROOT).returncode
    seconds = time.monotonic() - t0
    assert rc == 0, f"make site failed ({rc}); log: {log}\n{log.read_text()[-3000:]}"
    html = out / "_build" / "html"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(html)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", html, seconds
    finally:
        server.shutdown()
        server.server_close()
