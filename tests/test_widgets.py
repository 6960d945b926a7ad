"""The stored-run explorer: live dropdowns in Jupyter, a static default view when headless."""
import matplotlib.pyplot as plt
import pytest

from archlab.widgets import build_explorer, explorer


def _recorder():
    calls = []

    def plot(**values):
        calls.append(values)
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, values["seed"]])
        return fig

    return calls, plot


def test_dropdowns_replot_on_change():
    calls, plot = _recorder()
    ui = build_explorer({"optimizer": ["sgd", "adamw"], "seed": [0, 1]}, plot)
    boxes = ui.children[0].children
    assert [b.description for b in boxes] == ["optimizer", "seed"] and list(boxes[0].options) == ["sgd", "adamw"]
    assert calls[-1] == {"optimizer": "sgd", "seed": 0}
    boxes[1].value = 1
    assert calls[-1] == {"optimizer": "sgd", "seed": 1}
    plt.close("all")


def test_headless_draws_the_default_view_once(monkeypatch, capsys):
    monkeypatch.setenv("ARCHLAB_HEADLESS", "1")
    calls, plot = _recorder()
    assert explorer({"optimizer": ["adamw", "sgd"], "seed": [3]}, plot) is None
    assert calls == [{"optimizer": "adamw", "seed": 3}] and "default view" in capsys.readouterr().out
    plt.close("all")


def test_empty_control_is_refused():
    with pytest.raises(ValueError, match="at least one option"):
        explorer({"seed": []}, lambda **v: None)
