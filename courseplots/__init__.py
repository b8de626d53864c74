"""The course's shared pictures: one function, one starting point, one way to draw a path.

Every chapter runs its optimizers on the same valley ``f(x1, x2) = 0.1 x1^2 + 2 x2^2`` from
the same start ``(-5, -2)`` and draws them with the same contour plot, so readers compare
like with like (as d2l does across its optimization chapter).
"""

from .valley import VALLEY_HESSIAN, VALLEY_START, valley, valley_gradient, run_on_valley
from .contours import plot_trajectories
from .animation import animate_paths
from .explorer import momentum_explorer

__all__ = ["VALLEY_HESSIAN", "VALLEY_START", "valley", "valley_gradient", "run_on_valley", "plot_trajectories",
           "animate_paths", "momentum_explorer"]
