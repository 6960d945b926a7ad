"""Interactive exploration of stored runs with ipywidgets.

The widgets only read the run store (never train), so changing a control re-plots in well under a
second. Headless (papermill, nbval; ``ARCHLAB_HEADLESS`` set by the runner and ``make test``) no
frontend can move a control, and nbclient can hang on cells that create Output widgets
(jupyter/nbclient#312, nteract/papermill#723), so there the default view is drawn once as a plain
figure instead.
"""
from __future__ import annotations

import os
from typing import Callable


def build_explorer(controls: dict, plot: Callable, **layout):
    """A VBox of one dropdown per ``name -> options`` and an output area that ``plot(**values)`` draws into."""
    import ipywidgets as w
    import matplotlib.pyplot as plt

    boxes = {k: w.Dropdown(options=list(v), value=list(v)[0], description=k, **layout) for k, v in controls.items()}

    def draw(**values):
        fig = plot(**values)
        if fig is not None:
            plt.show()

    out = w.interactive_output(draw, boxes)
    return w.VBox([w.HBox(list(boxes.values())), out])


def explorer(controls: dict, plot: Callable, **layout):
    """Show dropdowns over ``controls`` that re-plot ``plot(**values)`` (a matplotlib figure) from stored runs."""
    import matplotlib.pyplot as plt

    if not controls or any(len(list(v)) == 0 for v in controls.values()):
        raise ValueError(f"every control needs at least one option; got {controls}")
    if os.environ.get("ARCHLAB_HEADLESS"):
        defaults = {k: list(v)[0] for k, v in controls.items()}
        print(f"headless run: showing the default view {defaults}; open the notebook in Jupyter for the controls")
        fig = plot(**defaults)
        if fig is not None:
            plt.show()
        return None
    from IPython.display import display

    ui = build_explorer(controls, plot, **layout)
    display(ui)
    return ui
