"""The dashboard's figures: matplotlib, drawn off-screen (Agg) and embedded in the page as PNG data.

Each figure is a :class:`Figure`: its PNG bytes and an alt text that states what it shows in words,
so the page reads without the picture. No pyplot (no global state), no date in the PNG metadata (a
rebuild from the same gradebook gives the same bytes). matplotlib is imported when a figure is drawn,
so that the caller can say first where its cache goes (``MPLCONFIGDIR``; see :mod:`.build`).
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

from typing import TYPE_CHECKING

from .data import ClassData, ItemStats, student_rows

if TYPE_CHECKING:
    from matplotlib.figure import Figure as MplFigure

BLUE, ORANGE, GREY = "#2f6db5", "#d9822b", "#6b6b6b"
BINS = [i * 10 for i in range(11)]  # percent: 0-10, ..., 90-100 (the last bin includes 100)
DPI = 110


@dataclass(frozen=True)
class Figure:
    key: str  # stable id, for anchors and tests
    title: str
    alt: str
    png: bytes

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def _new_figure(width: float, height: float) -> "MplFigure":
    from matplotlib.figure import Figure as MplFigure

    return MplFigure(figsize=(width, height), layout="constrained")


def _png(figure: "MplFigure") -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _histogram(percentages: list[float], title: str, colour: str) -> "MplFigure":
    from matplotlib.ticker import PercentFormatter

    figure = _new_figure(6.0, 3.0)
    axes = figure.add_subplot()
    axes.hist([min(max(p, 0.0), 100.0) for p in percentages], bins=BINS, color=colour, edgecolor="white")
    if percentages:
        mean = sum(percentages) / len(percentages)
        axes.axvline(mean, color="black", linestyle="--", linewidth=1)
        axes.text(mean, 1.0, f" mean {mean:.0f}%", transform=axes.get_xaxis_transform(), va="top", fontsize=9)
    axes.set_xlim(0, 100)
    axes.xaxis.set_major_formatter(PercentFormatter(decimals=0))
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.set_xlabel("score")
    axes.set_ylabel("students")
    axes.set_title(title, fontsize=11)
    axes.spines[["top", "right"]].set_visible(False)
    return figure


def _describe(percentages: list[float], what: str) -> str:
    if not percentages:
        return f"{what}: no scores yet."
    bands = [sum(1 for p in percentages if lo <= p < hi or (hi == 100 and p == 100)) for lo, hi in
             ((0, 50), (50, 80), (80, 100))]
    mean = sum(percentages) / len(percentages)
    return (f"{what}: {len(percentages)} scores, mean {mean:.0f}%; {bands[0]} below 50%, "
            f"{bands[1]} from 50% to 80%, {bands[2]} at 80% or more.")


def overall_distribution(data: ClassData) -> Figure:
    """Each student's total over every assignment (a missing submission counts as zero)."""
    percentages = [100 * row.fraction for row in student_rows(data) if row.fraction is not None]
    title = "Overall score, all assignments"
    return Figure("overall", title, _describe(percentages, title), _png(_histogram(percentages, title, BLUE)))


def assignment_distributions(data: ClassData) -> list[Figure]:
    figures = []
    for info in data.assignments:
        percentages = [100 * s.fraction for s in data.of_assignment(info.name) if s.fraction is not None]
        title = f"{info.name} (out of {info.max_score:g})"
        figures.append(Figure(f"scores-{info.name}", title, _describe(percentages, f"Scores of {info.name}"),
                              _png(_histogram(percentages, title, BLUE))))
    return figures


def item_difficulty(assignment: str, items: list[ItemStats]) -> Figure:
    """Share of submissions that earned each graded cell's points, in the notebook's order."""
    from matplotlib.ticker import PercentFormatter

    rated = [i for i in items if i.pass_rate is not None]
    figure = _new_figure(6.4, 1.0 + 0.32 * max(len(items), 1))
    axes = figure.add_subplot()
    labels = [i.grade_id for i in items]
    rates = [100 * (i.pass_rate or 0.0) for i in items]
    colours = [ORANGE if r < 50 else BLUE for r in rates]
    axes.barh(range(len(items)), rates, color=colours)
    axes.set_yticks(range(len(items)), labels, fontsize=8)
    axes.invert_yaxis()
    axes.set_xlim(0, 100)
    axes.xaxis.set_major_formatter(PercentFormatter(decimals=0))
    axes.set_xlabel("submissions that earned the cell's points (orange: under half)")
    axes.set_title(f"{assignment}: pass rate per test", fontsize=11)
    axes.spines[["top", "right"]].set_visible(False)
    for y, rate in enumerate(rates):
        axes.text(min(rate + 1, 88), y, f"{rate:.0f}%", va="center", fontsize=8, color=GREY)
    if rated:
        hardest = sorted(rated, key=lambda i: (i.pass_rate, i.grade_id))[:3]
        alt = (f"Pass rate of each of the {len(items)} graded cells of {assignment} over {rated[0].attempts} "
               "submissions. Hardest: " + "; ".join(f"{i.grade_id} {100 * i.pass_rate:.0f}%" for i in hardest) + ".")
    else:
        alt = f"No graded submission of {assignment} yet."
    return Figure(f"items-{assignment}", f"{assignment}: pass rate per test", alt, _png(figure))
