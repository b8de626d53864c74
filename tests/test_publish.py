"""The student repository (``make publish``, tools/publish): only what students need, no leak in any
commit of its history, installable and runnable from a bare clone, updates that merge into students'
work, and a book that names it and never the instructor repository."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from bs4 import BeautifulSoup

from autograder.sandbox.packages import AUTOGRADER_PARTS
from nbtools import RELEASE, ROOT, SOURCE, assignments, nbgrader_meta, read
from test_book_site import chapter_html, released_notebooks
from tools.leaks import MARKERS
from tools.publish import PublishError, load_settings, publish
from tools.publish.content import StudentFile
from tools.publish.links import launch_links
from tools.publish.repository import git as run_git, leaks, student_secret_lines

pytestmark = pytest.mark.slow

# What publish reads from the instructor's checkout: a copy of these is a course to change freely.
COURSE_PARTS = ("_config.yml", "pyproject.toml", "requirements", "release", "source", "slopegrad", "courseplots", "autograder")
STUDENT_TOP = {".gitignore", "LICENSE", "README.md", "pyproject.toml", "requirements.txt", "binder", "release",
               "solutions", "slopegrad", "courseplots", "autograder"}
FIRST = "ch1_gradient_descent"


def git(repo: Path, *args: str) -> str:
    return run_git(repo, *args).stdout


def scratch_course(folder: Path) -> Path:
    """A copy of the parts of this checkout that publishing reads, without the golden files."""
    folder.mkdir(parents=True)
    for part in COURSE_PARTS:
        origin = ROOT / part
        if origin.is_dir():
            shutil.copytree(origin, folder / part, ignore=shutil.ignore_patterns("__pycache__", "golden", "demo"))
        else:
            shutil.copy2(origin, folder / part)
    return folder


def commit_files(repo: Path, commit: str) -> dict[str, StudentFile]:
    """Every file of ``commit``, read from git's objects (not from a work tree)."""
    names = [n for n in git(repo, "ls-tree", "-r", "-z", "--name-only", commit).split("\0") if n]
    batch = subprocess.run(["git", "-C", str(repo), "cat-file", "--batch"], input="".join(f"{commit}:{n}\n" for n in names).encode(),
                           capture_output=True, check=True).stdout
    files, offset = {}, 0
    for name in names:
        header_end = batch.index(b"\n", offset)
        size = int(batch[offset:header_end].split()[2])
        files[name] = StudentFile(batch[header_end + 1 : header_end + 1 + size])
        offset = header_end + 1 + size + 1
    return files


def history_leaks(repo: Path) -> list[str]:
    """Leaks (:func:`tools.publish.repository.leaks`) in every file of every commit of ``repo``."""
    hits = []
    for commit in git(repo, "rev-list", "--all").split():
        files = commit_files(repo, commit)
        solutions = {name.split("/")[1] for name in files if name.startswith("solutions/")}
        hits += [f"{commit[:12]} {hit}" for hit in leaks(files, student_secret_lines(ROOT, files, solutions))]
    return hits


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A student repository published twice from this checkout: the course, then ch1's solutions."""
    dest = tmp_path_factory.mktemp("student") / "student-repo"
    first = publish(dest, ROOT)
    second = publish(dest, ROOT, [FIRST])
    return dest, first, second


# --- (a) what it holds, and no leak anywhere in its history ---------------------------------------------


