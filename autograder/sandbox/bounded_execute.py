"""nbgrader's Execute step with bounds, and the nbgrader configuration that uses it.

It runs in the grader's process (nbgrader's autograde, :mod:`autograder.execute`) and sends cells to
the sandboxed kernel; what it receives back is bounded here.

nbgrader 0.9.6 bounds outputs only after execution and only by lines (``LimitOutput``):
a cell that prints gigabytes is first held whole in the grader's memory. nbclient offers
per-cell timeouts (``Execute.timeout``) but nothing per notebook, and a kernel that dies
makes nbgrader drop the whole submission (it deletes the autograded folder).
:class:`BoundedExecute` adds, while executing:

- a byte budget per cell and per notebook: outputs beyond it are dropped as they arrive,
  and the cell says so (on top of ``ZMQ_MAXMSGSIZE`` on the grader's sockets, set by the
  kernel manager, which bounds each message);
- a dead kernel (killed by a limit or by the wall-clock watchdog) ends execution: the
  remaining cells get an error output instead, and nbgrader goes on to save the notebook and
  its grades, so the submission is recorded rather than lost;
- events in the folder's sandbox report (:mod:`.report`) for timeouts, truncations, deaths.
"""

from __future__ import annotations

import json
from pathlib import Path
from queue import Empty
from time import monotonic
from typing import Any

from jupyter_core.utils import ensure_async, run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.v4 import new_output
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import Execute
from traitlets import Integer

from ..records import RECORDS_NAME
from . import report
from .limits import SandboxLimits
from .report import Event

KERNEL_MANAGER = "autograder.sandbox.kernel.SandboxedKernelManager"
EXECUTE = f"{__name__}.BoundedExecute"
ERROR_BYTES = 64 * 1024
"""An error output (exception and traceback) is always kept, cut to this size."""


def _size(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode("utf-8", "surrogatepass"))
    if isinstance(value, (list, tuple)):
        return sum(_size(v) for v in value)
    if isinstance(value, dict):
        return sum(_size(v) for v in value.values())
    return len(json.dumps(value, default=str))


def output_bytes(msg: dict[str, Any]) -> int:
    """Bytes an iopub message would add to a cell's outputs."""
    content = msg.get("content", {})
    return _size({k: content.get(k) for k in ("text", "data", "evalue", "traceback") if k in content})


def _cut(text: str, limit: int) -> str:
    return text.encode("utf-8", "surrogatepass")[:limit].decode("utf-8", "ignore")


def _cut_stream(msg: dict[str, Any], limit: int) -> dict[str, Any]:
    return {**msg, "content": {**msg["content"], "text": _cut(msg["content"]["text"], limit)}}


