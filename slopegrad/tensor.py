"""Tensor: a NumPy array that remembers how it was computed.

Reverse-mode automatic differentiation in the style of micrograd's ``engine.py``,
on arrays instead of scalars. Every operation returns a new Tensor holding

* ``data``: the result, a NumPy array;
* ``_parents``: the Tensors it was computed from;
* ``_backward(g)``: a small closure that, given ``g = dL/d(out)``, adds the
  local gradient ``dL/d(parent) = g * d(out)/d(parent)`` into every parent that
  requires grad.

``backward()`` sorts the graph topologically once (iteratively, so deep graphs
do not hit Python's recursion limit) and runs the closures from the output
back to the leaves.

Broadcasting. If an input of shape ``s`` was broadcast to the output's shape,
each of its entries was used once per copy, so its gradient is the output
gradient summed over the broadcast axes. Every backward closure passes its
gradient through ``_unbroadcast(grad, s)`` for that reason.

dtype rules (mirroring PyTorch where NumPy allows):

* Python scalars and lists become float64; NumPy arrays keep their dtype, so
  float32 stays float32 and integer arrays (class labels) stay integer.
* Python-scalar operands are "weak" (NumPy 2 / NEP 50): ``x * 2.0`` and
  ``x ** 2`` keep a float32 ``x`` float32. A NumPy float64 operand promotes.
* Only floating-point tensors can require gradients. ``.grad`` always has the
  dtype and shape of ``.data``.

Aliasing. ``Tensor(array)`` copies the array, so a tensor never shares memory
with a buffer the caller owns. As in PyTorch, ``reshape``, ``transpose``,
basic slicing, ``detach()`` and ``numpy()`` return views of ``.data``.
Gradients handed to the user in ``.grad`` are always arrays slopegrad
allocated itself; accumulation across ``backward()`` calls rebinds ``.grad``
to a new array rather than writing into one the user may hold.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import grad_mode

__all__ = ["Tensor", "add", "sub", "mul", "div", "power", "matmul"]


class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    Parameters
    ----------
    data : array_like
        Python scalars and (nested) lists become float64; NumPy arrays keep
        their dtype. The data is copied.
    requires_grad : bool
        Whether ``backward()`` should compute ``dL/d(self)`` into ``.grad``.
        Only floating-point tensors may require gradients.
    dtype : numpy dtype, optional
        Cast the data to this dtype.
    """

    __slots__ = ("data", "grad", "requires_grad", "_parents", "_backward", "_g", "_g_owned", "__weakref__")

    # Make NumPy defer to our reflected operators, so ``array + tensor`` calls
    # Tensor.__radd__ instead of building an object array of tensors.
    __array_ufunc__ = None

    def __init__(self, data, requires_grad: bool = False, dtype=None) -> None:
        self.data = _to_array(data, dtype)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(
                f"only floating-point tensors can require gradients, got dtype {self.data.dtype}"
            )
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self._parents = ()
        self._backward = None
        self._g = None  # gradient flowing into this tensor during one backward()
        self._g_owned = False  # True once _g is a buffer backward() allocated itself

    # ------------------------------------------------------------------ basics
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded operation."""
        return self._backward is None

    @property
    def T(self) -> "Tensor":
        """All axes reversed, like NumPy's ``.T``."""
        return self.transpose()

    def item(self):
        """The single element as a Python number."""
        return self.data.item()

    def __float__(self) -> float:
        return float(self.data.item())

    def __bool__(self) -> bool:
        return bool(self.data)  # NumPy raises for more than one element

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """``np.asarray(t)`` (and so matplotlib) sees the data, outside the graph."""
        if copy:
            return np.array(self.data, dtype=dtype)
        return self.data if dtype is None else self.data.astype(dtype, copy=False)

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied, like ``torch.Tensor.numpy``)."""
        return self.data

    def detach(self) -> "Tensor":
        """A leaf sharing this tensor's data, cut off from the graph."""
        return _result(self.data, (), None)

    def astype(self, dtype) -> "Tensor":
        """Cast to ``dtype``; the gradient is cast back to this tensor's dtype."""
        data = self.data.astype(dtype)

        def backward(g):
            self._add_grad(g.astype(self.data.dtype))

        # A cast to an integer type cannot carry a gradient.
        parents = (self,) if data.dtype.kind == "f" else ()
        return _result(data, parents, backward)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __repr__(self) -> str:
        name = type(self).__name__
        body = np.array2string(self.data, separator=", ", prefix=name + "(")
        extras = []
        if self.data.dtype != np.float64:
            extras.append(f"dtype={self.data.dtype}")
        if self.requires_grad:
            extras.append("requires_grad=True")
        return f"{name}({', '.join([body, *extras])})"

    # ---------------------------------------------------------------- autograd
    def _add_grad(self, g) -> None:
        """Accumulate ``g`` (already of this tensor's shape) into the gradient
        flowing into this tensor during the current backward pass.

        The first contribution is only borrowed: it may be the very array that
        was passed to a sibling (``a + b`` hands the same ``g`` to both) or a
        read-only broadcast view. A second contribution allocates a buffer of
        our own, and later ones are added into it in place.
        """
        current = self._g
        if current is None:
            self._g = g
        elif self._g_owned:
            current += g
        else:
            self._g = current + g
            self._g_owned = type(self._g) is np.ndarray

    def _topological_order(self) -> list["Tensor"]:
        """Tensors requiring grad that this one depends on, parents first.

        An iterative depth-first search: a node is emitted after all of its
        parents, without recursion, so graphs thousands of operations deep
        are fine.
        """
        order = []
        visited = set()
        stack = [(self, False)]
        while stack:
            node, parents_done = stack.pop()
            if parents_done:
                order.append(node)
                continue
            if node in visited:
                continue
            visited.add(node)
            stack.append((node, True))
            for parent in node._parents:
                if parent.requires_grad and parent not in visited:
                    stack.append((parent, False))
        return order

    def backward(self, gradient=None) -> None:
        """Compute ``dL/d(leaf)`` for every leaf this tensor depends on.

        ``L`` is this tensor when it holds a single element. For any other
        output, ``gradient`` supplies ``dL/d(self)`` (same shape) and the
        result is the vector-Jacobian product. Gradients are added into each
        leaf's ``.grad`` (accumulating across calls until it is set to None);
        intermediate tensors do not keep theirs.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() called on a tensor that does not require grad: it was not computed "
                "from any tensor with requires_grad=True (or it was computed under no_grad())"
            )
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward() needs a gradient argument for a non-scalar output of shape "
                    f"{self.shape}; pass gradient= of that shape or reduce the output first, "
                    f"e.g. with .sum()"
                )
            seed, owned = np.ones(self.shape, dtype=self.data.dtype), True
        else:
            seed = gradient.data if isinstance(gradient, Tensor) else np.asarray(gradient)
            if seed.shape != self.shape:
                raise ValueError(
                    f"gradient has shape {seed.shape} but the output has shape {self.shape}; "
                    f"they must match"
                )
            owned = False  # the caller's array: never write into it

        order = self._topological_order()
        self._g, self._g_owned = seed, owned
        try:
            for node in reversed(order):
                g, owned = node._g, node._g_owned
                node._g, node._g_owned = None, False  # free it as soon as it is used
                if g is None:
                    continue
                if type(g) is not np.ndarray:  # NumPy returns scalars from 0-d arithmetic
                    g, owned = np.asarray(g), False
                if node._backward is not None:
                    node._backward(g)
                else:
                    node._accumulate_leaf_grad(g, owned)
        except BaseException:
            for node in order:  # leave no half-propagated gradient behind
                node._g, node._g_owned = None, False
            raise

    def _accumulate_leaf_grad(self, g: np.ndarray, owned: bool) -> None:
        dtype = self.data.dtype
        if self.grad is None:
            # Keep g itself only if backward() allocated it and nobody else holds it.
            self.grad = g if owned and g.dtype == dtype else np.array(g, dtype=dtype)
        else:
            self.grad = (self.grad + g).astype(dtype, copy=False)

    # ------------------------------------------------------- arithmetic operators
    def __add__(self, other):
        return add(self, other)

    def __radd__(self, other):
        return add(other, self)

    def __sub__(self, other):
        return sub(self, other)

    def __rsub__(self, other):
        return sub(other, self)

    def __mul__(self, other):
        return mul(self, other)

    def __rmul__(self, other):
        return mul(other, self)

    def __truediv__(self, other):
        return div(self, other)

    def __rtruediv__(self, other):
        return div(other, self)

    def __pow__(self, exponent):
        return power(self, exponent)

    def __rpow__(self, base):
        return power(base, self)

    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(other, self)

    def __neg__(self) -> "Tensor":
        """-x; d/dx = -1."""

        def backward(g):
            self._add_grad(-g)

        return _result(-self.data, (self,), backward)

    # -------------------------------------------------------- elementwise maths
    def exp(self) -> "Tensor":
        """e^x; d/dx = e^x (the output, reused)."""
        data = np.exp(self.data)

        def backward(g):
            self._add_grad(g * data)

        return _result(data, (self,), backward)

    def log(self) -> "Tensor":
        """Natural log; d/dx = 1/x."""

        def backward(g):
            self._add_grad(g / self.data)

        return _result(np.log(self.data), (self,), backward)

    def sqrt(self) -> "Tensor":
        """sqrt(x); d/dx = 1 / (2 sqrt(x))."""
        data = np.sqrt(self.data)

        def backward(g):
            self._add_grad(g / (2 * data))

        return _result(data, (self,), backward)

    def abs(self) -> "Tensor":
        """|x|; d/dx = sign(x), taken as 0 at x = 0 like PyTorch."""

        def backward(g):
            self._add_grad(g * np.sign(self.data))

        return _result(np.abs(self.data), (self,), backward)

    def relu(self) -> "Tensor":
        """max(x, 0); d/dx = 1 where x > 0, else 0 (also at 0, like PyTorch)."""
        data = np.maximum(self.data, 0)

        def backward(g):
            self._add_grad(g * (self.data > 0))

        return _result(data, (self,), backward)

    def tanh(self) -> "Tensor":
        """tanh(x); d/dx = 1 - tanh(x)^2."""
        data = np.tanh(self.data)

        def backward(g):
            self._add_grad(g * (1 - data * data))

        return _result(data, (self,), backward)

    def sigmoid(self) -> "Tensor":
        """s(x) = 1 / (1 + e^-x); d/dx = s (1 - s).

        Computed from e = e^-|x|, which never overflows: s = 1/(1+e) for
        x >= 0 and s = e/(1+e) for x < 0.
        """
        x = self.data
        e = np.exp(-np.abs(x))
        data = np.where(x >= 0, 1, e) / (1 + e)

        def backward(g):
            self._add_grad(g * (data * (1 - data)))

        return _result(data, (self,), backward)

    # -------------------------------------------------------------- reductions
    def sum(self, axis=None, keepdims: bool = False) -> "Tensor":
        """Sum over ``axis`` (int, tuple, negative allowed; None = all).

        Every input entry contributes with weight 1, so the gradient is the
        output gradient broadcast back over the reduced axes.
        """
        shape = self.shape

        def backward(g):
            if not keepdims and axis is not None:
                g = np.expand_dims(g, axis)  # restore the reduced axes as size 1
            self._add_grad(np.broadcast_to(g, shape))

        return _result(self.data.sum(axis=axis, keepdims=keepdims), (self,), backward)

    def mean(self, axis=None, keepdims: bool = False) -> "Tensor":
        """Mean over ``axis``; d/dx_i = 1/n, n the number of entries averaged."""
        shape = self.shape
        data = self.data.mean(axis=axis, keepdims=keepdims)
        n = self.data.size // max(np.size(data), 1)

        def backward(g):
            if not keepdims and axis is not None:
                g = np.expand_dims(g, axis)
            self._add_grad(np.broadcast_to(g / n, shape))

        return _result(data, (self,), backward)

    def max(self, axis=None, keepdims: bool = False) -> "Tensor":
        """Maximum over ``axis``.

        The gradient goes to the entries equal to the maximum; when several
        entries tie, it is split evenly among them (like ``torch.amax``; note
        that ``torch.max(x, dim)`` instead sends it all to one index).
        """
        x = self.data
        kept = x.max(axis=axis, keepdims=True)
        if keepdims:
            data = kept
        elif axis is None:
            data = kept.reshape(())
        else:
            data = np.squeeze(kept, axis=axis)

        def backward(g):
            if not keepdims and axis is not None:
                g = np.expand_dims(g, axis)
            winners = x == kept
            ties = winners.sum(axis=axis, keepdims=True, dtype=g.dtype)
            self._add_grad(winners * (g / ties))

        return _result(data, (self,), backward)

    # ------------------------------------------------------------ shape changes
    def reshape(self, *shape) -> "Tensor":
        """Same entries, new shape: ``x.reshape(2, 3)`` or ``x.reshape((2, 3))``."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        old_shape = self.shape

        def backward(g):
            self._add_grad(g.reshape(old_shape))

        return _result(self.data.reshape(shape), (self,), backward)

    def transpose(self, *axes) -> "Tensor":
        """Permute axes (all reversed when none are given); the gradient is
        permuted back by the inverse permutation."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        if not axes:
            axes = tuple(range(self.ndim - 1, -1, -1))
        data = self.data.transpose(axes)  # validates the axes
        inverse = tuple(np.argsort([a % self.ndim for a in axes]))

        def backward(g):
            self._add_grad(g.transpose(inverse))

        return _result(data, (self,), backward)

    def __getitem__(self, index) -> "Tensor":
        """Indexing with NumPy's rules: slices, integers, integer arrays,
        boolean masks (also given as integer/bool Tensors).

        The gradient scatters back into a zero array of the input's shape with
        ``np.add.at``, so an entry selected several times receives the sum.
        """
        index = _plain_index(index)
        shape = self.shape

        def backward(g):
            grad = np.zeros(shape, dtype=g.dtype)
            if _is_basic_index(index):
                grad[index] = g  # slices and integers never select an entry twice
            else:
                np.add.at(grad, index, g)
            self._add_grad(grad)

        return _result(self.data[index], (self,), backward)


# ---------------------------------------------------------------------- helpers
_new_tensor = object.__new__


def _result(data, parents: tuple, backward) -> Tensor:
    """Wrap an operation's output; record the graph only if it is needed."""
    out = _new_tensor(Tensor)
    # 0-d NumPy arithmetic returns NumPy scalars; .data is always an ndarray.
    out.data = data if type(data) is np.ndarray else np.asarray(data)
    out.grad = None
    out._g = None
    out._g_owned = False
    if grad_mode._enabled:
        for parent in parents:
            if parent.requires_grad:
                out.requires_grad = True
                out._parents = parents
                out._backward = backward
                return out
    out.requires_grad = False
    out._parents = ()
    out._backward = None
    return out


