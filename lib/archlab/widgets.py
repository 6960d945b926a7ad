"""Widgets for the notebooks: ``explorer`` re-plots stored runs, ``live`` recomputes a paper's parameters.

Both draw into one ``ipywidgets.Output`` explicitly: clear it (``wait=True``, so the old view stays until the new
one arrives), then ``display`` every part the plot function returned, each figure as a PNG encoded the moment the
function returned, its figures closed at once. Relying on
``interactive_output`` + ``plt.show`` instead left figures with only gridlines after a control change (issue 18: 4
of 4 scripted runs) and leaked figures a callback left open into the next cell's output.

Both display themselves once and return a :class:`View` whose own display is empty, so a call that is a cell's
last expression (with or without a trailing ``;``) shows the widget once, not twice.

Headless (papermill, nbval; ``ARCHLAB_HEADLESS`` set by ``archlab.run`` and ``make test``) no frontend can move a
control, and nbclient can hang on cells that create Output widgets (jupyter/nbclient#312, nteract/papermill#723), so
there the default view is drawn once as plain outputs instead.

CSS classes (what ``tests/browser`` finds the widgets by; keep them stable):

- ``archlab-widget`` on every root box, plus ``archlab-explorer`` or ``archlab-live``;
- ``archlab-controls`` on the box of controls, ``archlab-control`` and ``archlab-control-<name>`` on each control;
- ``archlab-output`` on the output area (the part that must change when a control changes);
- ``archlab-run`` on the "Run" button of ``live(..., button=...)``, ``archlab-status`` on its status line;
- ``archlab-busy`` on the root while a redraw is under way: added before the output is cleared, removed after its
  last part is displayed (the kernel sends both in order with the outputs), so a test knows a new view is complete.
"""
from __future__ import annotations

import itertools
import numbers
import os
from dataclasses import dataclass, field
from typing import Any, Callable

#: Most default candidates ``explorer`` draws (without ``has_data``) looking for a view that has data.
MAX_PROBES = 64


def headless() -> bool:
    """True under papermill/nbval (``ARCHLAB_HEADLESS`` set): draw statically, create no widgets."""
    return bool(os.environ.get("ARCHLAB_HEADLESS"))


@dataclass
class View:
    """What ``explorer`` and ``live`` return: the widget's parts, for tests and for re-showing it (``display(v.ui)``).

    Its own rich display is empty on purpose (the widget is already shown once). Headless, ``ui``, ``output`` and
    ``controls`` are None/empty and only ``values`` (the default view drawn) is set.
    """

    kind: str
    values: dict
    ui: Any = None
    output: Any = None
    controls: dict = field(default_factory=dict)
    button: Any = None
    status: Any = None
    draws: int = 0
    redraw: Callable | None = field(default=None, repr=False)

    def _ipython_display_(self):  # shown once already by explorer()/live(); a bare `view` shows nothing
        pass


# ----------------------------------------------------------------------------- rendering


def _plain(v):
    """numpy scalars -> Python scalars, so options compare, hash and print as plain values."""
    return v.item() if hasattr(v, "item") and not isinstance(v, (str, bytes)) and getattr(v, "ndim", 1) == 0 else v


def _options(name: str, opts) -> list:
    """A control's options, de-duplicated in first-seen order (notebook 03 listed an arm twice)."""
    out = list(dict.fromkeys(_plain(o) for o in opts))
    if not out:
        raise ValueError(f"control {name!r} needs at least one option")
    return out


def _parts(result) -> list:
    if result is None:
        return []
    return list(result) if isinstance(result, (tuple, list)) else [result]


def has_content(parts) -> bool:
    """Whether a plot's parts show any data: a figure with a plotted artist (``Axes.has_data``: lines, collections,
    patches, images), or a non-empty table or other displayable. A figure of empty axes with only a title ("no
    stored run ...") has none."""
    from matplotlib.figure import Figure

    for p in parts:
        if isinstance(p, Figure):
            if any(ax.has_data() for ax in p.axes):
                return True
        elif hasattr(p, "empty"):  # DataFrame / Series
            if not p.empty:
                return True
        elif p is not None:
            return True
    return False


