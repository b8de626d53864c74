"""One Adam step on the CPU: the course's reference Adam against torch.optim.Adam, and against the
memory-bandwidth bound, at 1M and 10M float32 parameters (Chapter 6, "What optimizers cost").

The P parameters are split into ``TENSORS`` equal float32 tensors with fixed random gradients, and
every variant takes the same Adam step (lr 1e-3, betas (0.9, 0.999), eps 1e-8):

* ``reference_loop``: the reference ``Adam`` of Chapter 3, a loop over the tensors calling
  ``adam_update``; both are read from the instructor's master ``source/ch3_adam/adam.ipynb`` (a
  reference optimizer is never importable from a package students get);
* ``reference_flat``: the same ``adam_update`` called once on one flat array of all P parameters
  (Chapter 6's ``FlatAdam``, without its gradient copy);
* ``numpy_inplace``: the update written with in-place NumPy operations into one preallocated
  scratch array (``np.multiply(..., out=...)``): no allocation, fewer passes; about the best plain
  NumPy does;
* ``torch_foreach`` and ``torch_fused``: ``torch.optim.Adam(foreach=True)`` and ``(fused=True)``,
  with 1 thread (the headline: NumPy's element-wise operations use one core) and with PyTorch's
  default thread count.

The bound: an Adam step reads p, g, m, v and writes p, m, v, so it moves at least 7 numbers, 28
bytes, per float32 parameter; at a bandwidth B it takes at least 28 P / B seconds. B is measured
with ``np.copyto`` on P float32 numbers (it reads and writes 4 P bytes: 8 P bytes moved).

Allocator: the reference's temporaries are as large as one tensor (0.4 MB and 4 MB at 1M and 10M
parameters in 10 tensors). They come from glibc's ``malloc``, which by default may give such blocks
back to the operating system when they are freed (``munmap``, or trimming the top of the heap), so
that the next step page-faults fresh, zeroed memory in again, temporary after temporary. The same
measurements are also made in a child process whose allocator keeps freed memory
(``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_`` raised, :data:`KEEP_MEMORY_ENV`; it applies to
NumPy and PyTorch alike): the difference is the cost of those page faults.

Each figure is the median over ``repeats`` of the mean time per step over ``steps`` steps, after a
warm-up, the variants interleaved (A B C A B C ...) so that a busy spell of a shared machine hits
them alike. ``ratio`` = reference_loop / torch_foreach (1 thread); the course's target is 1.5.
Before timing, every variant takes 3 steps from the same values and must agree with PyTorch's.
The NumPy variants' memory traffic is counted exactly (:func:`count_passes`): every NumPy operation
reads its array inputs and writes its output in full.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import nbformat
import numpy as np

from slopegrad.nn import Parameter
from slopegrad.optim import Optimizer, resolve_betas, resolve_lr

ROOT = Path(__file__).resolve().parents[1]
CH3_MASTER = ROOT / "source" / "ch3_adam" / "adam.ipynb"
SIZES = (1_000_000, 10_000_000)
TENSORS = 10
LR, BETAS, EPS = 1e-3, (0.9, 0.999), 1e-8
BYTES_PER_NUMBER = 4  # float32
ADAM_NUMBERS_MOVED = 7  # read p, g, m, v; write p, m, v
TARGET_RATIO = 1.5
# glibc: serve large blocks from the heap instead of mmap, and never trim the heap: freed temporaries are reused
KEEP_MEMORY_ENV = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 32)}


def _import_torch():
    try:
        import torch
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            "the optimizer_step benchmark compares against PyTorch, which is not installed; "
            "install the dev requirements: pip install -r requirements/dev.txt",
            name="torch",
        ) from error
    return torch


def load_reference(path: Path = CH3_MASTER) -> dict[str, Any]:
    """``adam_update`` and ``Adam`` as the instructor's Chapter 3 master defines them."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the Chapter 3 master notebook (with the reference Adam) is needed")
    namespace: dict[str, Any] = {"np": np, "Optimizer": Optimizer, "resolve_lr": resolve_lr,
                                 "resolve_betas": resolve_betas, "Parameter": Parameter}
    wanted = {"adam_update", "adam"}
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") in wanted:
            exec(compile(cell.source, f"<{path.name}>", "exec"), namespace)
    missing = {"adam_update", "Adam"} - set(namespace)
    if missing:
        raise LookupError(f"{path.name} defines no {', '.join(sorted(missing))}")
    return {"adam_update": namespace["adam_update"], "Adam": namespace["Adam"]}


