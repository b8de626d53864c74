"""What the chapter tests check on figures: a figure cell drawn again, and legends that hide no data."""

from __future__ import annotations

import numpy as np


def draw_cell(source: str, namespace: dict, name: str):
    """Run a figure cell's source on a copy of ``namespace`` (plt.show() and display() do nothing)
    and return its figure, drawn, and the namespace. The caller closes the figure."""
    import matplotlib.pyplot as plt

    plt.close("all")
    scope = dict(namespace, display=lambda *objects: None)
    exec(compile(source.replace("plt.show()", "pass"), name, "exec"), scope)
    fig = plt.gcf()
    fig.canvas.draw()
    return fig, scope


def lines_under(box, ax) -> list[str]:
    """Labels of the solid lines of ``ax`` with a drawn point inside ``box`` (display coordinates).
    Dashed lines are reference levels (a floor, chance): a legend may cover them."""
    covered = []
    for line in ax.get_lines():
        if line.get_linestyle() == "--":
            continue
        points = ax.transData.transform(np.column_stack(line.get_data()))
        inside = (points[:, 0] >= box.x0) & (points[:, 0] <= box.x1) & (points[:, 1] >= box.y0) & (points[:, 1] <= box.y1)
        if inside.any():
            covered.append(line.get_label())
    return covered