def _cut_error(msg: dict[str, Any], limit: int) -> dict[str, Any]:
    content = msg["content"]
    if output_bytes(msg) <= limit:
        return msg
    lines, room = [], limit // 2
    for line in content.get("traceback", []):
        lines.append(_cut(str(line), room))
        room -= len(lines[-1])
        if room <= 0:
            lines.append("... traceback truncated ...")
            break
    cut = {**content, "ename": _cut(str(content.get("ename", "")), 200), "evalue": _cut(str(content.get("evalue", "")), limit // 2), "traceback": lines}
    return {**msg, "content": cut}


class BoundedExecute(Execute):
    """nbgrader's ``Execute`` with output bytes capped while executing and dead kernels survived."""

    max_output_bytes_per_cell = Integer(
        SandboxLimits.output_bytes_per_cell, help="Output bytes kept for one cell."
    ).tag(config=True)
    max_output_bytes = Integer(
        SandboxLimits.output_bytes, help="Output bytes kept for the whole notebook."
    ).tag(config=True)

    def preprocess(self, nb: Any, resources: Any = None, km: Any = None) -> Any:
        path = (resources or {}).get("metadata", {}).get("path")
        self._folder = Path(path) if path else None
        self._notebook_bytes = 0
        self._cell_bytes = 0
        self._cell_truncated = False
        self._dead: str | None = None
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell: Any, resources: Any, index: int) -> Any:
        if cell.cell_type != "code":
            return super().preprocess_cell(cell, resources, index)
        if self._dead is not None:
            cell.outputs = [self._error("KernelDied", f"not run: {self._dead}")]
            return cell, resources
        self._cell_bytes = 0
        self._cell_truncated = False
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self._dead = "the kernel died (killed by a sandbox limit, or it crashed)"
            self._event(Event(report.KERNEL_DIED, f"the kernel died while running cell {index}"))
        except CellTimeoutError:
            # The reply came but not the outputs: most likely a message over the size bound,
            # after which ZMQ drops the connection for good. Reconnect for the next cells.
            self._event(Event(report.OUTPUT_LOST, f"the output of cell {index} was lost (a message too large?)"))
            self._reconnect_iopub()
        cell.outputs.append(self._error("KernelDied" if self._dead else "CellTimeoutError", self._dead or "cell timed out"))
        return cell, resources

    def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> Any:
        if msg.get("msg_type") == "error":
            # Always kept (an error decides nbgrader's own score of a cell), but bounded too.
            return self._keep(outs, _cut_error(msg, ERROR_BYTES), display_id, cell_index)
        if self._cell_truncated:
            return None
        room = min(self.max_output_bytes_per_cell - self._cell_bytes, self.max_output_bytes - self._notebook_bytes)
        if output_bytes(msg) <= room:
            return self._keep(outs, msg, display_id, cell_index)
        if msg.get("msg_type") == "stream" and room > 0:
            self._keep(outs, _cut_stream(msg, room), display_id, cell_index)  # its beginning, as a terminal shows
        self._cell_truncated = True
        outs.append(new_output("stream", name="stderr", text=(
            f"\n... output truncated: over {self.max_output_bytes_per_cell} bytes for this cell "
            f"or {self.max_output_bytes} for the notebook ...\n")))
        self._event(Event(report.OUTPUT_TRUNCATED, f"the output of cell {cell_index} was truncated", review=False))
        return None

    def _keep(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> Any:
        size = output_bytes(msg)
        self._cell_bytes += size
        self._notebook_bytes += size
        if msg.get("msg_type") == "error" and msg["content"].get("ename") == "MemoryError":
            self._event(Event(report.MEMORY_ERROR, f"cell {cell_index} ran out of memory (the sandbox's limit)", review=False))
        return super().output(outs, msg, display_id, cell_index)

    async def _async_handle_timeout(self, timeout: int, cell: Any = None) -> Any:
        self._event(Event(report.CELL_TIMEOUT, f"a cell ran longer than {timeout} s and was interrupted"))
        return await super()._async_handle_timeout(timeout, cell)

    def _reconnect_iopub(self) -> None:
        if self.kc is None or self.kc._iopub_channel is None:
            return
        self.kc._iopub_channel.close()
        self.kc._iopub_channel = None  # the next use connects and subscribes afresh
        run_sync(self._async_wait_for_iopub)()

    async def _async_wait_for_iopub(self, seconds: float = 3.0) -> None:
        """Until the new subscription receives: ask for kernel_info on the control channel (served
        even while the kernel is busy), whose busy/idle status is published."""
        assert self.kc is not None
        deadline = monotonic() + seconds
        while monotonic() < deadline:
            request = self.kc.session.msg("kernel_info_request")
            self.kc.control_channel.send(request)
            try:
                while True:
                    msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=0.2))
                    if msg["parent_header"].get("msg_id") == request["header"]["msg_id"]:
                        return
            except Empty:
                continue

    @staticmethod
    def _error(ename: str, evalue: str) -> Any:
        return new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])

    def _event(self, event: Event) -> None:
        self.log.warning("sandbox: %s", event.message)
        if self._folder is not None and self._folder.is_dir():
            report.add_event(self._folder, event)


def nbgrader_execute_config(limits: SandboxLimits | None = None, *, sandbox: bool = True,
                            student_env: str | Path | None = None, course_dir: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """The traitlets settings that make ``nbgrader autograde`` execute in the sandbox.

    Returns ``{section: {trait: value}}``: pass it as ``traitlets.config.Config(...)`` to an
    nbgrader app, or write it into the course's ``nbgrader_config.py`` with
    :func:`autograder.nbgrader_settings.config_file_text`. ``sandbox=False`` (the instructor's
    explicit, risky choice) keeps the bounds on outputs and time but runs kernels unsandboxed, as
    stock nbgrader does.
    """
    limits = limits or SandboxLimits()
    from nbgrader.converters.autograde import Autograde

    preprocessors = [EXECUTE if p is Execute else f"{p.__module__}.{p.__name__}" for p in Autograde.class_traits()["autograde_preprocessors"].default()]
    config: dict[str, dict[str, Any]] = {
        "Autograde": {"autograde_preprocessors": preprocessors},
        "Execute": {
            "timeout": limits.cell_seconds,
            "interrupt_on_timeout": True,
            "startup_timeout": 60,
        },
        "BoundedExecute": {
            "max_output_bytes_per_cell": limits.output_bytes_per_cell,
            "max_output_bytes": limits.output_bytes,
        },
        # Never copy a report or records file planted in a submission into the autograded folder.
        "CourseDirectory": {"ignore": [*CourseDirectory.class_traits()["ignore"].default(), report.REPORT_DIR, RECORDS_NAME]},
    }
    if sandbox:
        config["Execute"]["kernel_manager_class"] = KERNEL_MANAGER
        manager: dict[str, Any] = {"limits": limits.as_dict()}
        if student_env is not None:
            manager["student_env"] = str(student_env)
        if course_dir is not None:
            manager["course_dir"] = str(course_dir)
        config["SandboxedKernelManager"] = manager
    return config
