"""The grading sandbox: every submission's kernel runs in bubblewrap, as uid 65534, bounded.

Usage (for the pipeline)
------------------------
Once per grading run::

    from autograder.sandbox import SandboxLimits, SandboxUnavailable, check_sandbox, nbgrader_execute_config
    check_sandbox()                      # raises SandboxUnavailable with what to do; refuse to grade
                                         # unless the instructor passed the flag naming the risk
    config = nbgrader_execute_config(SandboxLimits())           # or (..., sandbox=False) when unsafe
    # in-process:  Autograde(config=traitlets.config.Config(config), ...)
    # or a CLI run: append autograder.nbgrader_settings.config_file_text(config) to the course's nbgrader_config.py

This sets ``Execute.kernel_manager_class`` to :class:`SandboxedKernelManager`, replaces
nbgrader's ``Execute`` by :class:`BoundedExecute` (output bytes capped while executing; a dead
kernel no longer loses the submission), ``Execute.timeout`` = ``limits.cell_seconds``, and
adds the report names to ``CourseDirectory.ignore`` so a submission cannot plant them.

What student code sees: ``/submission`` (its HOME and cwd: a throwaway copy, on a size-limited
tmpfs, of the autograded folder without the notebooks, which hold the hidden tests at that point), the course copy at
``/opt/course`` (``PYTHONPATH``), ``.venv-student``, ``/usr`` and the interpreter, read-only; a
private 64 MiB ``/tmp``; no network; uid/gid 65534 also on the host (how: :mod:`.command`).

Needs: root, Debian's bubblewrap and util-linux (``.ci/system-packages``), the student
environment ``.venv-student`` (``make student-env``). Nothing else from the environment:
the kernel's environment is built from scratch. The course copy is made once per process in
a temporary folder (or pass ``course_dir=`` a folder made with :func:`course_copy`).

``python -m autograder.sandbox`` checks the sandbox here and times sandboxed against stock kernels.

After ``nbgrader autograde``, for each autograded folder ``autograded/<student>/<assignment>``
(nbgrader's ``cwd`` for the kernels; each kernel appends to the folder's report, and the first
kernel for a folder in a process deletes any earlier report there):

- :func:`collected_records(folder) <collected_records>`: the records the kernel wrote through the
  check API (``None`` if none), already checked to be a regular file within
  ``limits.record_bytes``: parse it as untrusted data;
- :func:`violations(folder) <violations>`: reasons for "needs review" (CPU or wall-clock
  limit, kernel killed or died, cell timeout, records rejected); :func:`events` has all events,
  including informational ones (output truncated, MemoryError).

Limits (:class:`SandboxLimits`, defaults): 60 s CPU per process, 2 GiB address space per
process and 4 GiB of memory for the whole sandbox, 64 processes+threads per sandbox, 50 MB per
file and 256 MiB for the whole working directory, 256 open files, 64 MiB /tmp, 30 s per cell,
300 s per kernel (one notebook), 1 MiB output per cell, 8 MiB per notebook, 8 MiB per kernel
message, 32 MiB of records. The whole-sandbox memory and task limits need cgroups (v2, or the v1
memory and pids hierarchies, :mod:`.cgroup`), the working directory's a tmpfs mount
(:mod:`.workdir`); where either is missing, :func:`check_sandbox` says so once at start-up and
the per-process limits still hold.
"""

from .bounded_execute import BoundedExecute, nbgrader_execute_config
from .check import SandboxUnavailable, check_sandbox
from .kernel import SandboxedKernelManager
from .limits import SandboxLimits
from .packages import course_copy
from .report import Event, collected_records, events, violations

__all__ = [
    "BoundedExecute",
    "Event",
    "SandboxLimits",
    "SandboxUnavailable",
    "SandboxedKernelManager",
    "check_sandbox",
    "collected_records",
    "course_copy",
    "events",
    "nbgrader_execute_config",
    "violations",
]
