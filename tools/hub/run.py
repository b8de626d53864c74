"""Prepare this machine for the course hub and run it: accounts, folders, the exchange, the proxy, the hub.

:func:`prepare` is idempotent; :func:`start` returns a :class:`RunningHub` once the hub answers,
and :meth:`RunningHub.stop` ends it (the hub stops its proxy and every single-user server).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .accounts import ensure_account
from .exchange import prepare_exchange
from .settings import HUB_CONFIG, ROOT, HubSettings


class HubError(RuntimeError):
    pass


def ensure_proxy(npm_dir: Path) -> Path:
    """configurable-http-proxy as pinned in package-lock.json, installed with ``npm ci`` into ``npm_dir``."""
    manifest = (ROOT / "package.json", ROOT / "package-lock.json")
    wanted = hashlib.sha256(b"".join(p.read_bytes() for p in manifest)).hexdigest()
    binary = npm_dir / "node_modules" / ".bin" / "configurable-http-proxy"
    stamp = npm_dir / "installed.sha256"
    npm_dir.mkdir(parents=True, exist_ok=True)
    with open(npm_dir.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two hubs starting at once install it once
        if binary.exists() and stamp.is_file() and stamp.read_text() == wanted:
            return binary
        npm = shutil.which("npm")
        if npm is None:
            raise HubError("npm is needed once to install configurable-http-proxy (package-lock.json)")
        for path in manifest:
            shutil.copy2(path, npm_dir / path.name)
        subprocess.run([npm, "ci", "--prefix", str(npm_dir), "--no-audit", "--no-fund", "--loglevel=error"], check=True)
        stamp.write_text(wanted)
    return binary


def reachable_by_everyone(path: Path) -> bool:
    """Can any user traverse every folder down to ``path``? (The students' accounts must reach the env.)"""
    for folder in [path, *path.parents]:
        if folder.exists() and not folder.stat().st_mode & 0o001:
            return False
    return True


def prepare(settings: HubSettings) -> None:
    """Accounts, the hub's folders and the exchange, with the permissions a shared machine needs."""
    if os.geteuid() != 0:
        raise HubError("the hub starts each user's server as that user's account: run it as root")
    python = settings.singleuser_env / "bin" / "jupyterhub-singleuser"
    if not python.exists():
        raise HubError(f"the students' environment {settings.singleuser_env} is missing: run `make hub-env`")
    if not reachable_by_everyone(settings.singleuser_env):
        raise HubError(f"{settings.singleuser_env} is not reachable by other accounts (a parent folder is private): "
                       "put the checkout where every user can read it")
    accounts = {name: ensure_account(name) for name in (*settings.users, settings.grader)}
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    settings.state_dir.chmod(0o700)
    for shared in (settings.homes_dir, settings.course_dir):
        shared.mkdir(parents=True, exist_ok=True)
        shared.chmod(0o755)
    grader_home = settings.homes_dir / settings.grader
    grader_home.mkdir(exist_ok=True)
    os.chown(grader_home, accounts[settings.grader].pw_uid, accounts[settings.grader].pw_gid)
    grader_home.chmod(0o700)
    prepare_exchange(settings.exchange_root, settings.course_id, 0, 0)
    _grader_config(settings.course_dir / ".jupyter", accounts[settings.grader])


def _grader_config(folder: Path, account) -> None:
    """The course service is the formgrader: nbgrader's instructor extensions, off for students, are on here."""
    server = {"ServerApp": {"jpserver_extensions": {f"nbgrader.server_extensions.{name}": True for name in
                                                    ("formgrader", "course_list", "assignment_list", "validate_assignment")}}}
    page = {"disabledExtensions": {"@jupyter/nbgrader:create-assignment": False, "@jupyter/nbgrader:formgrader": False,
                                   "@jupyter/nbgrader:course-list": False}}
    (folder / "labconfig").mkdir(parents=True, exist_ok=True)
    (folder / "jupyter_server_config.json").write_text(json.dumps(server, indent=1))
    (folder / "labconfig" / "page_config.json").write_text(json.dumps(page, indent=1))
    for path in (folder, folder / "labconfig", *folder.rglob("*")):
        os.chown(path, account.pw_uid, account.pw_gid)


@dataclass
class RunningHub:
    settings: HubSettings
    process: subprocess.Popen
    log: Path

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM the hub (it stops the proxy and the single-user servers), then kill what is left."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        _end_orphaned_proxy(self.settings.state_dir / "jupyterhub-proxy.pid")

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.is_file() else ""


def _end_orphaned_proxy(pid_file: Path) -> None:
    """A hub that died without cleaning up leaves its proxy (its own session) running: end it."""
    try:
        pid = int(pid_file.read_text().strip())
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return
    if b"configurable-http-proxy" in command:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    pid_file.unlink(missing_ok=True)


def start(settings: HubSettings, timeout: float = 180) -> RunningHub:
    """Start JupyterHub with ``deploy/jupyterhub/jupyterhub_config.py`` and wait until it is healthy."""
    settings_file = settings.write(settings.state_dir / "settings.json")
    log = settings.state_dir / "jupyterhub.log"
    env = dict(os.environ, COURSE_HUB_SETTINGS=str(settings_file))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    handle = log.open("ab")
    process = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(HUB_CONFIG)], cwd=settings.state_dir,
                               env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    handle.close()
    hub = RunningHub(settings, process, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _end_orphaned_proxy(settings.state_dir / "jupyterhub-proxy.pid")
            raise HubError(f"JupyterHub exited with status {process.returncode}:\n{hub.log_tail()}")
        try:
            with urllib.request.urlopen(f"{settings.url}/hub/health", timeout=5) as response:
                if response.status == 200:
                    return hub
        except OSError:
            pass
        time.sleep(0.5)
    hub.stop()
    raise HubError(f"JupyterHub did not answer within {timeout:.0f} s:\n{hub.log_tail()}")
