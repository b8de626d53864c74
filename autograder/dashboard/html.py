"""The dashboard page: one self-contained HTML file (inline CSS, a small inline script, PNG data URIs).

Its Content-Security-Policy allows nothing but its own inline style and script (by hash) and
``data:`` images: the page cannot load anything from anywhere, by construction. Links to feedback
pages are relative to where the page is written, so the course folder can be moved or copied as a
whole. The students' table sorts with buttons in its column headers and filters with a labelled
text field and a status menu; both work with the keyboard alone and announce their result.
"""

from __future__ import annotations

import base64
import hashlib
import html
from datetime import datetime, timedelta
from urllib.parse import quote

from ..status import GRADED
from .data import (INTEGRITY_KINDS, NOT_RECORDED, ClassData, Submission, assignment_summaries, check_stats, hint_stats,
                   item_stats, student_rows)
from .figures import Figure

GENERATOR = "autograder.dashboard"  # in a <meta name="generator">: tests find built dashboards by it

STYLE = """
:root { --ink: #1d1d1f; --muted: #555; --line: #d0d0d5; --bg-alt: #f5f6f8; --accent: #2f6db5; --warn: #a04a00;
        --bad: #b3261e; --good: #2e7d32; }
* { box-sizing: border-box; }
body { font: 16px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); margin: 0; }
header, main, footer { max-width: 80rem; margin: 0 auto; padding: 0 1rem; }
header { padding-top: 1rem; }
h1 { font-size: 1.6rem; margin: .5rem 0 .2rem; }
h2 { font-size: 1.3rem; margin: 2rem 0 .6rem; border-bottom: 2px solid var(--line); padding-bottom: .2rem; }
h3 { font-size: 1.05rem; margin: 1.2rem 0 .4rem; }
.meta { color: var(--muted); margin: 0 0 .6rem; }
.private { background: #fff4e5; border-left: 4px solid var(--warn); padding: .4rem .8rem; }
nav ul { list-style: none; padding: 0; margin: .6rem 0; display: flex; flex-wrap: wrap; gap: .4rem 1rem; }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, .scroll:focus-visible {
  outline: 3px solid #f2b705; outline-offset: 2px; }
.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 26rem), 1fr)); gap: 1rem; }
figure { margin: 0; }
figure img { width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; background: #fff; }
figcaption { font-size: .9rem; color: var(--muted); }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; width: 100%; font-size: .95rem; }
p.caption { margin: .6rem 0 .3rem; }
th, td { border-bottom: 1px solid var(--line); padding: .35rem .5rem; text-align: left; vertical-align: top;
  white-space: nowrap; }
td.reason, td.wrap { white-space: normal; min-width: 16rem; }
td.wrap { min-width: 20rem; max-width: 36rem; }
thead th { background: var(--bg-alt); white-space: normal; }
#students-table thead th { overflow-wrap: anywhere; min-width: 4.5rem; }
#students-table th[scope="row"], #students-table thead th:first-child { position: sticky; left: 0; z-index: 1;
  background: #fff; box-shadow: 1px 0 0 var(--line); }
#students-table thead th:first-child { background: var(--bg-alt); }
figure.single { max-width: 40rem; margin-bottom: .6rem; }
tbody tr:nth-child(even) { background: #fafafa; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
th button { font: inherit; font-weight: 600; background: none; border: 0; padding: 0; color: inherit; cursor: pointer;
  text-align: inherit; }
th button .arrow::after { content: " \\2195"; color: var(--muted); font-weight: 400; }
th[aria-sort="ascending"] button .arrow::after { content: " \\2191"; color: var(--ink); }
th[aria-sort="descending"] button .arrow::after { content: " \\2193"; color: var(--ink); }
.controls { display: flex; flex-wrap: wrap; gap: .5rem 1.2rem; align-items: end; margin: .5rem 0; }
.controls label { display: block; font-weight: 600; font-size: .9rem; }
.controls input, .controls select { font: inherit; padding: .3rem .5rem; border: 1px solid #888; border-radius: 4px; }
.controls input { width: min(18rem, 80vw); }
.status-graded { color: var(--good); } .status-needs_review { color: var(--bad); font-weight: 600; }
.flag { display: inline-block; background: #fde7e4; color: var(--bad); border-radius: 3px; padding: 0 .3rem;
  margin: 0 .2rem .2rem 0; font-size: .85rem; }
.late { color: var(--warn); font-weight: 600; }
.kind-targeted { color: var(--good); font-weight: 600; }
.counts { display: flex; flex-wrap: wrap; gap: .5rem; padding: 0; list-style: none; }
.counts li { background: var(--bg-alt); border-radius: 4px; padding: .3rem .7rem; }
.counts strong { font-size: 1.2rem; }
details summary { cursor: pointer; }
.reason { font-size: .9rem; }
footer { color: var(--muted); font-size: .85rem; margin-top: 2rem; padding-bottom: 2rem; }
@media (max-width: 40rem) {
  body { font-size: 15px; }
  th, td { padding: .3rem .35rem; }
  h1 { font-size: 1.3rem; }
}
"""

