"""A throw-away JupyterLab server and a headless Chromium for the browser tests.

The server serves a temporary copy of notebooks/ and docs/papers/ laid out as in the repository and rooted where
`make lab` roots it (so the notebooks' links to ../docs/papers/*.md resolve, and nothing, autosave included, ever
writes into the repository), on 127.0.0.1 with a random free port and a random token, with its own settings,
workspace and runtime folders. Its kernels get ``ARCHLAB_PROFILE=smoke``, a temporary ``ARCHLAB_RESULTS`` and no
``ARCHLAB_HEADLESS`` (which would make the widgets draw statically) nor ``MPLBACKEND`` (the inline backend is what a
reader gets). ``LabServer(repo=True)`` serves a throw-away git copy of the whole working tree instead, with kernels
that import that copy's archlab and get no ``ARCHLAB_RESULTS`` (a reader's ``make lab``), so a test can ask what a
run in Lab leaves in ``git status``.

``expose_app_in_browser`` puts JupyterLab's application object at ``window.jupyterapp``, so a test reads the kernel
status, the cells' execution counts and the document's dirty flag from Lab itself instead of guessing from pixels.

Chromium is Debian's ``/usr/bin/chromium`` driven by Playwright's Python package; ``playwright install`` (which
downloads browsers) is never needed.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Generous: notebook 04's smoke Run All took 620 s on a busy 2-core machine (issue 18). A wait, not a threshold.
RUN_ALL_TIMEOUT_S = float(os.environ.get("ARCHLAB_RUN_ALL_TIMEOUT", 1800))
# What the tests serve (a copy of it): notebooks/, or another folder, e.g. fixed copies while trying out a change.
NOTEBOOKS_DIR = Path(os.environ.get("ARCHLAB_BROWSER_NOTEBOOKS") or ROOT / "notebooks").resolve()
CHROMIUM = os.environ.get("ARCHLAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage"]

# User settings for the throw-away Lab: no news or update checks (they need the internet and pop up toasts over the
# notebook) and no autosave (the modified-on-open test reads the dirty flag; autosave would clear it).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/extensionmanager-extension/plugin.jupyterlab-settings": {"disclaimed": False, "enabled": False},
    # every cell stays in the DOM (no virtual scrolling), so error checks and full-notebook screenshots see them all
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kernel_env(results: Path | None, lib: Path | None = None) -> dict:
    """The server's (and so its kernels') environment: the reader's, at the smoke profile, writing into ``results``
    (None: wherever archlab writes by default, as under `make lab`); ``lib``: the archlab to import instead of the
    installed one."""
    drop = ("ARCHLAB_HEADLESS", "MPLBACKEND", "JUPYTER_CONFIG_DIR", "ARCHLAB_RESULTS")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(ARCHLAB_PROFILE="smoke", PYTHONUNBUFFERED="1")
    if results is not None:
        env["ARCHLAB_RESULTS"] = str(results)
    if lib is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(lib), env.get("PYTHONPATH")]))
    return env


def git_copy(src: Path, dst: Path) -> None:
    """``dst``: the working tree of ``src`` (tracked and untracked files git does not ignore) as a fresh git repository
    with one commit, so ``git status`` there shows exactly what happened after the copy."""
    listed = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=src, check=True,
                            capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        if (src / rel).is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / rel, dst / rel)
    git = ["git", "-c", "user.name=archlab-test", "-c", "user.email=test@archlab.invalid", "-c", "commit.gpgsign=false"]
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "copy"]):
        subprocess.run(git + cmd, cwd=dst, check=True, capture_output=True)


def git_status(repo: Path) -> list[str]:
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=repo, check=True,
                          capture_output=True, text=True).stdout.splitlines()


class LabServer:
    """``with LabServer(notebooks) as lab:`` -> ``lab.url(path)`` (``path`` relative to the notebooks), ``lab.root``
    (the served copy of the notebooks), ``lab.served`` (the server's root: the copy of the repository layout),
    ``lab.results`` (None with ``repo=True``)."""

    def __init__(self, notebooks: Path = NOTEBOOKS_DIR, workdir: Path | None = None, repo: bool = False):
        self.source = Path(notebooks)
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="archlab-lab-")
        self.work = Path(workdir or self._tmp.name)
        self.repo = repo
        self.served = self.work / ("repo" if repo else "tree")
        self.root = self.served / "notebooks"
        self.results = None if repo else self.work / "results"
        self.token = secrets.token_hex(16)
        self.port = free_port()
        self.proc = None

    def url(self, path: str = "") -> str:
        """``path`` (relative to the notebooks) opened in a workspace of its own, reset: Lab would otherwise reopen
        every notebook an earlier page had open (each with a kernel) in every later page."""
        return (f"http://127.0.0.1:{self.port}/lab/workspaces/t{secrets.token_hex(6)}/tree/notebooks/{path}"
                f"?reset&token={self.token}")

    def _copy(self) -> None:
        if self.repo:
            git_copy(ROOT, self.served)
            return
        shutil.copytree(self.source, self.root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        shutil.copytree(ROOT / "docs" / "papers", self.served / "docs" / "papers")
        self.results.mkdir(parents=True, exist_ok=True)

    def __enter__(self):
        self._copy()
        settings = self.work / "lab-settings"
        for name, value in LAB_SETTINGS.items():
            p = settings / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(json.dumps(value))
        env = kernel_env(self.results, self.served / "lib" if self.repo else None) | {
            "JUPYTERLAB_SETTINGS_DIR": str(settings), "JUPYTERLAB_WORKSPACES_DIR": str(self.work / "lab-workspaces"),
            "JUPYTER_RUNTIME_DIR": str(self.work / "runtime"), "IPYTHONDIR": str(self.work / "ipython"),
        }
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
               f"--ServerApp.root_dir={self.served}", "--LabApp.expose_app_in_browser=True",
               "--ServerApp.terminals_enabled=False", "--LabServerApp.open_browser=False"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        self.log = open(self.work / "jupyterlab.log", "w")
        self.proc = subprocess.Popen(cmd, cwd=self.served, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        api = f"http://127.0.0.1:{self.port}/api/status?token={self.token}"
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(api, timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError(f"JupyterLab did not start; log:\n{(self.work / 'jupyterlab.log').read_text()[-3000:]}")
            time.sleep(0.5)
        return self

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()
        if self._tmp is not None:
            self._tmp.cleanup()


@contextmanager
def chromium():
    """A headless Debian Chromium under Playwright: ``with chromium() as browser: page = browser.new_page()``."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise FileNotFoundError(f"no Chromium at {CHROMIUM}: `apt-get install -y chromium` (or set ARCHLAB_CHROMIUM); "
                                "never `playwright install`, which downloads browsers")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


