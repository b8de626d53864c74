"""System accounts for the hub's users: created once, idempotently, with no password and no login shell.

JupyterHub's LocalProcessSpawner starts each user's server as that user's own account, so the
operating system keeps students apart (their homes, their submissions). The demo and the tests
use clearly named accounts (``course-demo-*``): they own nothing outside the hub's folders.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess


class AccountError(RuntimeError):
    pass


def ensure_account(name: str) -> pwd.struct_passwd:
    """The account ``name``, created as a system user with its own group if it does not exist yet."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    if os.geteuid() != 0:
        raise AccountError(f"creating the account {name!r} needs root")
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    done = subprocess.run([useradd, "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                           "--shell", "/usr/sbin/nologin", "--comment", "course hub demo account", name],
                          capture_output=True, text=True)
    try:
        return pwd.getpwnam(name)  # another process may have created it at the same time
    except KeyError:
        raise AccountError(f"useradd {name} failed: {done.stderr.strip()}") from None