def test_the_student_repository_holds_only_what_students_need(published):
    dest, first, second = published
    assert first.created and second.previous == first.commit and second.solutions == (FIRST,)
    files = set(git(dest, "ls-files").split())
    assert {name.split("/")[0] for name in files} == STUDENT_TOP
    autograder = {name.removeprefix("autograder/").split("/")[0] for name in files if name.startswith("autograder/")}
    assert autograder == set(AUTOGRADER_PARTS), "only the check API and the problems of the grading system"
    for notebook in RELEASE.glob("*/*.ipynb"):
        assert (dest / notebook.relative_to(ROOT)).read_bytes() == notebook.read_bytes()
    assert sorted(n for n in files if n.startswith("solutions/")) == [f"solutions/{FIRST}/gradient_descent.ipynb"]
    pins = [line for line in (ROOT / "requirements" / "student.txt").read_text().splitlines() if line and not line.startswith("#")]
    published_pins = [line for line in (dest / "binder" / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert published_pins == pins, "Binder and students install exactly the grader's versions"
    assert "-r binder/requirements.txt" in (dest / "requirements.txt").read_text()
    assert os.access(dest / "binder" / "postBuild", os.X_OK)
    readme = (dest / "README.md").read_text()
    url = load_settings(ROOT).url
    assert f"git clone {url}" in readme and f"git+{url}" in readme
    for notebook in RELEASE.glob("*/*.ipynb"):
        assert str(notebook.relative_to(ROOT)) in readme
    for section in ("JupyterHub", "Binder", "Colab", "On your own computer", "visible tests", "Submit"):
        assert section in readme, section
    assert "MIT License" in (dest / "LICENSE").read_text()
    assert "$" not in readme.replace("$\\", ""), "a template placeholder was left unfilled"


def test_no_commit_of_the_history_leaks(published):
    dest, _, _ = published
    commits = git(dest, "rev-list", "--all").split()
    assert len(commits) == 2
    for commit in commits:
        names = commit_files(dest, commit)
        assert not [n for n in names if n.startswith(("source/", "autograder/golden/"))]
        assert not [n for n, f in names.items() if any(m.encode() in f.data for m in MARKERS)]
    secrets = student_secret_lines(ROOT, commit_files(dest, commits[0]), set())
    assert len(secrets) > 20, "the secret regions were not found: is the parser broken?"
    assert history_leaks(dest) == []


def test_a_leak_planted_in_an_old_commit_is_found(published, tmp_path):
    dest, _, _ = published
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(dest), str(clone)], check=True)
    files = commit_files(dest, "HEAD")
    # A line with quotes: in the notebook's JSON it is escaped, and must be found all the same.
    hidden = [line for line in sorted(student_secret_lines(ROOT, files, {FIRST})) if '"' in line]
    notebook = clone / "release" / "ch2_momentum" / "momentum.ipynb"
    original = notebook.read_text()
    notebook.write_text(original.replace('"source": [', f'"source": [{json.dumps(hidden[0] + chr(10))},', 1))
    (clone / "autograder" / "golden").mkdir()
    (clone / "autograder" / "golden" / "ch2_momentum.json").write_text("{}")
    git(clone, "add", "--all")
    git(clone, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "planted")
    notebook.write_text(original)
    shutil.rmtree(clone / "autograder" / "golden")
    git(clone, "add", "--all")
    git(clone, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "removed again")
    assert not leaks({n: f for n, f in commit_files(clone, "HEAD").items()}, student_secret_lines(ROOT, files, {FIRST}))
    found = history_leaks(clone)
    assert any(f"release/ch2_momentum/momentum.ipynb: {hidden[0]}" in hit for hit in found), found
    assert any("autograder/golden/ch2_momentum.json: instructor-only path" in hit for hit in found), found


def test_hidden_tests_stay_secret_when_solutions_are_published():
    """Publishing ch1's solutions makes its solution lines public, never its hidden-test lines."""
    from tools.leaks import HIDDEN_TESTS, notebook_texts, split_regions

    hidden = set()
    for text in notebook_texts(sorted((SOURCE / FIRST).glob("*.ipynb"))):
        inside, _ = split_regions(text, (HIDDEN_TESTS,))
        hidden |= set(inside)
    secrets = student_secret_lines(ROOT, {}, {FIRST})
    assert hidden & secrets, "ch1's hidden-test lines must stay secret"
    assert student_secret_lines(ROOT, {}, set()) > secrets


def test_publish_commits_nothing_when_it_would_leak(tmp_path):
    course = scratch_course(tmp_path / "course")
    dest = tmp_path / "student-repo"
    head = publish(dest, course).commit
    notebook = course / "release" / "ch2_momentum" / "momentum.ipynb"
    secret = sorted(student_secret_lines(course, {}, set()))[-1]
    notebook.write_text(notebook.read_text().replace('"source": [', f'"source": [{json.dumps(secret)},', 1))
    with pytest.raises(PublishError, match="nothing published"):
        publish(dest, course)
    assert git(dest, "rev-parse", "HEAD").strip() == head
    assert git(dest, "status", "--porcelain") == "", "a refused publish leaves the repository as it was"
    with pytest.raises(PublishError, match="nothing published"):
        publish(tmp_path / "new-repo", course)
    assert not (tmp_path / "new-repo").exists()


def test_publish_refuses_a_folder_with_changes_of_its_own(tmp_path):
    dest = tmp_path / "student-repo"
    course = scratch_course(tmp_path / "course")
    publish(dest, course)
    (dest / "notes.txt").write_text("mine")
    with pytest.raises(PublishError, match="changes"):
        publish(dest, course)
    assert (dest / "notes.txt").read_text() == "mine"
    with pytest.raises(PublishError, match="no released chapter"):
        publish(tmp_path / "other", course, ["ch9_nothing"])
    assert not (tmp_path / "other").exists()


