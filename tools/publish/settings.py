"""The student repository's settings, read from the book's ``_config.yml``.

``repository.url`` names the student repository's public URL: the book's launch, repository and
issue buttons derive from it (Jupyter Book reads the same key), and so do the student README's
links. ``publish.solutions`` gives each chapter's solution release date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import yaml


class SettingsError(ValueError):
    """``_config.yml`` does not say what publishing needs."""


@dataclass(frozen=True)
class StudentRepository:
    """Where students find the course, and when each chapter's solutions become theirs."""

    url: str  # the public URL, e.g. https://github.com/<org>/<name>
    branch: str = "main"
    title: str = ""
    author: str = ""
    year: str = ""
    jupyterhub_url: str = ""
    binderhub_url: str = ""
    colab_url: str = ""
    solution_dates: dict[str, dt.date] = field(default_factory=dict)  # chapter -> first day solutions are public

    @property
    def org_repo(self) -> str:
        """``<org>/<name>`` of a GitHub-style URL."""
        return urlparse(self.url).path.strip("/").removesuffix(".git")

    @property
    def name(self) -> str:
        """The folder a clone (and nbgitpuller) creates."""
        return self.org_repo.rsplit("/", 1)[-1]

    def solutions_due(self, today: dt.date) -> set[str]:
        """Chapters whose solution release date has come."""
        return {chapter for chapter, day in self.solution_dates.items() if day <= today}


def _date(chapter: str, value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise SettingsError(f"publish.solutions.{chapter}: {value!r} is not a date (YYYY-MM-DD)") from None


def load_settings(root: Path) -> StudentRepository:
    config_path = Path(root) / "_config.yml"
    config = yaml.safe_load(config_path.read_text()) or {}
    repository = config.get("repository") or {}
    url = str(repository.get("url") or "").rstrip("/")
    parsed = urlparse(url)
    if parsed.scheme not in ("https", "http") or len(parsed.path.strip("/").split("/")) != 2:
        raise SettingsError(f"{config_path.name}: repository.url must be the student repository's URL, "
                            f"https://<host>/<org>/<name>; got {url!r}")
    launch = config.get("launch_buttons") or {}
    dates = (config.get("publish") or {}).get("solutions") or {}
    if not isinstance(dates, dict):
        raise SettingsError(f"{config_path.name}: publish.solutions maps a chapter to a date")
    return StudentRepository(
        url=url,
        branch=str(repository.get("branch") or "main"),
        title=str(config.get("title") or ""),
        author=str(config.get("author") or ""),
        year=str(config.get("copyright") or dt.date.today().year),
        jupyterhub_url=str(launch.get("jupyterhub_url") or "").rstrip("/"),
        binderhub_url=str(launch.get("binderhub_url") or "").rstrip("/"),
        colab_url=str(launch.get("colab_url") or "").rstrip("/"),
        solution_dates={str(chapter): _date(chapter, day) for chapter, day in dates.items()},
    )
