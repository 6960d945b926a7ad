"""pyproject.toml (pip) and environment.yml (conda) must declare the same packages and pins."""
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _pins(reqs):
    out = {}
    for r in reqs:
        name, _, version = r.partition("==")
        out[name.strip().lower()] = version.strip()
    return out


def test_pyproject_and_environment_yml_agree():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_pins = _pins(project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda_pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert _pins(conda_pip) == pip_pins


def test_torch_pins_are_the_supported_pair():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = _pins(project["dependencies"])
    assert pins["torch"] == "2.14.1" and pins["torchvision"] == "0.29.1"
    assert all(v for v in pins.values()), "every dependency is pinned"


def test_every_extra_is_pinned():
    """The optional extras (ray, dev, browser, site) are pinned like the main dependencies, so CI is reproducible."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    unpinned = [r for reqs in extras.values() for r in reqs if "==" not in r]
    assert not unpinned, f"pin these extras with ==: {unpinned}"