def _render(fn: Callable, values: dict):
    """Call ``fn(**values)`` with its prints and displays captured; return ``(captured, parts, shown)``.

    ``parts`` is what ``fn`` returned (figures kept for :func:`has_content`); ``shown`` is what will be displayed,
    every figure already encoded to a PNG here, right after ``fn`` returned. Then every figure the call opened is
    closed, so none is drawn again by the inline backend's post-execute flush (which the comm layer also fires after
    each widget message) and none leaks into a later cell. Displaying the live Figure object later instead produced
    blank (transparent) PNGs after a control change in JupyterLab when the plot function itself called ``display``.
    """
    import matplotlib.pyplot as plt
    from IPython.core.pylabtools import print_figure
    from IPython.display import Image
    from IPython.utils.capture import capture_output
    from matplotlib.figure import Figure

    before, parts, shown = set(plt.get_fignums()), [], []
    try:
        with capture_output() as cap:
            parts = _parts(fn(**values))
        for part in parts:
            if isinstance(part, Figure):
                png = print_figure(part, "png", bbox_inches="tight")
                if png:
                    shown.append(Image(data=png, format="png"))
            else:
                shown.append(part)
    finally:
        for num in set(plt.get_fignums()) - before:
            plt.close(num)
        for part in parts:
            if isinstance(part, Figure):
                plt.close(part)
    return cap, parts, shown


def _show(rendered) -> None:
    """Display what ``_render`` produced in the current output (a cell, or an Output widget's context)."""
    from IPython.display import display

    cap, _, shown = rendered
    cap.show()
    for item in shown:
        display(item)


def _draw_into(out, fn: Callable, values: dict, rendered=None) -> None:
    """Replace ``out``'s content with ``fn(**values)``; an exception shows as a traceback inside ``out``."""
    try:
        rendered = rendered if rendered is not None else _render(fn, values)
    except Exception:
        from IPython import get_ipython

        with out:
            out.clear_output(wait=True)
            ip = get_ipython()
            if ip is not None:
                ip.showtraceback()
            else:
                raise
        return
    with out:
        out.clear_output(wait=True)
        _show(rendered)


def _tag(widget, *classes: str):
    for c in classes:
        widget.add_class(c)
    return widget


def _css_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in str(name))


# ----------------------------------------------------------------------------- explorer (stored runs)


def choose_default(controls: dict, plot: Callable, default: dict | None = None,
                   has_data: Callable | None = None):
    """The explorer's opening view: ``(values, rendered)``, ``rendered`` the probe's :func:`_render` or None.

    ``default`` fixes some or all controls; the rest are searched in option order for the first combination with
    data: ``has_data(**values)`` when given (cheap, nothing drawn), else the drawn plot (:func:`has_content`, at most
    :data:`MAX_PROBES` draws). A full ``default`` whose view has no data is refused, as is a widget with no view
    that has data: an explorer must never open on an empty plot.
    """
    default = dict(default or {})
    unknown = set(default) - set(controls)
    if unknown:
        raise ValueError(f"default names unknown control(s) {sorted(unknown)}; controls: {list(controls)}")
    for k, v in default.items():
        if _plain(v) not in controls[k]:
            raise ValueError(f"default {k}={v!r} is not one of its options {controls[k]}")
    free = [k for k in controls if k not in default]
    candidates = (dict(default) | dict(zip(free, combo)) for combo in itertools.product(*(controls[k] for k in free)))
    ordered = lambda vals: {k: vals[k] for k in controls}  # noqa: E731
    probes = 0
    for values in candidates:
        values = ordered(values)
        if has_data is not None:
            if has_data(**values):
                return values, None
        else:
            rendered = _render(plot, values)
            if has_content(rendered[1]):
                return values, rendered
            probes += 1
        if not free:
            raise ValueError(f"the default view {values} has no data; pick a default with data")
        if has_data is None and probes >= MAX_PROBES:
            break
    raise ValueError(f"no view of {list(controls)} with data{' (first %d tried)' % probes if probes >= MAX_PROBES else ''}"
                     f"{' given ' + str(default) if default else ''}; is anything stored?")