SCRIPT = """
(function () {
  "use strict";
  function cellKey(row, index, numeric) {
    var cell = row.cells[index];
    var raw = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim();
    if (!numeric) { return raw.toLowerCase(); }
    var value = parseFloat(raw);
    return isNaN(value) ? -Infinity : value;
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var body = table.tBodies[0];
    var announce = document.getElementById(table.getAttribute("data-announce"));
    table.querySelectorAll("thead th button").forEach(function (button) {
      button.addEventListener("click", function () {
        var th = button.closest("th");
        var index = th.cellIndex;
        var numeric = th.getAttribute("data-type") === "number";
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        table.querySelectorAll("thead th").forEach(function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = cellKey(a, index, numeric), y = cellKey(b, index, numeric);
          var order = x < y ? -1 : x > y ? 1 : 0;
          if (order === 0) { order = cellKey(a, 0, false) < cellKey(b, 0, false) ? -1 : 1; }
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
        if (announce) {
          announce.textContent = "Sorted by " + button.textContent.trim() + ", " +
            (ascending ? "ascending" : "descending") + ".";
        }
      });
    });
  });
  var table = document.getElementById("students-table");
  var text = document.getElementById("student-filter");
  var status = document.getElementById("status-filter");
  var count = document.getElementById("students-count");
  if (table && text && status && count) {
    var apply = function () {
      var query = text.value.trim().toLowerCase();
      var wanted = status.value;
      var rows = table.tBodies[0].rows, shown = 0;
      for (var i = 0; i < rows.length; i++) {
        var row = rows[i];
        var match = (!query || row.textContent.toLowerCase().indexOf(query) !== -1) &&
                    (wanted === "all" || (" " + row.getAttribute("data-tags") + " ").indexOf(" " + wanted + " ") !== -1);
        row.hidden = !match;
        if (match) { shown++; }
      }
      count.textContent = shown + " of " + rows.length + " students shown.";
    };
    text.addEventListener("input", apply);
    status.addEventListener("change", apply);
    apply();
  }
})();
"""

def e(value) -> str:
    return html.escape(str(value), quote=True)


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else f"{seconds} s"


def percent(fraction: float | None) -> str:
    return "-" if fraction is None else f"{100 * fraction:.0f}%"


def score_text(score: float | None, possible: float) -> str:
    return "not graded" if score is None else f"{score:g}/{possible:g}"


def feedback_links(submission: Submission, feedback_prefix: str, label_score: bool = True) -> str:
    """The submission's score linked to its feedback page(s) (one link per notebook)."""
    text = score_text(submission.score, submission.max_score)
    if not submission.feedback:
        return e(text)
    hrefs = [feedback_prefix + "/".join(quote(part) for part in path.split("/")) for path in submission.feedback]
    if len(hrefs) == 1:
        title = f"feedback of {submission.student} for {submission.assignment}"
        return f'<a href="{e(hrefs[0])}" title="{e(title)}">{e(text) if label_score else "feedback"}</a>'
    names = [path.rsplit("/", 1)[-1].removesuffix(".html") for path in submission.feedback]
    links = ", ".join(f'<a href="{e(h)}">{e(n)}</a>' for h, n in zip(hrefs, names))
    return (e(text) + " " if label_score else "") + f"(feedback: {links})"


