"""The settings the hub configuration (``deploy/jupyterhub/jupyterhub_config.py``) reads, as one typed record."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "jupyterhub"
HUB_CONFIG = DEPLOY / "jupyterhub_config.py"
SINGLEUSER_ENV = ROOT / ".venv-hub"


@dataclass(frozen=True)
class HubSettings:
    course_id: str
    instructors: tuple[str, ...]
    students: tuple[str, ...]
    grader: str  # the system account that runs the course's formgrader service
    state_dir: Path  # the hub's database, cookie secret, pid file
    homes_dir: Path  # <homes_dir>/<user> is each user's home on this hub
    exchange_root: Path
    course_dir: Path  # the course's grading folder (the formgrader service's root)
    assignment_dir: str  # relative to a student's home: where the pulled chapters are
    proxy_command: Path
    singleuser_env: Path = SINGLEUSER_ENV
    ip: str = "127.0.0.1"
    port: int = 8000
    hub_port: int = 8081
    proxy_api_port: int = 8001
    service_port: int = 9999
    demo_password: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{self.ip}:{self.port}"

    @property
    def users(self) -> tuple[str, ...]:
        return (*self.instructors, *self.students)

    def write(self, path: Path) -> Path:
        data = {k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=1))
        path.chmod(0o600)
        return path