WIDGET_DEMO = "archlab_widgets_demo.ipynb"
_DEMO_CELLS = [
    ("markdown", "# archlab widgets in a real frontend\n\nWritten by tests/browser: one of each kind, on synthetic data."),
    ("code", "import time\n\nimport matplotlib.pyplot as plt\nimport numpy as np\nimport pandas as pd\n\n"
             "from archlab.widgets import explorer, live"),
    ("code", "# a stored-run explorer whose first view has no data (it must open on ('sin', 2)); 'sin' listed twice;\n"
             "# a long table first, so the output area is taller than a normal viewport\n"
             "from IPython.display import display\n\n"
             "def curve(kind, k):\n    display(pd.DataFrame({'x': range(40), kind: np.round(np.sin(k * np.arange(40)), 3)}))\n"
             "    fig, ax = plt.subplots(figsize=(4, 2.5))\n    if (kind, k) != ('sin', 1):\n"
             "        x = np.linspace(0, 6, 200)\n        ax.plot(x, np.sin(k * x) if kind == 'sin' else np.cos(k * x))\n"
             "    ax.set_title(f'{kind} k={k}')\n    return fig\n\n"
             "explorer({'kind': ['sin', 'cos', 'sin'], 'k': [1, 2, 3]}, curve)"),
    ("code", "# live: sliders recompute on release; a figure and a table\n"
             "def wave(freq, phase):\n    fig, ax = plt.subplots(figsize=(4, 2.5))\n    x = np.linspace(0, 6, 200)\n"
             "    ax.plot(x, np.sin(freq * x + phase))\n    ax.set_title(f'freq {freq}, phase {phase}')\n"
             "    return fig, pd.DataFrame({'freq': [freq], 'phase': [phase]})\n\n"
             "live({'freq': (1, 10), 'phase': (0.0, 3.0, 0.5)}, wave)"),
    ("code", "# a verdict table with long texts: the compact view keeps every verdict in view (archlab.notebook)\n"
             "from archlab.notebook import select_claims\n\n"
             "long = 'a claim whose text runs on and on, as the papers\\' claims do, naming tables, figures and every '\n"
             "select_claims([{'paper': '9', 'id': f'C{i}', 'kind': 'directional', 'claim': long * 3, 'effect': 0.01 * i,\n"
             "                'ci_low': -1.5, 'ci_high': 2.25, 'unit': 'log-ratio', 'seeds': '5/5', 'verdict': 'inconclusive',\n"
             "                'regime_measured': 'final training loss (worst of 5) 0.123 < 0.5: met ' * 4,\n"
             "                'note': 'planning: about 20 seeds would likely decide it'} for i in range(12)])"),
    ("code", "# live behind a Run button: a computation of about a second\n"
             "def slow(n):\n    time.sleep(1)\n    fig, ax = plt.subplots(figsize=(4, 2.5))\n"
             "    ax.bar(range(n), np.arange(n) % 7)\n    ax.set_title(f'n = {n}')\n    return fig\n\n"
             "live({'n': (3, 30, 3)}, slow, button='Run')"),
]


def write_widget_demo(folder: Path) -> Path:
    """A notebook with one explorer, one live and one live-with-button widget, with the kernel metadata JupyterLab
    writes (so opening it does not mark it modified on this Python)."""
    import nbformat
    from lab_metadata import kernel_metadata

    nb = nbformat.v4.new_notebook(metadata=kernel_metadata())
    for i, (kind, src) in enumerate(_DEMO_CELLS):
        cell = nbformat.v4.new_markdown_cell(src) if kind == "markdown" else nbformat.v4.new_code_cell(src)
        cell["id"] = f"demo-{i}"
        nb.cells.append(cell)
    path = folder / WIDGET_DEMO
    nbformat.write(nb, path)
    return path
