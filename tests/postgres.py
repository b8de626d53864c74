"""A throwaway PostgreSQL server for tests that claim PostgreSQL support.

Uses Debian's binaries (``/usr/lib/postgresql/<version>/bin``, package ``postgresql``, listed in
``.ci/system-packages``): ``initdb`` a cluster in a temporary folder, ``pg_ctl start`` it on a free
port of 127.0.0.1 (and a Unix socket in the same folder), yield a SQLAlchemy URL, stop and delete
it. initdb refuses to run as root, so as root the cluster belongs to the ``postgres`` user (or
``nobody``) and the commands run through ``runuser``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    pass


def _binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise PostgresUnavailable("PostgreSQL's server binaries are not installed: run .ci/system-packages")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def postgres_server():
    """Yield ``postgresql+psycopg://...`` for a fresh, empty database; the server is gone afterwards."""
    bindir = _binaries()
    folder = Path(tempfile.mkdtemp(prefix="pg-test-"))
    prefix: list[str] = []
    user = pwd.getpwuid(os.getuid()).pw_name
    if os.getuid() == 0:
        user = next((name for name in ("postgres", "nobody") if _user_exists(name)), None)
        if user is None:
            raise PostgresUnavailable("no unprivileged user to run PostgreSQL as")
        prefix = ["runuser", "-u", user, "--"]
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    folder.chmod(0o700)
    data, port = folder / "data", _free_port()

    def run(*args: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run([*prefix, *args], check=True, capture_output=True, text=True, timeout=120, **kwargs)

    try:
        run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "grader", "--no-sync", "-E", "UTF8")
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        run(str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "-t", "60", "start")
        url = f"postgresql+psycopg://grader@127.0.0.1:{port}/postgres"
        _wait(url)
        yield url
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                           capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _wait(url: str) -> None:
    import sqlalchemy

    deadline = time.monotonic() + 30
    while True:
        try:
            engine = sqlalchemy.create_engine(url)
            with engine.connect() as conn:
                conn.execute(sqlalchemy.text("select 1"))
            engine.dispose()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