def explorer(controls: dict, plot: Callable, *, default: dict | None = None, has_data: Callable | None = None,
             **layout) -> View:
    """Dropdowns over stored runs: ``plot(**values)`` re-draws when one changes; nothing retrains.

    - ``controls``: ``name -> options``; options are de-duplicated (first-seen order), numpy scalars become plain.
    - ``plot(**values)`` returns a matplotlib figure, a table, a tuple/list of those, or None; what it prints or
      ``display``s shows in the output area too.
    - The opening view has data (see :func:`choose_default`): fix it with ``default={name: value}`` and/or give a
      cheap ``has_data(**values) -> bool``; a default whose plot is empty raises ``ValueError``.
    - ``layout``: passed to every ``ipywidgets.Dropdown`` (e.g. ``style={"description_width": "initial"}``).

    Shown once; returns a :class:`View` (its display is empty). Headless: the default view, drawn once statically.
    """
    if not controls:
        raise ValueError("an explorer needs at least one control")
    opts = {k: _options(k, v) for k, v in controls.items()}
    values, rendered = choose_default(opts, plot, default, has_data)
    if headless():
        print(f"headless run: showing the default view {values}; open the notebook in Jupyter for the controls")
        _show(rendered if rendered is not None else _render(plot, values))
        return View("explorer", values, draws=1)
    from IPython.display import display

    view = build_explorer(opts, plot, values, rendered, **layout)
    display(view.ui)
    return view


def build_explorer(controls: dict, plot: Callable, values: dict | None = None, rendered=None, **layout) -> View:
    """The explorer's widgets (not displayed), drawn at ``values`` (default: each control's first option)."""
    import ipywidgets as w

    opts = {k: _options(k, v) for k, v in controls.items()}
    values = values or {k: v[0] for k, v in opts.items()}
    boxes = {k: _tag(w.Dropdown(options=v, value=values[k], description=str(k), **layout),
                     "archlab-control", f"archlab-control-{_css_name(k)}") for k, v in opts.items()}
    out = _tag(w.Output(), "archlab-output")
    ui = _tag(w.VBox([_tag(w.HBox(list(boxes.values())), "archlab-controls"), out]),
              "archlab-widget", "archlab-explorer")
    view = View("explorer", dict(values), ui, out, boxes)

    def redraw(_change=None, rendered=None):
        view.values = {k: b.value for k, b in boxes.items()}
        ui.add_class("archlab-busy")
        try:
            _draw_into(out, plot, view.values, rendered)
        finally:
            ui.remove_class("archlab-busy")
        view.draws += 1

    view.redraw = redraw
    for b in boxes.values():
        b.observe(redraw, names="value")
    # the first draw is rendered outside the widget, so its exception fails the cell (later ones show in the output)
    redraw(rendered=rendered if rendered is not None else _render(plot, values))
    return view


# ----------------------------------------------------------------------------- live (recompute)


