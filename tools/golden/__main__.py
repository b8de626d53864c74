"""Record every chapter's golden file from PyTorch (development environment only)."""

from __future__ import annotations

import importlib
import sys

import torch

from .store import write

CHAPTERS = (
    "tools.golden.ch1_gradient_descent",
    "tools.golden.ch2_momentum",
    "tools.golden.ch3_adam",
    "tools.golden.ch4_schedules",
    "tools.golden.ch5_training_loop",
    "tools.golden.ch6_optimizer_cost",
)


def main(argv: list[str]) -> int:
    torch.set_default_dtype(torch.float64)
    wanted = set(argv)
    modules = [importlib.import_module(name) for name in CHAPTERS]
    unknown = wanted - {m.ASSIGNMENT for m in modules}
    if unknown:
        print(f"unknown assignment(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    for module in modules:
        if wanted and module.ASSIGNMENT not in wanted:
            continue
        checks = module.record()
        path = write(module.ASSIGNMENT, checks)
        print(f"{module.ASSIGNMENT}: {len(checks)} checks -> {path.name} ({path.stat().st_size / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
