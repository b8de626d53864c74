"""Activations, ``linear`` and losses, as functions (like ``torch.nn.functional``).

``linear``, ``log_softmax`` and ``cross_entropy`` are fused operations: each
is one graph node with a hand-derived backward, which is both faster and more
accurate than composing it from smaller operations. Their derivations are in
their docstrings.
"""

from __future__ import annotations

import warnings

import numpy as np

from .ops import as_tensor, relu, sigmoid, tanh
from .tensor import Tensor, _parents, _result, _unpack

__all__ = ["relu", "tanh", "sigmoid", "linear", "log_softmax", "cross_entropy", "mse_loss"]


def linear(x, weight, bias=None) -> Tensor:
    """y = x W^T + b, for x of shape (..., in), W (out, in), b (out,).

    With G = dL/dy, flattened over the leading axes to (N, out):
    dL/dx = G W, dL/dW = G^T x, dL/db = sum of G over its rows.
    """
    tx, xd = _unpack(x)
    tw, wd = _unpack(weight)
    tb, bd = _unpack(bias) if bias is not None else (None, None)
    xd, wd = np.asarray(xd), np.asarray(wd)
    if xd.ndim == 0 or xd.shape[-1] != wd.shape[-1]:
        raise ValueError(
            f"cannot apply linear to input of shape {xd.shape} with weight of shape {wd.shape}: "
            f"the input's last dimension must be {wd.shape[-1]}"
        )
    data = xd @ wd.T
    if bd is not None:
        if bd.dtype == data.dtype:
            data += bd  # into the fresh matmul result: saves an allocation
        else:
            data = data + bd

    def backward(g):
        if tx is not None and tx.requires_grad:
            tx._add_grad(g @ wd)
        g2 = g.reshape(-1, wd.shape[0])
        if tw is not None and tw.requires_grad:
            tw._add_grad(g2.T @ xd.reshape(-1, wd.shape[1]))
        if tb is not None and tb.requires_grad:
            tb._add_grad(g2.sum(axis=0))

    return _result(data, _parents(tx, tw, tb), backward)


def log_softmax(x, axis: int = -1) -> Tensor:
    """y_i = x_i - log(sum_j e^{x_j}) along ``axis``.

    Computed as (x - m) - log(sum_j e^{x_j - m}) with m the maximum along the
    axis: every exponent is <= 0, so nothing overflows, and the shift cancels
    exactly, so it needs no gradient of its own.
    With p = softmax(x) = e^y: dL/dx_i = g_i - p_i sum_j g_j.
    """
    x = as_tensor(x)
    z = x.data - x.data.max(axis=axis, keepdims=True)
    data = z - np.log(np.exp(z).sum(axis=axis, keepdims=True))

    def backward(g):
        x._add_grad(g - np.exp(data) * g.sum(axis=axis, keepdims=True))

    return _result(data, (x,), backward)


def cross_entropy(logits, labels) -> Tensor:
    """Mean negative log-likelihood of integer class labels under softmax(logits).

    L = -(1/N) sum_n log p[n, y_n], p = softmax(logits) row by row, computed
    with the row maximum subtracted first (stable for logits like +-1000).
    dL/dlogits = (p - onehot(y)) / N.

    logits : Tensor of shape (N, C).
    labels : integer array or Tensor of shape (N,) with values in [0, C).
    """
    logits = as_tensor(logits)
    y = labels.data if isinstance(labels, Tensor) else np.asarray(labels)
    x = logits.data
    if x.ndim != 2:
        raise ValueError(f"cross_entropy expects logits of shape (N, C), got shape {x.shape}")
    if y.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy expects integer class labels, got dtype {y.dtype}")
    n, c = x.shape
    if y.shape != (n,):
        raise ValueError(f"cross_entropy: labels of shape {y.shape} do not match logits of shape {x.shape}")
    if n and (y.min() < 0 or y.max() >= c):
        raise IndexError(f"cross_entropy: labels must lie in [0, {c}), got values from {y.min()} to {y.max()}")

    rows = np.arange(n)
    z = x - x.max(axis=1, keepdims=True)
    e = np.exp(z)
    total = e.sum(axis=1, keepdims=True)
    probs = e / total  # softmax, kept for the backward pass
    data = -(z[rows, y] - np.log(total[:, 0])).mean()

    def backward(g):
        scale = g / n
        grad = probs * scale
        grad[rows, y] -= scale
        logits._add_grad(grad)

    return _result(data, (logits,), backward)


def mse_loss(pred, target) -> Tensor:
    """Mean squared error: L = (1/n) sum_i (pred_i - target_i)^2.

    Like PyTorch, differing shapes broadcast with a warning, since that is
    usually a bug ((N, 1) against (N,) silently becomes (N, N)).
    """
    if np.shape(getattr(pred, "data", pred)) != np.shape(getattr(target, "data", target)):
        warnings.warn(
            f"mse_loss: target shape {np.shape(getattr(target, 'data', target))} differs from input shape "
            f"{np.shape(getattr(pred, 'data', pred))}; they will broadcast, which is likely a mistake",
            UserWarning,
            stacklevel=2,
        )
    return ((as_tensor(pred) - target) ** 2).mean()
