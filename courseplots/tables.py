"""A table of results that renders as a table: HTML in Jupyter and in the book, aligned text elsewhere.

Printed tables get cut on the right when a row is wider than the page's text column; an HTML table
wraps its cells instead. ``display(Table(...))`` shows the HTML where a front end can render it and
falls back to the aligned text (``repr``) in a terminal or a plain ``print``.

Example:
    >>> Table(("optimizer", "loss"), [("SGD", "0.123"), ("Adam", "0.045")])
    optimizer   loss
    ---------  -----
    SGD        0.123
    Adam       0.045
"""

from __future__ import annotations

import html
from dataclasses import dataclass


@dataclass(frozen=True)
class Table:
    """Column headings and rows of already formatted cells (strings); numbers are right-aligned."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def __init__(self, columns, rows):
        columns = tuple(str(c) for c in columns)
        rows = tuple(tuple(str(cell) for cell in row) for row in rows)
        for row in rows:
            if len(row) != len(columns):
                raise ValueError(f"a row has {len(row)} cells for {len(columns)} columns: {row}")
        object.__setattr__(self, "columns", columns)
        object.__setattr__(self, "rows", rows)

    def _numeric(self, column: int) -> bool:
        """A column whose cells all read as numbers (first column excepted) is right-aligned."""
        if column == 0 or not self.rows:
            return False
        for row in self.rows:
            try:
                float(row[column].rstrip("%"))
            except ValueError:
                return False
        return True

    def __repr__(self) -> str:
        widths = [max(len(c), *(len(row[i]) for row in self.rows)) for i, c in enumerate(self.columns)]
        right = [self._numeric(i) for i in range(len(self.columns))]

        def line(cells):
            return "  ".join(cell.rjust(w) if r else cell.ljust(w) for cell, w, r in zip(cells, widths, right)).rstrip()

        return "\n".join([line(self.columns), line("-" * w for w in widths), *(line(row) for row in self.rows)])

    def _repr_html_(self) -> str:
        def cell(tag, text, column):
            style = ' style="text-align: right"' if self._numeric(column) else ""
            return f"<{tag}{style}>{html.escape(text)}</{tag}>"

        head = "".join(cell("th", c, i) for i, c in enumerate(self.columns))
        body = "".join("<tr>" + "".join(cell("td", c, i) for i, c in enumerate(row)) + "</tr>" for row in self.rows)
        return f'<table class="table course-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
