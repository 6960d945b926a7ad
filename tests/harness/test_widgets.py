"""The notebook widgets: stored-run ``explorer`` and parameter ``live``; widget paths and the headless static view.

Outside a kernel an ``ipywidgets.Output`` captures nothing, so these tests follow what was drawn through the plot
functions' calls and the returned ``View``; tests/browser checks the pictures in a real JupyterLab.
"""
import ipywidgets as w
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from IPython.core.formatters import DisplayFormatter

from archlab import widgets
from archlab.widgets import build_explorer, explorer, has_content, live


@pytest.fixture(autouse=True)
def _widget_mode(monkeypatch):
    """Widget path unless a test sets ARCHLAB_HEADLESS; every figure closed afterwards, and none leaked.

    Figures an earlier test module left open are closed first: the check is about this module's widgets only."""
    monkeypatch.delenv("ARCHLAB_HEADLESS", raising=False)
    plt.close("all")
    yield
    leaked = plt.get_fignums()
    plt.close("all")
    assert not leaked, f"figures left open: {leaked}"


def _recorder(empty=()):
    """A plot that records its calls; views listed in ``empty`` (tuples of values) draw axes without data."""
    calls = []

    def plot(**values):
        calls.append(values)
        fig, ax = plt.subplots()
        if tuple(values.values()) in empty:
            ax.set_title("no stored run")
        else:
            ax.plot([0, 1], [0, 1])
        return fig

    return calls, plot


def test_dropdowns_replot_on_change_and_are_tagged():
    calls, plot = _recorder()
    view = explorer({"optimizer": ["sgd", "adamw"], "seed": [0, 1]}, plot)
    boxes = view.controls
    assert list(boxes) == ["optimizer", "seed"] and list(boxes["optimizer"].options) == ["sgd", "adamw"]
    assert calls[-1] == {"optimizer": "sgd", "seed": 0} and view.draws == 1
    boxes["seed"].value = 1
    assert calls[-1] == {"optimizer": "sgd", "seed": 1} and view.values == calls[-1] and view.draws == 2
    assert {"archlab-widget", "archlab-explorer"} <= set(view.ui._dom_classes)
    assert "archlab-output" in view.output._dom_classes and isinstance(view.output, w.Output)
    assert {"archlab-control", "archlab-control-seed"} <= set(boxes["seed"]._dom_classes)


def test_options_are_deduplicated_in_order_and_plain():
    calls, plot = _recorder()
    view = explorer({"arm": ["mp2_cc", "sp", "mp2_cc"], "seed": np.array([1, 0, 1])}, plot)
    assert list(view.controls["arm"].options) == ["mp2_cc", "sp"]
    assert list(view.controls["seed"].options) == [1, 0] and type(view.controls["seed"].value) is int


def test_the_view_is_not_displayed_twice():
    """A call that ends a cell without `;` must add no second copy: the returned View displays as nothing."""
    _, plot = _recorder()
    view = explorer({"seed": [0]}, plot)
    assert DisplayFormatter().format(view) == ({}, {})


def test_default_skips_views_without_data():
    calls, plot = _recorder(empty={("csp", 1)})
    view = explorer({"family": ["csp", "resnet"], "k": [1, 2]}, plot)
    assert view.values == {"family": "csp", "k": 2} and view.controls["k"].value == 2
    assert calls == [{"family": "csp", "k": 1}, {"family": "csp", "k": 2}]  # probe, then the drawn view reused


def test_partial_default_fixes_a_control_and_searches_the_rest():
    _, plot = _recorder(empty={("resnet", 1)})
    view = explorer({"family": ["csp", "resnet"], "k": [1, 2]}, plot, default={"family": "resnet"})
    assert view.values == {"family": "resnet", "k": 2}


def test_has_data_predicate_chooses_without_drawing_probes():
    calls, plot = _recorder()
    view = explorer({"k": [1, 2, 3]}, plot, has_data=lambda k: k >= 2)
    assert view.values == {"k": 2} and calls == [{"k": 2}]


def test_an_empty_default_is_refused():
    _, plot = _recorder(empty={("csp", 1)})
    with pytest.raises(ValueError, match="has no data"):
        explorer({"family": ["csp", "resnet"], "k": [1, 2]}, plot, default={"family": "csp", "k": 1})
    with pytest.raises(ValueError, match="has no data"):
        explorer({"k": [1, 2]}, plot, default={"k": 1}, has_data=lambda k: k != 1)