def _to_array(data, dtype) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, (np.ndarray, np.generic)):
        array = np.array(data, dtype=dtype)  # copies, keeps the dtype unless told
    else:
        array = np.array(data, dtype=np.float64 if dtype is None else dtype)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"unsupported dtype {array.dtype}: tensors hold bool, integer or float numbers")
    return array


def _unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes along which an input of ``shape`` was
    broadcast, returning an array of exactly ``shape``.

    NumPy broadcasting (1) prepends size-1 axes and (2) stretches size-1 axes.
    An input entry used k times receives the sum of the k gradients.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1
    )
    # keepdims=True keeps the result an ndarray even when everything is summed.
    return grad.sum(axis=axes, keepdims=True).reshape(shape)


def _unpack(x):
    """Split an operand into (the Tensor or None, its array or Python scalar)."""
    if isinstance(x, Tensor):
        return x, x.data
    if isinstance(x, (int, float)):
        return None, x  # Python scalars stay "weak": float32 op 2.0 stays float32
    return None, np.asarray(x)


def _parents(*tensors) -> tuple:
    return tuple(t for t in tensors if t is not None)


def _shape_error(verb: str, a, b) -> ValueError:
    return ValueError(f"cannot {verb} tensors of shapes {np.shape(a)} and {np.shape(b)}")