def _control(name: str, spec, value=None, **layout):
    """One live control from its spec (the abbreviations of ``ipywidgets.interact``, made explicit):
    a list -> Dropdown; a tuple ``(min, max)`` or ``(min, max, step)`` of numbers -> IntSlider (all ints) or
    FloatSlider; a ``range`` -> IntSlider; a bool -> Checkbox; an ipywidgets widget -> itself. Sliders never update
    while dragging (``continuous_update=False``)."""
    import ipywidgets as w

    desc = dict(description=str(name), **layout)
    if isinstance(spec, w.ValueWidget):
        ctl = spec
        if value is not None:
            ctl.value = value
    elif isinstance(spec, bool):
        ctl = w.Checkbox(value=spec if value is None else bool(value), indent=False, **desc)
    elif isinstance(spec, range):
        if len(spec) == 0:
            raise ValueError(f"control {name!r}: empty range")
        ctl = w.IntSlider(min=spec.start, max=spec[-1], step=abs(spec.step), value=spec.start if value is None else value,
                          **desc)
    elif isinstance(spec, tuple) and len(spec) in (2, 3) and all(isinstance(x, numbers.Real) and not isinstance(x, bool)
                                                                  for x in spec):
        lo, hi = spec[0], spec[1]
        if not lo < hi:
            raise ValueError(f"control {name!r}: slider (min, max[, step]) needs min < max, got {spec}")
        if all(isinstance(x, numbers.Integral) for x in spec):
            ctl = w.IntSlider(min=lo, max=hi, step=spec[2] if len(spec) == 3 else 1, value=lo if value is None else value,
                              **desc)
        else:
            step = spec[2] if len(spec) == 3 else (hi - lo) / 100
            ctl = w.FloatSlider(min=lo, max=hi, step=step, value=lo if value is None else value, **desc)
    elif isinstance(spec, (list, tuple)):
        opts = _options(name, spec)
        if value is not None and _plain(value) not in opts:
            raise ValueError(f"default {name}={value!r} is not one of its options {opts}")
        ctl = w.Dropdown(options=opts, value=opts[0] if value is None else _plain(value), **desc)
    else:
        raise TypeError(f"control {name!r}: a list (dropdown), (min, max[, step]) (slider), range, bool or an "
                        f"ipywidgets widget, not {spec!r}")
    if value is not None and hasattr(ctl, "min") and not ctl.min <= value <= ctl.max:
        raise ValueError(f"default {name}={value!r} is outside the slider's [{ctl.min}, {ctl.max}]")
    if "continuous_update" in ctl.trait_names():
        ctl.continuous_update = False
    return _tag(ctl, "archlab-control", f"archlab-control-{_css_name(name)}")


def _spec_default(spec):
    """The headless default of a control spec (what the widget would open on)."""
    import ipywidgets as w

    if isinstance(spec, w.ValueWidget):
        return spec.value
    if isinstance(spec, bool):
        return spec
    if isinstance(spec, range):
        return spec.start
    if isinstance(spec, (list, tuple)) and not (isinstance(spec, tuple) and len(spec) in (2, 3) and all(
            isinstance(x, numbers.Real) and not isinstance(x, bool) for x in spec)):
        return _options("?", spec)[0]
    return spec[0]


