"""The sandbox's working directory on the host: a tmpfs of bounded size, so no submission fills the disk.

RLIMIT_FSIZE bounds each file, not their number: without a bound on the folder, a submission
could write file after file into ``/submission`` until the grader's disk is full. The folder is
a tmpfs mounted on the host (the grader reads the records file from it after the kernel ended),
``limits.work_bytes`` in size; a write beyond it fails with ENOSPC inside the sandbox.
Its pages are memory, counted in the sandbox's memory limit when the sandbox writes them.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
import threading
from pathlib import Path

from .command import tool

log = logging.getLogger("autograder.sandbox")
_lock = threading.Lock()
_support: str | None = None
_checked = False


def mount_tmpfs(folder: Path, size_bytes: int) -> None:
    """Mount a tmpfs of ``size_bytes`` on the (empty) ``folder``; raise OSError if it cannot be."""
    mount = tool("mount")
    if mount is None:
        raise OSError("util-linux (mount) is not installed")
    done = subprocess.run(
        [mount, "-t", "tmpfs", "-o", f"size={size_bytes},mode=0755,nosuid,nodev", "autograder-work", str(folder)],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise OSError(f"mount -t tmpfs failed: {done.stderr.strip() or done.returncode}")


def unmount(folder: Path) -> bool:
    """Unmount ``folder``, lazily if something still holds it (the sandbox is dead by then).

    False (with a warning naming the folder) if it stays mounted.
    """
    umount = tool("umount")
    if umount is None or not os.path.ismount(folder):
        return not os.path.ismount(folder)
    done = subprocess.run([umount, str(folder)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        done = subprocess.run([umount, "-l", str(folder)], capture_output=True, text=True, check=False)
    if done.returncode != 0 or os.path.ismount(folder):
        log.warning("grading sandbox: could not unmount %s: %s", folder, done.stderr.strip() or done.returncode)
        return False
    return True


def mounts_below(root: Path) -> list[Path]:
    """Mount points at or below ``root``, deepest first."""
    prefix = str(root.resolve())
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        points = [line.split()[1].replace("\\040", " ") for line in mounts]
    return [Path(p) for p in sorted((p for p in points if p == prefix or p.startswith(prefix + "/")), reverse=True)]


def unmount_below(root: Path) -> None:
    """Unmount every mount at or below ``root`` (a box left behind by a grader that was killed)."""
    for point in mounts_below(root):
        unmount(point)


def tmpfs_unavailable() -> str | None:
    """Why working directories cannot be bounded tmpfs mounts here, or None if they can (checked once)."""
    global _support, _checked
    with _lock:
        if not _checked:
            folder = Path(tempfile.mkdtemp(prefix="autograder-tmpfs-probe-"))
            try:
                mount_tmpfs(folder, 1024 * 1024)
                unmount(folder)
            except OSError as error:
                _support = str(error)
            finally:
                try:
                    folder.rmdir()
                except OSError:
                    pass
            _checked = True
        return _support


def free_bytes(folder: Path) -> int:
    stats = os.statvfs(folder)
    return stats.f_bavail * stats.f_frsize
