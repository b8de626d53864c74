"""courseplots.tables: results shown as tables (HTML in the book, aligned text elsewhere)."""

from __future__ import annotations

import doctest
import html.parser

import pytest

import courseplots.tables
from courseplots.tables import Table


class Cells(html.parser.HTMLParser):
    """The text of every th/td, row by row, and the style of each cell."""

    def __init__(self):
        super().__init__()
        self.rows, self.styles, self._cell = [], [], None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
            self.styles.append([])
        elif tag in ("th", "td"):
            self._cell = ""
            self.styles[-1].append(dict(attrs).get("style", ""))

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag):
        if tag in ("th", "td"):
            self.rows[-1].append(self._cell)
            self._cell = None


def test_the_docstring_example_runs():
    assert doctest.testmod(courseplots.tables).failed == 0


def test_html_holds_every_cell_escaped_with_numbers_right_aligned():
    table = Table(["run", "loss <after>", "gain"], [("a & b", "1.5e-03", "12%"), ("c", 0.25, "n/a")])
    parser = Cells()
    parser.feed(table._repr_html_())
    assert parser.rows == [["run", "loss <after>", "gain"], ["a & b", "1.5e-03", "12%"], ["c", "0.25", "n/a"]]
    assert "&lt;after&gt;" in table._repr_html_() and "a &amp; b" in table._repr_html_()
    right = [["text-align: right" in style for style in row] for row in parser.styles]
    assert right[1] == [False, True, False]  # the first column is labels; "n/a" makes the third text


def test_text_form_aligns_columns():
    lines = repr(Table(["name", "value"], [("long name", "1.0"), ("x", "22.75")])).splitlines()
    assert lines == ["name       value", "---------  -----", "long name    1.0", "x          22.75"]


def test_a_row_of_the_wrong_length_is_refused():
    with pytest.raises(ValueError, match="2 cells for 3 columns"):
        Table(["a", "b", "c"], [("1", "2")])