def live(controls: dict, compute: Callable, *, default: dict | None = None, button: str | None = None,
         **layout) -> View:
    """Move a paper's parameters and watch the consequence: ``compute(**values)`` reruns on every change.

    This is the contract the paper notebooks rely on.

    ``controls`` maps each keyword of ``compute`` to a spec:

    ==========================  ===================================================
    ``["a", "b"]`` (a list)      dropdown over the options (de-duplicated)
    ``(1, 8)`` / ``(0.0, 1.0, 0.05)``  IntSlider (all ints) / FloatSlider: min, max[, step]
    ``range(1, 9, 2)``           IntSlider over the range
    ``True`` / ``False``         checkbox
    an ipywidgets widget         used as given (e.g. ``FloatLogSlider``)
    ==========================  ===================================================

    Sliders use ``continuous_update=False``: they recompute on release, never while dragging. The widget opens on
    ``default`` (``{name: value}``; else the first option, the slider's minimum, the checkbox's value).

    ``compute(**values)`` returns a matplotlib figure, a table (DataFrame), a tuple/list of those, or None; what it
    prints or ``display``s shows too. Keep it to about a second on a CPU. For a computation of a few seconds (a
    short training run) pass ``button="Run"``: changing a control then only marks the view stale, and the button
    recomputes; a click while nothing changed (e.g. one queued during a run) does nothing, so runs never pile up.
    An exception in a recompute shows as a traceback in the output area; in the first draw it fails the cell.

    Headless (papermill, nbval) the default view is drawn once as plain outputs. Returns a :class:`View` (its own
    display is empty: the widget is shown once, also as a cell's last expression).

    Example (paper 2's idea in miniature: a deep residual product against its first-order truncation)::

        import matplotlib.pyplot as plt
        import numpy as np
        import pandas as pd
        from archlab.widgets import live

        def truncation(L, scale):
            s = np.linspace(0, scale, 50)
            err = (1 + s) ** L - (1 + L * s)          # what the parallel layout drops
            fig, ax = plt.subplots(figsize=(5, 3))
            ax.plot(s, err)
            ax.set(xlabel="branch scale", ylabel="truncation error", title=f"L = {L}")
            return fig, pd.DataFrame({"L": [L], "error at max scale": [err[-1]]})

        live({"L": (2, 12), "scale": (0.01, 1.0, 0.01)}, truncation, default={"scale": 0.1})

        # a few seconds of training per view: recompute only on the button
        live({"insert_at": (50, 400, 50), "lr": [0.02, 0.05, 0.1]}, P.live_sensli_run, button="Run")
    """
    if not controls:
        raise ValueError("a live widget needs at least one control")
    default = dict(default or {})
    unknown = set(default) - set(controls)
    if unknown:
        raise ValueError(f"default names unknown control(s) {sorted(unknown)}; controls: {list(controls)}")
    if headless():
        values = {k: _plain(default[k]) if k in default else _spec_default(s) for k, s in controls.items()}
        print(f"headless run: showing the default view {values}; open the notebook in Jupyter to change it")
        from .data import DataNotFoundError

        try:
            _show(_render(compute, values))
        except DataNotFoundError as e:  # rendering from reference runs without the data (make figures): say so
            print(f"this live view trains on data that is not on this machine, so it is not drawn here: "
                  f"{str(e).splitlines()[0]}")
        return View("live", values, draws=1)
    from IPython.display import display

    view = build_live(controls, compute, default=default, button=button, **layout)
    display(view.ui)
    return view


def build_live(controls: dict, compute: Callable, *, default: dict | None = None, button: str | None = None,
               **layout) -> View:
    """``live``'s widgets (not displayed), drawn once at the default; the first draw's exception propagates."""
    import ipywidgets as w

    default = dict(default or {})
    ctls = {k: _control(k, s, default.get(k), **layout) for k, s in controls.items()}
    out = _tag(w.Output(), "archlab-output")
    bar = [*ctls.values()]
    run = status = None
    if button:
        run = _tag(w.Button(description=button, button_style="primary"), "archlab-run")
        status = _tag(w.HTML(""), "archlab-status")
        bar += [run, status]
    ui = _tag(w.VBox([_tag(w.HBox(bar, layout=w.Layout(flex_flow="row wrap")), "archlab-controls"), out]),
              "archlab-widget", "archlab-live")
    view = View("live", {k: c.value for k, c in ctls.items()}, ui, out, ctls, run, status)
    current = lambda: {k: c.value for k, c in ctls.items()}  # noqa: E731

    def redraw(_=None):
        values = current()
        if run is not None:
            if values == view.values and view.draws:
                return  # a click queued while this view was computing: nothing changed since
            run.disabled, run.description = True, f"{button}…"
        ui.add_class("archlab-busy")
        try:
            _draw_into(out, compute, values)
        finally:
            ui.remove_class("archlab-busy")
            view.values, view.draws = values, view.draws + 1
            if run is not None:
                run.disabled, run.description, status.value = False, button, ""

    def stale(_change):
        if current() != view.values:
            status.value = f"<i>changed: press {button}</i>"
        else:
            status.value = ""

    view.redraw = redraw
    if run is not None:
        run.on_click(redraw)
        for c in ctls.values():
            c.observe(stale, names="value")
    else:
        for c in ctls.values():
            c.observe(redraw, names="value")
    _draw_into_first(out, compute, view.values)
    view.draws = 1
    return view


def _draw_into_first(out, compute, values):
    """The first draw: rendered outside the widget so an error fails the cell (and nbval/papermill) loudly."""
    rendered = _render(compute, values)
    _draw_into(out, compute, values, rendered)
