"""Interactive exploration of stored runs with ipywidgets.

The widgets only read the run store (never train), so moving a slider re-plots in well under a
second; headless (papermill, nbval) they render once with their default values.
"""
from __future__ import annotations

from typing import Callable


def explorer(controls: dict, plot: Callable, **layout):
    """Dropdowns for each ``name -> options`` in ``controls``; ``plot(**values)`` draws a matplotlib figure."""
    import ipywidgets as w
    import matplotlib.pyplot as plt
    from IPython.display import display

    boxes = {k: w.Dropdown(options=list(v), value=list(v)[0], description=k, **layout) for k, v in controls.items()}

    def draw(**values):
        fig = plot(**values)
        if fig is not None:
            plt.show()

    out = w.interactive_output(draw, boxes)
    ui = w.VBox([w.HBox(list(boxes.values())), out])
    display(ui)
    return ui