def test_no_view_with_data_is_refused():
    _, plot = _recorder(empty={(1,), (2,)})
    with pytest.raises(ValueError, match="no view"):
        explorer({"k": [1, 2]}, plot)


@pytest.mark.parametrize("default, match", [({"nope": 1}, "unknown control"), ({"k": 9}, "not one of its options")])
def test_bad_defaults_are_refused(default, match):
    _, plot = _recorder()
    with pytest.raises(ValueError, match=match):
        explorer({"k": [1, 2]}, plot, default=default)


def test_empty_control_is_refused():
    with pytest.raises(ValueError, match="at least one option"):
        explorer({"seed": []}, lambda **v: None)


def test_figures_a_plot_leaves_open_are_closed():
    def plot(k):
        plt.figure()  # a stray figure the plot does not return
        fig, ax = plt.subplots()
        ax.plot([0, k])
        return fig

    view = explorer({"k": [1, 2]}, plot)
    view.controls["k"].value = 2
    assert plt.get_fignums() == []


def test_has_content():
    fig, ax = plt.subplots()
    assert not has_content([fig]) and not has_content([]) and not has_content([pd.DataFrame()])
    ax.imshow(np.eye(2))
    assert has_content([fig]) and has_content([pd.DataFrame({"a": [1]})])
    plt.close(fig)


def test_build_explorer_draws_the_first_options_by_default():
    calls, plot = _recorder()
    view = build_explorer({"a": ["x", "y"]}, plot)
    assert calls == [{"a": "x"}] and view.ui is not None


# ----------------------------------------------------------------------------- headless


def test_headless_explorer_draws_the_default_view_once(monkeypatch, capsys):
    monkeypatch.setenv("ARCHLAB_HEADLESS", "1")
    calls, plot = _recorder(empty={("adamw", 3)})
    view = explorer({"optimizer": ["adamw", "sgd"], "seed": [3]}, plot)
    assert view.ui is None and view.values == {"optimizer": "sgd", "seed": 3} and view.draws == 1
    assert calls == [{"optimizer": "adamw", "seed": 3}, {"optimizer": "sgd", "seed": 3}]
    assert "default view" in capsys.readouterr().out


def test_headless_live_draws_the_default_once(monkeypatch, capsys):
    monkeypatch.setenv("ARCHLAB_HEADLESS", "1")
    calls, plot = _recorder()
    view = live({"L": (2, 12), "F": [8, 16, 8], "on": True, "scale": (0.0, 1.0)}, plot, default={"scale": 0.5})
    assert calls == [{"L": 2, "F": 8, "on": True, "scale": 0.5}] and view.ui is None
    assert "default view" in capsys.readouterr().out


# ----------------------------------------------------------------------------- live


def test_live_controls_from_specs():
    calls, plot = _recorder()
    view = live({"L": (2, 12), "lr": (0.01, 1.0, 0.01), "n": range(1, 9, 2), "F": [8, 16, 8], "on": False,
                 "log": w.FloatLogSlider(value=0.1, min=-3, max=0)}, plot, default={"L": 4})
    c = view.controls
    assert type(c["L"]) is w.IntSlider and (c["L"].min, c["L"].max, c["L"].value) == (2, 12, 4)
    assert type(c["lr"]) is w.FloatSlider and c["lr"].step == 0.01
    assert type(c["n"]) is w.IntSlider and (c["n"].min, c["n"].max, c["n"].step) == (1, 7, 2)
    assert list(c["F"].options) == [8, 16] and type(c["on"]) is w.Checkbox
    assert all(not ctl.continuous_update for ctl in c.values() if "continuous_update" in ctl.trait_names())
    assert {"archlab-widget", "archlab-live"} <= set(view.ui._dom_classes)
    assert calls == [{"L": 4, "lr": 0.01, "n": 1, "F": 8, "on": False, "log": 0.1}]


def test_live_recomputes_on_each_change():
    calls, plot = _recorder()
    view = live({"L": (2, 12), "F": [8, 16]}, plot)
    view.controls["L"].value = 5
    view.controls["F"].value = 16
    assert calls[1:] == [{"L": 5, "F": 8}, {"L": 5, "F": 16}] and view.draws == 3