def _plain_index(index):
    """Replace Tensors inside an index by their arrays."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index


def _is_basic_index(index) -> bool:
    """True for indices built only from integers, slices, None and Ellipsis."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(
        p is None
        or p is Ellipsis
        or (isinstance(p, (slice, numbers.Integral)) and not isinstance(p, bool))
        for p in parts
    )


# ------------------------------------------------------------ binary operations
# Module-level functions so that reflected operators (2.0 - x, array @ x) keep
# the operands in their written order, which the error messages report.


def add(a, b) -> Tensor:
    """a + b; d/da = 1, d/db = 1 (each reduced over its broadcast axes)."""
    ta, ad = _unpack(a)
    tb, bd = _unpack(b)
    try:
        data = ad + bd
    except ValueError:
        raise _shape_error("add", ad, bd) from None

    def backward(g):
        if ta is not None and ta.requires_grad:
            ta._add_grad(_unbroadcast(g, ad.shape))
        if tb is not None and tb.requires_grad:
            tb._add_grad(_unbroadcast(g, bd.shape))

    return _result(data, _parents(ta, tb), backward)


def sub(a, b) -> Tensor:
    """a - b; d/da = 1, d/db = -1."""
    ta, ad = _unpack(a)
    tb, bd = _unpack(b)
    try:
        data = ad - bd
    except ValueError:
        raise _shape_error("subtract", ad, bd) from None

    def backward(g):
        if ta is not None and ta.requires_grad:
            ta._add_grad(_unbroadcast(g, ad.shape))
        if tb is not None and tb.requires_grad:
            tb._add_grad(_unbroadcast(-g, bd.shape))

    return _result(data, _parents(ta, tb), backward)


