"""Committed results come from committed code: every committed manifest names a clean, known commit."""
import json
import subprocess

import pytest

from archlab.paths import REPO_ROOT


def _git(*args) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=30)


def _committed_manifests() -> list[str]:
    r = _git("ls-files", "results")
    if r.returncode != 0:
        pytest.skip("not a git checkout")
    return [p for p in r.stdout.split() if p.endswith(("manifest.json", "bench.json"))]


def _commits(manifest: dict):
    """Every commit a manifest names: per figure (figure manifests), per notebook (the reference runs' manifest) or at
    the top level (bench.json style)."""
    if "notebooks" in manifest:
        for stem, e in manifest["notebooks"].items():
            yield stem, e.get("git_commit") or "unknown"
        return
    entries = manifest.get("figures", {}).values() if "figures" in manifest else [manifest]
    for e in entries:
        yield e.get("file", "?"), e.get("git_commit", "unknown")


def test_every_committed_manifest_names_a_clean_known_commit():
    bad = []
    for path in _committed_manifests():
        for name, commit in _commits(json.loads((REPO_ROOT / path).read_text())):
            if commit.endswith("-dirty") or commit == "unknown":
                bad.append(f"{path}: {name} from {commit} (regenerate from a clean work tree)")
            elif _git("cat-file", "-e", f"{commit}^{{commit}}").returncode != 0:
                bad.append(f"{path}: {name} from {commit}, a commit this repository does not have")
    assert not bad, "\n".join(bad[:20]) + (f"\n... {len(bad) - 20} more" if len(bad) > 20 else "")