def test_live_button_runs_only_on_click_and_ignores_queued_clicks():
    calls, plot = _recorder()
    view = live({"lr": (0.1, 1.0, 0.1)}, plot, button="Run")
    assert "archlab-run" in view.button._dom_classes and len(calls) == 1
    view.controls["lr"].value = 0.5
    assert len(calls) == 1 and "press Run" in view.status.value
    view.button.click()
    assert calls[-1] == {"lr": 0.5} and view.status.value == "" and not view.button.disabled
    view.button.click()  # e.g. queued while the first run computed: nothing changed, nothing runs
    assert len(calls) == 2


def test_live_returns_tables_and_figures():
    def compute(n):
        fig, ax = plt.subplots()
        ax.bar(range(n), range(n))
        return fig, pd.DataFrame({"n": [n]})

    view = live({"n": (1, 5)}, compute)
    view.controls["n"].value = 3
    assert view.values == {"n": 3} and plt.get_fignums() == []


def test_live_first_draw_error_fails_the_cell():
    def compute(n):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        live({"n": (1, 5)}, compute)


@pytest.mark.parametrize("controls, default, err", [
    ({"n": (5, 1)}, None, ValueError), ({"n": (1, 5)}, {"n": 9}, ValueError), ({"n": "x"}, None, TypeError),
    ({"n": [1, 2]}, {"n": 3}, ValueError), ({"n": (1, 5)}, {"m": 1}, ValueError), ({}, None, ValueError),
])
def test_live_bad_specs_are_refused(controls, default, err):
    with pytest.raises(err):
        live(controls, lambda **v: None, default=default)


def test_widgets_module_names_its_css_classes():
    """tests/browser finds widgets by these classes; the module docstring is their contract."""
    for cls in ("archlab-widget", "archlab-explorer", "archlab-live", "archlab-output", "archlab-control",
                "archlab-run"):
        assert cls in widgets.__doc__


def test_explorer_first_draw_error_fails_the_cell():
    def plot(k):
        raise RuntimeError("no store")

    with pytest.raises(RuntimeError, match="no store"):
        explorer({"k": [1, 2]}, plot, has_data=lambda k: True)


def test_busy_class_is_set_only_while_drawing():
    """tests/browser knows a redraw is complete when the root loses `archlab-busy`."""
    views, seen = [], []

    def plot(k):
        seen.append(bool(views) and "archlab-busy" in views[0].ui._dom_classes)
        fig, ax = plt.subplots()
        ax.plot([0, k])
        return fig

    views.append(explorer({"k": [1, 2]}, plot))
    views[0].controls["k"].value = 2
    assert seen[-1] is True and "archlab-busy" not in views[0].ui._dom_classes
    lives = []
    lives.append(live({"n": (1, 3)}, lambda n: seen.append(bool(lives) and "archlab-busy" in lives[0].ui._dom_classes)))
    lives[0].controls["n"].value = 2
    assert seen[-1] is True and "archlab-busy" not in lives[0].ui._dom_classes


# ----------------------------------------------------------------------------- what a notebook shows besides widgets
# (issue 33): the compact verdict table, paths without the build folder, log-axis labels, the forest plot's key and the
# headless progress lines.


def _claim_rows(n=3):
    return [{"paper": "9", "id": f"C{i}", "kind": "exact" if i == 0 else "directional", "claim": "word " * 60,
             "effect": float("nan") if i == 0 else 1.5 * i, "ci_low": -0.5, "ci_high": 4.0, "unit": "pp",
             "measured": "counts 5 / 7 / 5", "seeds": "5/5", "regime_measured": "loss 0.1 < 0.5: met",
             "note": f"note {i}", "verdict": ["reproduced", "inconclusive", "not reproduced"][i % 3]} for i in range(n)]


def test_claims_frame_shows_compact_verdicts_and_folds_the_details():
    from archlab.notebook import select_claims

    claims = select_claims(_claim_rows())
    view = claims[["id", "kind", "seeds", "note", "verdict"]]  # a notebook's usual slice
    html = view._repr_html_()
    assert type(view).__name__ == "ClaimsFrame" and list(view.columns) == ["id", "kind", "seeds", "note", "verdict"]
    table, details = html.split('<details class="archlab-claim-details">')
    assert table.count('class="archlab-verdict"') == 3 and "exact: passed" in table and "not reproduced" in table
    nowrap = '<span style="white-space:nowrap">{}</span>'
    # the estimate and the interval each on one line, the unit free to wrap: the longest effect cannot widen the page
    assert f"{nowrap.format('+1.5')} {nowrap.format('[-0.5, 4]')} pp" in table
    assert "counts 5 / 7 / 5" in table  # an exact check shows what was measured
    assert "word word" in table and "…" in table and "note 1" not in table  # claim shortened; details folded
    assert all(f"<b>{c}</b>" in details for c in ("kind", "seeds", "note")) and "regime_measured" not in details