def mul(a, b) -> Tensor:
    """a * b; d/da = b, d/db = a."""
    ta, ad = _unpack(a)
    tb, bd = _unpack(b)
    try:
        data = ad * bd
    except ValueError:
        raise _shape_error("multiply", ad, bd) from None

    def backward(g):
        if ta is not None and ta.requires_grad:
            ta._add_grad(_unbroadcast(g * bd, ad.shape))
        if tb is not None and tb.requires_grad:
            tb._add_grad(_unbroadcast(g * ad, bd.shape))

    return _result(data, _parents(ta, tb), backward)


def div(a, b) -> Tensor:
    """a / b; d/da = 1/b, d/db = -a/b^2 = -(a/b)/b."""
    ta, ad = _unpack(a)
    tb, bd = _unpack(b)
    try:
        data = ad / bd
    except ValueError:
        raise _shape_error("divide", ad, bd) from None

    def backward(g):
        if ta is not None and ta.requires_grad:
            ta._add_grad(_unbroadcast(g / bd, ad.shape))
        if tb is not None and tb.requires_grad:
            tb._add_grad(_unbroadcast(-g * data / bd, bd.shape))

    return _result(data, _parents(ta, tb), backward)


def power(a, b) -> Tensor:
    """a ** b.

    d/da = b a^(b-1). d/db = a^b ln(a), defined for a > 0 and taken as 0
    elsewhere (PyTorch gives nan for a < 0). An exponent of exactly 0 has
    d/da = 0, also at a = 0.
    """
    ta, ad = _unpack(a)
    tb, bd = _unpack(b)
    try:
        data = ad**bd
    except ValueError:
        raise _shape_error("raise to a power", ad, bd) from None

    def backward(g):
        if ta is not None and ta.requires_grad:
            if isinstance(bd, (int, float)):  # the common case: x ** 2, x ** 0.5
                local = 0 * ad if bd == 0 else (2 * ad if bd == 2 else bd * ad ** (bd - 1))
            else:
                with np.errstate(divide="ignore", invalid="ignore"):
                    local = np.where(bd == 0, 0, bd * ad ** (bd - 1))
            ta._add_grad(_unbroadcast(g * local, ad.shape))
        if tb is not None and tb.requires_grad:
            positive = np.asarray(ad) > 0
            log_a = np.log(np.where(positive, ad, 1))  # ln(1) = 0 masks a <= 0
            tb._add_grad(_unbroadcast(g * data * log_a, bd.shape))

    return _result(data, _parents(ta, tb), backward)


