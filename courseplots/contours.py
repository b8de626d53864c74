"""Draw optimizer paths over the valley's contour lines."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .valley import valley


def plot_trajectories(
    paths: dict[str, np.ndarray],
    ax: plt.Axes | None = None,
    title: str | None = None,
    xlim: tuple[float, float] = (-5.5, 1.5),
    ylim: tuple[float, float] = (-3.0, 3.0),
) -> plt.Axes:
    """Contours of the valley with one marked line per path (``label -> array (n, 2)``)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 3.6))
    x1, x2 = np.meshgrid(np.linspace(*xlim, 200), np.linspace(*ylim, 200))
    ax.contour(x1, x2, valley(np.stack([x1, x2], axis=-1)), levels=12, colors="0.75", linewidths=0.8)
    for label, path in paths.items():
        path = np.asarray(path)
        ax.plot(path[:, 0], path[:, 1], "-o", markersize=3, linewidth=1.2, label=label)
    ax.plot([0], [0], "k*", markersize=9)
    ax.set(xlim=xlim, ylim=ylim, xlabel="$x_1$", ylabel="$x_2$")
    if title:
        ax.set_title(title)
    if paths:
        ax.legend(loc="upper right", fontsize="small")
    return ax