# ------------------------------------------------------------------------------ memory traffic
class _Counted(np.ndarray):
    """An array that counts the NumPy operations (ufunc calls) made on it, and their array operands."""

    calls = reads = writes = 0

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        _Counted.calls += 1
        _Counted.reads += sum(isinstance(x, np.ndarray) and x.ndim > 0 for x in inputs)
        _Counted.writes += 1
        plain = [x.view(np.ndarray) if isinstance(x, _Counted) else x for x in inputs]
        if out is not None:
            kwargs["out"] = tuple(o.view(np.ndarray) if isinstance(o, _Counted) else o for o in out)
        result = getattr(ufunc, method)(*plain, **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return result.view(_Counted) if isinstance(result, np.ndarray) else result


def count_passes(update: Callable[[np.ndarray, np.ndarray, dict], None], n: int = 8) -> dict[str, int]:
    """The NumPy operations of ``update(param, grad, state)`` in its second call (the state exists),
    with the full-array reads and writes they make; ``passes`` = reads + writes."""
    param = np.ones(n).view(_Counted)
    grad = np.full(n, 0.5).view(_Counted)
    state: dict = {}
    update(param, grad, state)
    _Counted.calls = _Counted.reads = _Counted.writes = 0
    update(param, grad, state)
    counts = {"operations": _Counted.calls, "reads": _Counted.reads, "writes": _Counted.writes}
    counts["passes"] = counts["reads"] + counts["writes"]
    return counts


# ------------------------------------------------------------------------------------ variants
def numpy_inplace_update(param: np.ndarray, grad: np.ndarray, state: dict, *, lr: float, beta1: float,
                         beta2: float, eps: float) -> None:
    """Adam with in-place NumPy operations into one scratch array (as torch computes it:
    denom = sqrt(v) / sqrt(1 - beta2**t) + eps, param -= lr / (1 - beta1**t) * m / denom)."""
    if not state:
        state.update(step=0, exp_avg=np.zeros_like(param), exp_avg_sq=np.zeros_like(param),
                     scratch=np.empty_like(param))
    state["step"] += 1
    t = state["step"]
    m, v, s = state["exp_avg"], state["exp_avg_sq"], state["scratch"]
    m *= beta1
    np.multiply(grad, 1 - beta1, out=s)
    m += s
    v *= beta2
    np.multiply(grad, grad, out=s)
    s *= 1 - beta2
    v += s
    np.sqrt(v, out=s)
    s *= 1 / math.sqrt(1 - beta2**t)
    s += eps
    np.divide(m, s, out=s)
    s *= lr / (1 - beta1**t)
    param -= s


def _values(size: int, seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    chunk = size // TENSORS
    starts = [rng.standard_normal(chunk, dtype=np.float32) for _ in range(TENSORS)]
    grads = [rng.standard_normal(chunk, dtype=np.float32) for _ in range(TENSORS)]
    return starts, grads


def _numpy_variants(reference: dict[str, Any], starts, grads) -> dict[str, Callable[[], None]]:
    adam_update = reference["adam_update"]
    options = dict(lr=LR, beta1=BETAS[0], beta2=BETAS[1], eps=EPS)

    params = [Parameter(s) for s in starts]  # Parameter copies its data
    for p, g in zip(params, grads):
        p.grad = g
    loop = reference["Adam"](params, lr=LR, betas=BETAS, eps=EPS)

    flat, flat_grad, flat_state = np.concatenate(starts), np.concatenate(grads), {}
    inplace, inplace_grad, inplace_state = np.concatenate(starts), np.concatenate(grads), {}
    return {
        "reference_loop": loop.step,
        "reference_flat": lambda: adam_update(flat, flat_grad, flat_state, **options),
        "numpy_inplace": lambda: numpy_inplace_update(inplace, inplace_grad, inplace_state, **options),
        "_values": lambda: {"reference_loop": np.concatenate([p.data for p in params]),
                            "reference_flat": flat, "numpy_inplace": inplace},
    }


def _torch_variant(torch, starts, grads, kind: str):
    params = [torch.nn.Parameter(torch.from_numpy(s.copy())) for s in starts]
    for p, g in zip(params, grads):
        p.grad = torch.from_numpy(g.copy())
    optimizer = torch.optim.Adam(params, lr=LR, betas=BETAS, eps=EPS, **{kind: True})
    return optimizer.step, lambda: torch.cat([p.detach().reshape(-1) for p in params]).numpy()


def _interleaved(named: dict[str, Callable[[], Any]], steps: int, repeats: int, warmup: int,
                 before: dict[str, Callable[[], None]] | None = None) -> dict[str, dict[str, float]]:
    """Median, min and max over repeats of the mean seconds per call; ``before[name]()`` runs before each
    repeat of ``name`` (setting the thread count)."""
    before = before or {}
    for name, step in named.items():
        before.get(name, lambda: None)()
        for _ in range(warmup):
            step()
    samples: dict[str, list[float]] = {name: [] for name in named}
    for _ in range(repeats):
        for name, step in named.items():
            before.get(name, lambda: None)()
            start = time.perf_counter()
            for _ in range(steps):
                step()
            samples[name].append((time.perf_counter() - start) / steps)
    return {name: {"median": statistics.median(s), "min": min(s), "max": max(s)} for name, s in samples.items()}


def copy_bandwidth(size: int, repeats: int = 5, copies: int = 5) -> float:
    """Bytes per second moved by np.copyto of ``size`` float32 numbers (best of ``repeats``)."""
    src = np.ones(size, dtype=np.float32)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(copies):
            np.copyto(dst, src)
        best = min(best, (time.perf_counter() - start) / copies)
    return 2 * src.nbytes / best


def _parity(torch, reference, size: int = 10_000, steps: int = 3) -> dict[str, float]:
    """Largest difference to torch.optim.Adam(foreach=True) after ``steps`` steps, relative to the largest |p|."""
    starts, grads = _values(size, seed=1)
    numpy_side = _numpy_variants(reference, starts, grads)
    torch_step, torch_values = _torch_variant(torch, starts, grads, "foreach")
    fused_step, fused_values = _torch_variant(torch, starts, grads, "fused")
    for _ in range(steps):
        for name in ("reference_loop", "reference_flat", "numpy_inplace"):
            numpy_side[name]()
        torch_step()
        fused_step()
    expected = torch_values()
    scale = float(np.max(np.abs(expected)))
    values = {**numpy_side["_values"](), "torch_fused": fused_values()}
    differences = {name: float(np.max(np.abs(v - expected))) / scale for name, v in values.items()}
    worst = max(differences.values())
    if not worst < 1e-5:  # float32 rounding only
        raise AssertionError(f"the Adam variants disagree with torch.optim.Adam: {differences}")
    return differences


def _measure(torch, reference, size: int, thread_counts: list[int], steps: int, repeats: int) -> dict[str, Any]:
    starts, grads = _values(size)
    named: dict[str, Callable[[], Any]] = {}
    before: dict[str, Callable[[], None]] = {}
    numpy_side = _numpy_variants(reference, starts, grads)
    for name in ("reference_loop", "reference_flat", "numpy_inplace"):
        named[name] = numpy_side[name]
        before[name] = lambda: torch.set_num_threads(1)
    for threads in thread_counts:
        for kind in ("foreach", "fused"):
            name = f"torch_{kind}_threads_{threads}"
            named[name] = _torch_variant(torch, starts, grads, kind)[0]
            before[name] = lambda n=threads: torch.set_num_threads(n)
    bandwidth = copy_bandwidth(size)
    timings = _interleaved(named, steps, repeats, warmup=1, before=before)
    bound = ADAM_NUMBERS_MOVED * BYTES_PER_NUMBER * size / bandwidth
    row: dict[str, Any] = {
        "parameters": size,
        "tensors": TENSORS,
        "copy_bandwidth_GB_per_s": bandwidth / 1e9,
        "bound_ms": bound * 1e3,
    }
    for name, t in timings.items():
        row[f"{name}_ms"] = t["median"] * 1e3
        row[f"{name}_ms_min_max"] = [t["min"] * 1e3, t["max"] * 1e3]
        row[f"{name}_over_bound"] = t["median"] / bound
    row["ratio"] = timings["reference_loop"]["median"] / timings["torch_foreach_threads_1"]["median"]
    row["ratio_flat"] = timings["reference_flat"]["median"] / timings["torch_foreach_threads_1"]["median"]
    row["ratio_numpy_inplace"] = timings["numpy_inplace"]["median"] / timings["torch_foreach_threads_1"]["median"]
    return row


def measure(sizes, thread_counts, steps: int, repeats: int) -> dict[str, Any]:
    """The parity check and one row of timings per size, in this process."""
    torch = _import_torch()
    reference = load_reference()
    default_threads = torch.get_num_threads()
    try:
        parity = _parity(torch, reference)
        rows = [_measure(torch, reference, size, thread_counts, steps, repeats) for size in sizes]
    finally:
        torch.set_num_threads(default_threads)
    return {"parity": parity, "rows": rows}


def measure_in_child(env: dict[str, str], sizes, thread_counts, steps: int, repeats: int) -> dict[str, Any]:
    """:func:`measure` in a fresh Python process with extra environment variables (the allocator's)."""
    request = json.dumps({"sizes": list(sizes), "thread_counts": list(thread_counts), "steps": steps, "repeats": repeats})
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    child = subprocess.run([sys.executable, "-m", "bench.optimizer_step", request], cwd=ROOT, capture_output=True,
                           text=True, env={**os.environ, **env, "PYTHONPATH": path})
    if child.returncode != 0:
        raise RuntimeError(f"the benchmark's child process failed:\n{child.stderr[-2000:]}")
    return json.loads(child.stdout.strip().splitlines()[-1])


def run(sizes=SIZES, steps: int = 3, repeats: int = 5, thread_counts=None, keep_memory: bool = True) -> dict[str, Any]:
    """All figures as a JSON-serialisable dict. ``thread_counts`` for PyTorch defaults to 1 and its default;
    ``keep_memory`` also measures with an allocator that keeps freed memory (in a child process)."""
    torch = _import_torch()
    reference = load_reference()
    default_threads = torch.get_num_threads()
    thread_counts = sorted(set(thread_counts or {1, default_threads}) | {1})
    options = dict(lr=LR, beta1=BETAS[0], beta2=BETAS[1], eps=EPS)
    traffic = {
        "reference_adam_update": count_passes(lambda p, g, s: reference["adam_update"](p, g, s, **options)),
        "numpy_inplace": count_passes(lambda p, g, s: numpy_inplace_update(p, g, s, **options)),
    }
    for counts in traffic.values():
        counts["bytes_per_float32_parameter"] = counts["passes"] * BYTES_PER_NUMBER
    load_before = _load_average()
    default = measure(sizes, thread_counts, steps, repeats)
    kept = measure_in_child(KEEP_MEMORY_ENV, sizes, thread_counts, steps, repeats) if keep_memory else None
    rows = default["rows"]
    minimum = ADAM_NUMBERS_MOVED * BYTES_PER_NUMBER
    headline = {}
    for i, r in enumerate(rows):
        entry = {"ratio": r["ratio"], "within_target": r["ratio"] <= TARGET_RATIO}
        if kept is not None:
            entry["ratio_allocator_keeps_memory"] = kept["rows"][i]["ratio"]
            entry["within_target_allocator_keeps_memory"] = kept["rows"][i]["ratio"] <= TARGET_RATIO
        headline[f"{r['parameters']:,}"] = entry
    return {
        "task": {
            "update": f"Adam, lr={LR}, betas={BETAS}, eps={EPS}, float32, P parameters in {TENSORS} equal tensors",
            "reference": "Chapter 3's Adam (loop over tensors calling adam_update), from source/ch3_adam/adam.ipynb",
            "steps_per_repeat": steps,
            "repeats": repeats,
            "statistic": "median over repeats of the mean time per step, after warm-up, variants interleaved",
            "ratio": "reference_loop time / torch.optim.Adam(foreach=True) time, both on 1 thread",
            "target_ratio": TARGET_RATIO,
            "bound": f"{ADAM_NUMBERS_MOVED} numbers x {BYTES_PER_NUMBER} bytes = {minimum} bytes per parameter / "
                     "np.copyto bandwidth (2 x 4P bytes moved per copy)",
            "allocator_keeps_memory": " ".join(f"{k}={v}" for k, v in KEEP_MEMORY_ENV.items()) if keep_memory else None,
        },
        "environment": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "torch": torch.__version__,
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "torch_default_threads": default_threads,
            "load_average_1min_before_after": [load_before, _load_average()],
        },
        "bytes_per_parameter": {"adam_minimum_float32": minimum, **traffic},
        "headline": headline,
        "results": rows,
        "results_allocator_keeps_memory": kept["rows"] if kept is not None else None,
        "parity_relative_difference_after_3_steps": default["parity"],
        "notes": _notes(rows, kept["rows"] if kept is not None else None, traffic, minimum),
    }


def _load_average():
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def _row_note(r: dict, label: str) -> str:
    return (
        f"P = {r['parameters']:,}{label}: bandwidth {r['copy_bandwidth_GB_per_s']:.1f} GB/s, bound {r['bound_ms']:.2f} ms; "
        f"reference loop {r['reference_loop_ms']:.2f} ms ({r['reference_loop_over_bound']:.1f} x bound), "
        f"flat {r['reference_flat_ms']:.2f} ms, in-place NumPy {r['numpy_inplace_ms']:.2f} ms, "
        f"torch foreach {r['torch_foreach_threads_1_ms']:.2f} ms ({r['torch_foreach_threads_1_over_bound']:.1f} x bound), "
        f"torch fused {r['torch_fused_threads_1_ms']:.2f} ms; ratio reference / torch foreach {r['ratio']:.2f} "
        f"({'within' if r['ratio'] <= TARGET_RATIO else 'above'} the {TARGET_RATIO} target)."
    )


def _notes(rows, kept_rows, traffic, minimum) -> str:
    ref, inplace = traffic["reference_adam_update"], traffic["numpy_inplace"]
    parts = [
        f"Adam moves at least {minimum} bytes per float32 parameter. The reference adam_update makes "
        f"{ref['operations']} NumPy operations ({ref['reads']} array reads, {ref['writes']} writes): "
        f"{ref['bytes_per_float32_parameter']} bytes per parameter, {ref['passes'] / 7:.1f} times the minimum, and "
        f"it allocates a new array for each of its temporaries; the in-place NumPy version makes {inplace['passes']} "
        f"passes ({inplace['bytes_per_float32_parameter']} bytes) into one scratch array allocated once. torch's "
        "fused kernel makes one pass."
    ]
    sizes = " and ".join(f"{r['parameters'] // r['tensors'] * BYTES_PER_NUMBER / 1e6:g} MB" for r in rows)
    parts += [_row_note(r, "") for r in rows]
    if kept_rows:
        parts += [_row_note(r, " (allocator keeping freed memory)") for r in kept_rows]
    parts.append(
        f"The reference's temporaries are as large as one tensor ({sizes}), and by default glibc may give such blocks "
        "back to the operating system when they are freed, so that every step page-faults new zeroed memory back in, "
        "temporary after temporary. The in-place version and torch's fused kernel allocate nothing per step, torch's foreach "
        "path one temporary per tensor (for sqrt(v)). The rows measured with an allocator "
        "that keeps freed memory show how much of the reference's time that costs; what remains is NumPy's pass "
        "count (one pass over memory per operation, where torch's foreach path makes fewer and its fused path one). "
        "At these sizes the Python loop over 10 tensors adds only microseconds. Figures on a shared machine vary "
        "from run to run (see load_average in environment)."
    )
    return " ".join(parts)


def format_table(result: dict) -> str:
    task = result["task"]
    traffic = result["bytes_per_parameter"]
    lines = [
        f"optimizer_step: {task['update']}; median of {task['repeats']} x {task['steps_per_repeat']} steps, ms per step",
        f"bytes per float32 parameter: minimum {traffic['adam_minimum_float32']}, reference adam_update "
        f"{traffic['reference_adam_update']['bytes_per_float32_parameter']}, in-place NumPy "
        f"{traffic['numpy_inplace']['bytes_per_float32_parameter']}",
        f"{'P':>11} {'GB/s':>6} {'bound':>7} {'ref loop':>9} {'ref flat':>9} {'in-place':>9} {'foreach1':>9} "
        f"{'fused1':>8} {'ratio':>6}",
    ]
    for r in result["results"]:
        lines.append(
            f"{r['parameters']:>11,} {r['copy_bandwidth_GB_per_s']:>6.1f} {r['bound_ms']:>7.2f} "
            f"{r['reference_loop_ms']:>9.2f} {r['reference_flat_ms']:>9.2f} {r['numpy_inplace_ms']:>9.2f} "
            f"{r['torch_foreach_threads_1_ms']:>9.2f} {r['torch_fused_threads_1_ms']:>8.2f} {r['ratio']:>6.2f}"
        )
    for r in result.get("results_allocator_keeps_memory") or []:
        lines.append(
            f"{r['parameters']:>11,} {r['copy_bandwidth_GB_per_s']:>6.1f} {r['bound_ms']:>7.2f} "
            f"{r['reference_loop_ms']:>9.2f} {r['reference_flat_ms']:>9.2f} {r['numpy_inplace_ms']:>9.2f} "
            f"{r['torch_foreach_threads_1_ms']:>9.2f} {r['torch_fused_threads_1_ms']:>8.2f} {r['ratio']:>6.2f}"
            "  (allocator keeps freed memory)"
        )
    lines.append(f"ratio = reference loop / torch.optim.Adam(foreach=True), 1 thread; target <= {task['target_ratio']}")
    return "\n".join(lines)


if __name__ == "__main__":  # the child process of measure_in_child: a JSON request in, a JSON result out
    request = json.loads(sys.argv[1])
    print(json.dumps(measure(request["sizes"], request["thread_counts"], request["steps"], request["repeats"])))