def _table(headers: list[tuple[str, str]], rows: list[str], caption: str, *, table_id: str = "", sortable: bool = False,
           announce: str = "") -> str:
    """A table in a scrollable, focusable region; ``headers``: (label, "number" | "text")."""
    head = []
    for label, kind in headers:
        cls = ' class="num"' if kind == "number" else ""
        inner = (f'<button type="button">{e(label)}<span class="arrow" aria-hidden="true"></span></button>'
                 if sortable else e(label))
        head.append(f'<th scope="col" data-type="{kind}"{cls}>{inner}</th>')
    attrs = f' id="{table_id}"' if table_id else ""
    attrs += ' class="sortable"' if sortable else ""
    attrs += f' data-announce="{announce}"' if announce else ""
    label = "caption-" + hashlib.sha256(caption.encode()).hexdigest()[:10]
    return (f'<p class="meta caption" id="{label}">{e(caption)}</p>'
            f'<div class="scroll" role="region" tabindex="0" aria-labelledby="{label}">'
            f"<table{attrs} aria-labelledby=\"{label}\"><thead><tr>{''.join(head)}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def _figure(figure: Figure, css_class: str = "") -> str:
    cls = f' class="{css_class}"' if css_class else ""
    return (f'<figure id="figure-{e(figure.key)}"{cls}><img src="{figure.data_uri}" alt="{e(figure.title)}" '
            f'data-figure="{e(figure.key)}"><figcaption>{e(figure.alt)}</figcaption></figure>')


# -- sections ----------------------------------------------------------------------------------------

def _assignments_section(data: ClassData) -> str:
    rows = []
    for s in assignment_summaries(data):
        rows.append(
            f"<tr><th scope=\"row\">{e(s.name)}</th><td>{e(when(s.duedate)) if s.duedate else 'no due date'}</td>"
            f'<td class="num">{s.max_score:g}</td><td class="num">{s.submitted}</td><td class="num">{s.graded}</td>'
            f'<td class="num">{"-" if s.mean is None else f"{s.mean:.1f}"}</td>'
            f'<td class="num">{"-" if s.median is None else f"{s.median:g}"}</td>'
            f'<td class="num">{s.needs_review}</td><td class="num">{s.flagged}</td><td class="num">{s.late}</td></tr>')
    headers = [("Assignment", "text"), ("Due", "text"), ("Points", "number"), ("Submitted", "number"),
               ("Graded", "number"), ("Mean", "number"), ("Median", "number"), ("Need review", "number"),
               ("Flagged", "number"), ("Late", "number")]
    return ('<section id="assignments" aria-labelledby="assignments-h"><h2 id="assignments-h">Assignments</h2>'
            + _table(headers, rows, "Each assignment: submissions, scores and what needs attention") + "</section>")


def _scores_section(overall: Figure, per_assignment: list[Figure]) -> str:
    figures = "".join(_figure(f) for f in [overall, *per_assignment])
    return ('<section id="scores" aria-labelledby="scores-h"><h2 id="scores-h">Score distributions</h2>'
            f'<div class="figures">{figures}</div></section>')


def _tests_section(data: ClassData, difficulty: list[Figure]) -> str:
    items = item_stats(data)
    checks = check_stats(data)
    parts = ['<section id="tests" aria-labelledby="tests-h"><h2 id="tests-h">Tests: pass rate (item difficulty)</h2>',
             '<p class="meta">Share of graded submissions that earned each cell\'s points; under it, each check '
             "of the cell (a cell earns its points only if all its checks pass).</p>"]
    by_assignment = {f.key.removeprefix("items-"): f for f in difficulty}
    for info in data.assignments:
        mine = [i for i in items if i.assignment == info.name]
        rows = []
        for item in mine:
            own = [c for c in checks if c.assignment == info.name and c.grade_id == item.grade_id]
            detail = "; ".join(f"{c.name.partition('.')[2] or c.name} {percent(c.pass_rate)}" for c in own)
            key = "" if item.pass_rate is None else f"{item.pass_rate:.6f}"
            rows.append(
                f'<tr><th scope="row">{e(item.grade_id)}</th><td>{e(item.notebook)}</td>'
                f'<td class="num">{item.points:g}</td><td class="num" data-sort="{key}">{percent(item.pass_rate)}</td>'
                f'<td class="num">{item.mean:.2f}</td><td class="reason">{e(detail) or "-"}</td></tr>')
        headers = [("Test cell", "text"), ("Notebook", "text"), ("Points", "number"), ("Pass rate", "number"),
                   ("Mean points", "number"), ("Checks: pass rate", "text")]
        parts.append(f'<h3 id="tests-{e(info.name)}">{e(info.name)}</h3>')
        if info.name in by_assignment:
            parts.append(_figure(by_assignment[info.name], "single"))
        parts.append(_table(headers, rows, f"Pass rate of each graded cell of {info.name}"))
    parts.append("</section>")
    return "".join(parts)


def _hints_section(data: ClassData) -> str:
    hints = hint_stats(data)
    parts = ['<section id="hints" aria-labelledby="hints-h"><h2 id="hints-h">Hints that fired</h2>',
             '<p class="meta">Each hint the feedback showed, and to how many students. A <em>targeted</em> hint '
             "means the grader recognised a known mistake: the misconception to reteach. A <em>general</em> hint "
             "is the check's catch-all advice.</p>"]
    if not hints:
        parts.append("<p>No hint was shown: every failed check had none, or nothing failed.</p></section>")
        return "".join(parts)
    rows = []
    for h in hints:
        students = ", ".join(h.students)
        checks = ", ".join(c.partition(".")[2] or c for c in h.checks)
        rows.append(
            f'<tr><td class="num">{h.count}</td><td>{e(h.assignment)}</td><td class="kind-{e(h.kind)}">{e(h.kind)}</td>'
            f'<td class="wrap">{e(h.hint)}</td><td class="reason">{e(checks)}</td>'
            f"<td class=\"reason\"><details><summary>{h.count} student{'s' if h.count != 1 else ''}</summary>"
            f"{e(students)}</details></td></tr>")
    headers = [("Students", "number"), ("Assignment", "text"), ("Kind", "text"), ("Hint", "text"),
               ("Checks", "text"), ("Who", "text")]
    parts.append(_table(headers, rows, "Hints shown in the feedback, most frequent first"))
    parts.append("</section>")
    return "".join(parts)


def _students_section(data: ClassData, feedback_prefix: str) -> str:
    rows_data = student_rows(data)
    has_names = any(r.student.name for r in rows_data)
    headers = [("Student", "text")] + ([("Name", "text")] if has_names else [])
    headers += [(a.name, "number") for a in data.assignments]
    headers += [("Total", "number"), ("Status", "text"), ("Flags", "text"), ("Late", "text")]
    rows = []
    for row in rows_data:
        tags = ["needs_review" if row.needs_review else "ok"]
        tags += ["flagged"] if row.flags else []
        tags += ["late"] if row.late else []
        cells = [f'<th scope="row">{e(row.student.id)}</th>']
        if has_names:
            cells.append(f"<td>{e(row.student.name)}</td>")
        for info in data.assignments:
            sub = row.submissions.get(info.name)
            if sub is None:
                cells.append('<td class="num" data-sort="">-</td>')
            else:
                key = "" if sub.fraction is None else f"{sub.fraction:.6f}"
                cells.append(f'<td class="num" data-sort="{key}">{feedback_links(sub, feedback_prefix)}</td>')
        cells.append(f'<td class="num" data-sort="{"" if row.fraction is None else f"{row.fraction:.6f}"}">'
                     f"{row.total:g}/{row.possible:g} ({percent(row.fraction)})</td>")
        status = "needs review" if row.needs_review else "graded" if all(
            s.status in (GRADED, NOT_RECORDED) for s in row.submissions.values()) else "not graded yet"
        status_class = "needs_review" if row.needs_review else "graded"
        cells.append(f'<td class="status-{status_class}">{e(status)}</td>')
        cells.append("<td>" + "".join(f'<span class="flag">{e(f)}</span>' for f in row.flags) + "</td>")
        cells.append(f'<td class="late">{e(", ".join(row.late))}</td>' if row.late else "<td></td>")
        rows.append(f'<tr data-student="{e(row.student.id)}" data-tags="{" ".join(tags)}">{"".join(cells)}</tr>')
    controls = (
        '<div class="controls" role="search" aria-label="Filter the students">'
        '<div><label for="student-filter">Filter students</label>'
        '<input id="student-filter" type="search" autocomplete="off" placeholder="id, name, flag…" '
        'aria-describedby="students-count"></div>'
        '<div><label for="status-filter">Show</label><select id="status-filter">'
        '<option value="all">all students</option><option value="needs_review">needing review</option>'
        '<option value="flagged">with integrity flags</option><option value="late">with late work</option>'
        "</select></div></div>"
        '<p id="students-count" class="meta" role="status" aria-live="polite"></p>'
        '<p id="students-sort" class="meta" role="status" aria-live="polite"></p>'
    )
    return ('<section id="students" aria-labelledby="students-h"><h2 id="students-h">Students</h2>'
            '<p class="meta">Each score links to that student\'s feedback. Sort with the column buttons; the total '
            "counts a missing submission as zero.</p>" + controls
            + _table(headers, rows, "Students: score per assignment, total, status", table_id="students-table",
                     sortable=True, announce="students-sort") + "</section>")


def _review_section(data: ClassData, feedback_prefix: str) -> str:
    pending = [s for s in data.submissions if s.needs_review]
    parts = ['<section id="review" aria-labelledby="review-h"><h2 id="review-h">Submissions that need review</h2>']
    if not pending:
        parts.append("<p>None: every submission was graded without a reason to look at it.</p></section>")
        return "".join(parts)
    rows = []
    for s in sorted(pending, key=lambda s: (s.assignment, s.student)):
        reasons = [str(r) for r in s.reasons]
        manual = [c.grade_id for c in s.cells if c.needs_manual_grade]
        if manual:
            reasons.append("awaiting a manual grade: " + ", ".join(manual))
        items = "".join(f"<li>{e(r)}</li>" for r in reasons)
        rows.append(
            f'<tr><th scope="row">{e(s.student)}</th><td>{e(s.assignment)}</td>'
            f'<td class="num" data-sort="{"" if s.fraction is None else f"{s.fraction:.6f}"}">'
            f"{feedback_links(s, feedback_prefix)}</td><td>{e(', '.join(s.kinds) or 'manual grading')}</td>"
            f'<td class="reason"><ul>{items}</ul></td></tr>')
    headers = [("Student", "text"), ("Assignment", "text"), ("Score", "number"), ("Kind", "text"), ("Reasons", "text")]
    parts.append(f'<p>{len(pending)} submission{"s" if len(pending) != 1 else ""} to look at.</p>')
    parts.append(_table(headers, rows, "Submissions that need review, with the grader's reasons"))
    parts.append("</section>")
    return "".join(parts)


def _integrity_section(data: ClassData) -> str:
    counts = {kind: sum(1 for s in data.submissions if kind in s.flags) for kind in INTEGRITY_KINDS}
    parts = ['<section id="integrity" aria-labelledby="integrity-h"><h2 id="integrity-h">Integrity flags</h2>',
             '<ul class="counts">']
    parts += [f"<li><strong>{n}</strong> {e(kind)}</li>" for kind, n in counts.items()]
    parts.append("</ul>")
    flagged = [s for s in data.submissions if s.flags]
    if flagged:
        rows = [f'<tr><th scope="row">{e(s.student)}</th><td>{e(s.assignment)}</td><td>'
                + "".join(f'<span class="flag">{e(f)}</span>' for f in s.flags)
                + "</td><td class=\"reason\">" + e("; ".join(str(r) for r in s.reasons if r.kind.flag)) + "</td></tr>"
                for s in sorted(flagged, key=lambda s: (s.assignment, s.student))]
        headers = [("Student", "text"), ("Assignment", "text"), ("Flags", "text"), ("Details", "text")]
        parts.append(_table(headers, rows, "Submissions with integrity flags"))
    else:
        parts.append("<p>No submission was flagged.</p>")
    parts.append("</section>")
    return "".join(parts)


def _lateness_section(data: ClassData) -> str:
    parts = ['<section id="lateness" aria-labelledby="lateness-h"><h2 id="lateness-h">Lateness</h2>',
             '<p class="meta">From the receipt time the grader recorded when it collected each submission (its own '
             "clock, not a file the student can edit), against the due date plus any extension.</p>"]
    dated = [a.name for a in data.assignments if a.duedate is not None]
    undated = [a.name for a in data.assignments if a.duedate is None]
    if undated:
        parts.append(f"<p>No due date in the gradebook for: {e(', '.join(undated))}.</p>")
    late = [s for s in data.submissions if s.late]
    if dated:
        on_time = sum(1 for s in data.submissions if s.assignment in dated and s.late_by is not None and not s.late)
        parts.append(f'<ul class="counts"><li><strong>{len(late)}</strong> late</li>'
                     f"<li><strong>{on_time}</strong> on time</li></ul>")
    if late:
        rows = [f'<tr><th scope="row">{e(s.student)}</th><td>{e(s.assignment)}</td><td>{e(when(s.received_at))}</td>'
                f'<td>{e(when(s.due))}</td><td class="num late" data-sort="{s.late_by.total_seconds():.0f}">'
                f"{e(duration(s.late_by))}</td></tr>"
                for s in sorted(late, key=lambda s: (-s.late_by, s.assignment, s.student))]
        headers = [("Student", "text"), ("Assignment", "text"), ("Received", "text"), ("Due", "text"),
                   ("Late by", "number")]
        parts.append(_table(headers, rows, "Late submissions, latest first"))
    elif dated:
        parts.append("<p>No submission arrived after its due date.</p>")
    parts.append("</section>")
    return "".join(parts)


# -- the page ----------------------------------------------------------------------------------------

def render(data: ClassData, overall: Figure, per_assignment: list[Figure], difficulty: list[Figure],
           feedback_prefix: str, built_at: datetime) -> str:
    """The whole page. ``feedback_prefix``: the relative URL from the page to the course folder (ends in /)."""
    title = f"Class dashboard: {data.course_id or 'course'}"
    nav = "".join(f'<li><a href="#{key}">{label}</a></li>' for key, label in (
        ("assignments", "Assignments"), ("scores", "Scores"), ("tests", "Tests"), ("hints", "Hints"),
        ("students", "Students"), ("review", "Needs review"), ("integrity", "Integrity"), ("lateness", "Lateness")))
    body = "".join([
        _assignments_section(data), _scores_section(overall, per_assignment), _tests_section(data, difficulty),
        _hints_section(data), _students_section(data, feedback_prefix), _review_section(data, feedback_prefix),
        _integrity_section(data), _lateness_section(data),
    ])
    notes = "".join(f"<li>{e(n)}</li>" for n in data.notes)
    csp = (f"default-src 'none'; img-src data:; style-src {_csp_hash(STYLE)}; script-src {_csp_hash(SCRIPT)}; "
           "base-uri 'none'; form-action 'none'")
    counts = (f"{len(data.students)} students, {len(data.assignments)} assignments, "
              f"{len(data.submissions)} submissions")
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta http-equiv="Content-Security-Policy" content="{e(csp)}">',
        '<meta name="robots" content="noindex, nofollow">',
        f'<meta name="generator" content="{GENERATOR}">',
        f"<title>{e(title)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f'<header><h1>{e(title)}</h1><p class="meta">Built {e(when(built_at))} from the gradebook '
        f"({e(data.backend or 'database')}): {counts}.</p>"
        '<p class="private">For instructors only: it names students and shows their grades. Keep it in the course '
        "folder; never publish it with the book or release it with feedback.</p>"
        f'<nav aria-label="Sections"><ul>{nav}</ul></nav></header>',
        f"<main>{body}</main>",
        f"<footer>{'<ul>' + notes + '</ul>' if notes else ''}<p>Generated by the course's autograder "
        "(autograder/dashboard) from the gradebook alone; rebuild with <code>python -m autograder.dashboard --course "
        "&lt;course folder&gt;</code> (<code>make dashboards</code> for the demo class).</p></footer>",
        f"<script>{SCRIPT}</script>",
        "</body></html>",
    ]) + "\n"
