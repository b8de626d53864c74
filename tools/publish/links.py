"""Links that open a notebook of the student repository, in the forms the book's launch buttons use.

The book's buttons are made by sphinx-book-theme from ``repository.url``; the student README
links each chapter the same way, so a student gets the same place from either.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from .settings import StudentRepository

INTERFACE = "lab/tree"  # launch_buttons.notebook_interface: jupyterlab


@dataclass(frozen=True)
class LaunchLinks:
    jupyterhub: str | None  # nbgitpuller: clones or merges the repository, then opens the notebook
    binder: str | None
    colab: str | None


def launch_links(repo: StudentRepository, path: str) -> LaunchLinks:
    """Links that open ``path`` (relative to the repository's root) on each service that is set."""
    hub = None
    if repo.jupyterhub_url:
        query = urlencode({"repo": repo.url, "urlpath": f"{INTERFACE}/{repo.name}/{path}", "branch": repo.branch}, safe="/")
        hub = f"{repo.jupyterhub_url}/hub/user-redirect/git-pull?{query}"
    binder = f"{repo.binderhub_url}/v2/gh/{repo.org_repo}/{repo.branch}?urlpath={INTERFACE}/{path}" if repo.binderhub_url else None
    colab = f"{repo.colab_url}/github/{repo.org_repo}/blob/{repo.branch}/{path}" if repo.colab_url else None
    return LaunchLinks(hub, binder, colab)


def colab_install_line(repo: StudentRepository) -> str:
    """The first cell a Colab notebook needs: the course packages, from the student repository."""
    return f'%pip install --quiet --no-deps --ignore-requires-python "git+{repo.url}"'


def clone_commands(repo: StudentRepository) -> list[str]:
    """A local copy of the student repository, with the grader's pins, opened in JupyterLab."""
    return [
        f"git clone {repo.url} {repo.name}",
        f"cd {repo.name}",
        "python3.11 -m venv .venv",
        ".venv/bin/pip install -r requirements.txt",
        ".venv/bin/pip install jupyterlab",
        ".venv/bin/jupyter lab release/",
    ]