def matmul(a, b) -> Tensor:
    """a @ b with NumPy's rules: 1-D operands are vectors, more than 2-D
    operands are stacks of matrices whose batch axes broadcast.

    For matrices C = A B: dA = G B^T and dB = A^T G. Vectors are promoted to
    matrices ((k,) -> (1, k) on the left, (k, 1) on the right) so that the
    same two formulas cover every case; batch axes are then reduced by
    ``_unbroadcast``.
    """
    ta, ad = _unpack(a)
    tb, bd = _unpack(b)
    ad, bd = np.asarray(ad), np.asarray(bd)
    if ad.ndim == 0 or bd.ndim == 0:
        raise ValueError(
            f"cannot matmul tensors of shapes {ad.shape} and {bd.shape}: both need at least one dimension"
        )
    k_left, k_right = ad.shape[-1], bd.shape[-2 if bd.ndim > 1 else 0]
    if k_left != k_right:
        raise ValueError(
            f"cannot matmul tensors of shapes {ad.shape} and {bd.shape}: "
            f"inner dimensions {k_left} and {k_right} differ"
        )
    try:
        data = ad @ bd
    except ValueError:
        raise ValueError(
            f"cannot matmul tensors of shapes {ad.shape} and {bd.shape}: batch dimensions do not broadcast"
        ) from None

    def backward(g):
        a2 = ad[None, :] if ad.ndim == 1 else ad
        b2 = bd[:, None] if bd.ndim == 1 else bd
        if bd.ndim == 1:
            g = g[..., None]  # restore the n axis dropped for a right vector
        if ad.ndim == 1:
            g = g[..., None, :]  # restore the m axis dropped for a left vector
        if ta is not None and ta.requires_grad:
            ga = g @ np.swapaxes(b2, -1, -2)
            ta._add_grad(_unbroadcast(ga, a2.shape).reshape(ad.shape))
        if tb is not None and tb.requires_grad:
            gb = np.swapaxes(a2, -1, -2) @ g
            tb._add_grad(_unbroadcast(gb, b2.shape).reshape(bd.shape))

    return _result(data, _parents(ta, tb), backward)