def test_show_claims_picks_ids_in_order_and_refuses_unknown_ones(tmp_path, monkeypatch):
    from archlab import notebook

    monkeypatch.setenv("ARCHLAB_RESULTS", str(tmp_path))
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    ctx = notebook.session("09_paper", profile="smoke")
    with pytest.raises(ValueError, match="write_claims"):
        ctx.show_claims(["C1"])
    ctx.write_claims(_claim_rows())
    ctx.show_claims(["C2", "C0"])
    assert list(shown[-1]["id"]) == ["C2", "C0"]
    with pytest.raises(ValueError, match=r"unknown claim id\(s\) \['C7'\].*'C0', 'C1', 'C2'"):
        ctx.show_claims(["C7"])


def test_results_paths_print_without_the_build_folder(tmp_path, monkeypatch):
    from archlab import notebook

    monkeypatch.setenv("ARCHLAB_RESULTS", str(tmp_path / "res"))
    ctx = notebook.session("09_paper", profile="smoke")
    fig = plt.figure()
    path = ctx.savefig(fig, "x", close=True)
    assert f"{ctx.dir}" == "$ARCHLAB_RESULTS/09_paper" and str(tmp_path) not in repr(path)
    assert path.exists() and str(path).startswith(str(tmp_path))  # file operations see the real path


def test_log_axes_label_plain_numbers_over_a_short_span():
    from archlab import plots

    plots.set_style()
    for span, expect in (([1.95, 2.15], "2"), ([0.3, 5], "0.3")):
        fig, ax = plt.subplots()
        ax.plot([1, 2], span)
        ax.set_yscale("log")
        fig.canvas.draw()
        labels = [t.get_text() for t in ax.get_yticklabels(minor=True) + ax.get_yticklabels()]
        plt.close(fig)
        assert expect in labels and not any("times" in t or "^" in t for t in labels), labels


def test_forest_plot_legend_explains_ticks_and_bands():
    from archlab import plots

    fig = plots.forest_plot(pd.DataFrame(_claim_rows()).assign(threshold_low=1.0, threshold_high=float("nan")))
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    plt.close(fig)
    assert {"smallest effect that matters", "equivalence margin", "zero", "reproduced"} <= set(labels)
    assert "black tick" in plots.FOREST_CAPTION and "shaded band" in plots.FOREST_CAPTION


def test_headless_progress_prints_once_a_minute_failures_and_a_summary(capsys, monkeypatch):
    from archlab import sweep

    clock = iter(range(0, 10_000, 5))  # every run takes 5 s: 200 runs are 1,000 s
    monkeypatch.setattr(sweep.time, "perf_counter", lambda: float(next(clock)))
    monkeypatch.setenv("ARCHLAB_HEADLESS", "1")
    log = sweep._Reporter(200, 4, "e9", verbose=True)
    for i in range(200):
        log.update({"seed": i}, "diverged" if i == 50 else "ok", 5.0, "nan loss" if i == 50 else None)
    log.close()
    lines = capsys.readouterr().out.splitlines()
    progress = [x for x in lines if "runs, eta" in x]
    assert lines[0] == "[e9] 200 runs to do, 4 already stored" and 14 <= len(progress) <= 17, lines
    assert any("diverged" in x and "'seed': 50" in x for x in lines) and "(diverged 1, ok 199)" in lines[-1]


def test_headless_live_view_without_its_data_says_so(capsys, monkeypatch):
    from archlab.data import DataNotFoundError
    from archlab.widgets import live

    monkeypatch.setenv("ARCHLAB_HEADLESS", "1")

    def needs_data(n):
        raise DataNotFoundError("dataset 'cifar10' is not on this machine\nWays out: ...")

    view = live({"n": (1, 3)}, needs_data)
    assert view.draws == 1 and "not on this machine, so it is not drawn here" in capsys.readouterr().out