def test_solution_release_dates_in_the_settings(tmp_path):
    import datetime as dt

    course = scratch_course(tmp_path / "course")
    config = course / "_config.yml"
    config.write_text(config.read_text().replace("  solutions: {}", f"  solutions:\n    {FIRST}: 2027-02-15"))
    dest = tmp_path / "student-repo"
    assert publish(dest, course, today=dt.date(2027, 2, 14)).solutions == ()
    after = publish(dest, course, today=dt.date(2027, 2, 15))
    assert after.solutions == (FIRST,) and after.changed == (f"solutions/{FIRST}/gradient_descent.ipynb",)
    config.write_text(config.read_text().replace(f"    {FIRST}: 2027-02-15", ""))
    again = publish(dest, course, today=dt.date(2027, 2, 16))
    assert again.solutions == (FIRST,) and again.changed == (), "published solutions stay published"
    config.write_text(config.read_text().replace("  solutions:", "  solutions:\n    ch1_gradient_decent: 2027-01-01"))
    with pytest.raises(PublishError, match="ch1_gradient_decent"):  # a misspelt chapter is an error, not a no-op
        publish(dest, course, today=dt.date(2027, 2, 16))


def test_solution_notebooks_are_the_release_with_the_solution_code():
    from tools.publish.solutions import solution_notebook

    for assignment in assignments():
        for released_path in (RELEASE / assignment).glob("*.ipynb"):
            source, released = read(SOURCE / assignment / released_path.name), read(released_path)
            solved = solution_notebook(source, released)
            sources = {nbgrader_meta(c).get("grade_id"): c.source for c in source.cells}
            assert len(solved.cells) == len(released.cells)
            for mine, theirs in zip(solved.cells, released.cells):
                if nbgrader_meta(theirs).get("solution"):
                    assert "NotImplementedError" not in mine.source and mine.source != theirs.source
                    body = re.search(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", sources[nbgrader_meta(theirs)["grade_id"]], re.S)
                    assert body.group(1).strip() in mine.source
                else:
                    assert mine == theirs, "everything but the exercise cells is the released notebook"
                assert not any(marker in mine.source for marker in MARKERS)


# --- (b) a bare clone installs from its own instructions and runs --------------------------------------


def base_python() -> str:
    return shutil.which("python3.11") or getattr(sys, "_base_executable", sys.executable)


def run_notebook(path: Path, python: Path, kernels: Path) -> nbformat.NotebookNode:
    """Execute ``path`` top to bottom on a real kernel of the ``python`` environment, errors kept as outputs."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    spec = kernels / "student"
    if not spec.is_dir():
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "student", "language": "python", "env": {"PYTHONPATH": "", "MPLBACKEND": "Agg"},
        }))
    notebook = nbformat.read(path, as_version=4)
    manager = KernelManager(kernel_name="student", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]))
    NotebookClient(notebook, km=manager, timeout=900, allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return notebook


def errors(notebook) -> dict[int, str]:
    found = {}
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                found[index] = f"{output.ename}: {output.evalue}\n" + "\n".join(output.traceback)
    return found


def printed(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.output_type == "stream")


def test_a_bare_clone_installs_from_its_own_instructions_and_runs(tmp_path):
    dest = tmp_path / "published"
    publish(dest, ROOT, assignments())  # every chapter's solutions, to paste into the exercises
    empty = tmp_path / "empty"
    empty.mkdir()
    clone = empty / "course"
    subprocess.run(["git", "clone", "--quiet", str(dest), str(clone)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("GIT_")}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if not p.startswith(str(ROOT)))
    # The README's commands, as written (jupyterlab aside: the tests drive the kernel themselves).
    readme = (clone / "README.md").read_text()
    install = [line for line in re.search(r"```bash\n(.*?)```", readme, re.S).group(1).splitlines()
               if line.startswith((".venv/bin/pip install -r", "python3.11 -m venv"))]
    assert install == ["python3.11 -m venv .venv", ".venv/bin/pip install -r requirements.txt"]
    subprocess.run([base_python(), "-m", "venv", ".venv"], cwd=clone, env=env, check=True)
    subprocess.run([".venv/bin/pip", "install", "-q", "--disable-pip-version-check", "-r", "requirements.txt"],
                   cwd=clone, env=env, check=True)
    python = clone / ".venv" / "bin" / "python"
    where = subprocess.run(
        [str(python), "-c", "import slopegrad, courseplots, autograder.checks, autograder.golden as g; "
         "print(slopegrad.__file__, courseplots.__file__, autograder.checks.__file__, g.golden_dir(), sep='\\n')"],
        cwd=clone / "release", env=env, check=True, capture_output=True, text=True).stdout.split("\n")
    for path in where[:3]:
        assert Path(path).resolve().is_relative_to(clone.resolve()), f"imported from outside the clone: {path}"
    assert where[3] == "None", "there are no golden files in the student repository"
    assert subprocess.run([str(python), "-c", "import torch"], cwd=clone, env=env, capture_output=True).returncode != 0

    kernels = tmp_path / "kernels"
    for released in sorted((clone / "release").glob("*/*.ipynb")):
        run = run_notebook(released, python, kernels)
        failures = errors(run)
        exercises = [i for i, c in enumerate(run.cells) if nbgrader_meta(c).get("solution")]
        assert exercises and failures, f"{released.name}: the stubs should raise"
        for index, text in failures.items():
            assert "NotImplementedError" in text, f"{released.name} cell {index} failed with something other than a stub:\n{text[-2000:]}"

        solved = run_notebook(clone / "solutions" / released.parent.name / released.name, python, kernels)
        assert errors(solved) == {}, f"{released.name} with the solutions pasted in:\n{errors(solved)}"
        visible = [c for c in solved.cells if c.cell_type == "code" and nbgrader_meta(c).get("grade") and "expected=" in c.source]
        assert visible, f"{released.name} has no visible test"
        for cell in visible:
            assert "passed: " in printed(cell), f"a visible test compared nothing: {cell.source[:200]!r}"


# --- (c) a second publish fast-forwards, and nbgitpuller merges it into a student's work ----------------


def test_republishing_fast_forwards_and_nbgitpuller_keeps_the_students_edits(tmp_path):
    from nbgitpuller.pull import GitPuller

    course = scratch_course(tmp_path / "course")
    upstream = tmp_path / "student-repo"
    first = publish(upstream, course)
    student = tmp_path / "home" / "optimizers-course-student"

    def pull() -> None:
        for _ in GitPuller(f"file://{upstream}", str(student), branch="main").pull():
            pass

    pull()
    mine = student / "release" / FIRST / "gradient_descent.ipynb"
    work = read(mine)
    exercise = next(c for c in work.cells if nbgrader_meta(c).get("solution"))
    exercise.source = exercise.source.replace("raise NotImplementedError()", "parameter.data -= learning_rate * parameter.grad  # my work")
    nbformat.write(work, mine)

    changed = course / "release" / "ch2_momentum" / "momentum.ipynb"
    chapter = read(changed)
    intro = next(c for c in chapter.cells if c.cell_type == "markdown")
    intro.source += "\n\nAn erratum, published after the first release."
    nbformat.write(chapter, changed)
    second = publish(upstream, course)
    assert second.previous == first.commit and second.changed == ("release/ch2_momentum/momentum.ipynb",)
    assert git(upstream, "rev-list", "--parents", "-n", "1", second.commit).split() == [second.commit, first.commit]
    assert publish(upstream, course).changed == (), "nothing changed: no commit"

    pull()
    assert "# my work" in mine.read_text(), "the student's edit was lost"
    assert "An erratum, published after the first release." in (student / "release" / "ch2_momentum" / "momentum.ipynb").read_text()
    assert git(student, "merge-base", "--is-ancestor", second.commit, "HEAD") == ""


# --- (d) the book names the student repository, never the instructor's ---------------------------------


def test_the_book_names_the_student_repository_and_no_other(site):
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"].rstrip("/")
    repo = load_settings(ROOT)
    assert repo.url == url
    host = re.escape(url.split("://", 1)[1].split("/", 1)[0])
    instructor = subprocess.run(["git", "-C", str(ROOT), "remote", "get-url", "origin"], capture_output=True, text=True).stdout.strip()
    pages = sorted(site.rglob("*.html"))
    for page in pages:
        text = html.unescape(page.read_text())
        for link in re.findall(rf"https?://{host}/[^\s\"'<>)]+", text):
            assert link == url or link.startswith(url + "/"), f"{page.relative_to(site)} links {link}"
        assert "<repository URL>" not in text
        if "://" in instructor and instructor.rstrip("/").removesuffix(".git") != url:
            assert instructor.removesuffix(".git") not in text, f"{page.relative_to(site)} names the instructor repository"
    intro = BeautifulSoup((site / "book" / "intro.html").read_text(), "html.parser")
    commands = "\n".join(pre.get_text() for pre in intro.select("pre"))
    assert f"git clone {url} {repo.name}" in commands and f'"git+{url}"' in commands


def test_the_books_launch_links_are_the_student_readmes(site, published):
    dest, _, _ = published
    readme = (dest / "README.md").read_text()
    repo = load_settings(ROOT)
    for notebook in released_notebooks():
        path = str(notebook.relative_to(ROOT))
        page = BeautifulSoup(chapter_html(site, notebook).read_text(), "html.parser")
        buttons = {a.get_text(strip=True): a["href"] for a in page.select("a[href]")}
        links = launch_links(repo, path)
        for label, link in (("JupyterHub", links.jupyterhub), ("Binder", links.binder), ("Colab", links.colab)):
            assert buttons[label] == link, f"{label} of {path}"
            assert f"[{label}]({link})" in readme, f"the README's {label} link for {path}"
