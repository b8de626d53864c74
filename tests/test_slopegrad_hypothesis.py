"""Randomised shapes (hypothesis): broadcasting binary ops, matmul and reductions
against PyTorch autograd in float64."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import slopegrad as sg

pytestmark = pytest.mark.torch

SETTINGS = settings(max_examples=40, deadline=None)
TOL = 1e-10

seeds = st.integers(0, 2**32 - 1)
broadcast_pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4)


def assert_same(out, ref, inputs, references):
    assert out.shape == tuple(ref.shape)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=TOL, atol=TOL)
    for t, r in zip(inputs, references):
        assert t.grad.shape == t.shape
        np.testing.assert_allclose(t.grad, r.grad.numpy(), rtol=TOL, atol=TOL)


def run_both(fn, arrays, seed):
    """fn on slopegrad and torch tensors, weighted by the same random w, back-propagated."""
    ours = [sg.Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = fn(*ours), fn(*theirs)
    w = np.random.default_rng(seed).standard_normal(out.shape)
    (out * w).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    assert_same(out, ref, ours, theirs)


@SETTINGS
@given(
    shapes=broadcast_pairs,
    op=st.sampled_from(["add", "sub", "mul", "div", "pow", "add_reversed_scalar"]),
    seed=seeds,
)
def test_broadcasting_binary_ops(shapes, op, seed):
    a_shape, b_shape = shapes.input_shapes
    rng = np.random.default_rng(seed)
    if op in ("div", "pow"):  # keep bases and divisors away from 0
        arrays = [rng.uniform(0.5, 2.0, a_shape), rng.uniform(0.5, 2.0, b_shape)]
    else:
        arrays = [rng.standard_normal(a_shape), rng.standard_normal(b_shape)]
    fn = {
        "add": lambda a, b: a + b,
        "sub": lambda a, b: a - b,
        "mul": lambda a, b: a * b,
        "div": lambda a, b: a / b,
        "pow": lambda a, b: a**b,
        "add_reversed_scalar": lambda a, b: 2.0 - a * b,
    }[op]
    run_both(fn, arrays, seed)


@SETTINGS
@given(
    batch=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2, max_side=3),
    m=st.integers(1, 4),
    k=st.integers(1, 4),
    n=st.integers(1, 4),
    vector_left=st.booleans(),
    vector_right=st.booleans(),
    seed=seeds,
)
def test_matmul(batch, m, k, n, vector_left, vector_right, seed):
    a_batch, b_batch = batch.input_shapes
    a_shape = (k,) if vector_left else a_batch + (m, k)
    b_shape = (k,) if vector_right else b_batch + (k, n)
    rng = np.random.default_rng(seed)
    run_both(lambda a, b: a @ b, [rng.standard_normal(a_shape), rng.standard_normal(b_shape)], seed)


@st.composite
def reduction_args(draw):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4))
    ndim = len(shape)
    choices = [st.none()]
    if ndim:
        choices.append(st.integers(-ndim, ndim - 1))
        choices.append(hnp.valid_tuple_axes(ndim, min_size=1))
    axis = draw(st.one_of(*choices))
    return shape, axis, draw(st.booleans())


@SETTINGS
@given(args=reduction_args(), reduction=st.sampled_from(["sum", "mean", "max"]), seed=seeds)
def test_reductions(args, reduction, seed):
    shape, axis, keepdims = args
    x = np.random.default_rng(seed).standard_normal(shape)  # continuous: no ties for max

    def theirs(t):
        dims = tuple(range(t.ndim)) if axis is None else axis
        if reduction == "max":
            return torch.amax(t, dim=dims, keepdim=keepdims)
        return getattr(torch, reduction)(t, dim=dims, keepdim=keepdims)

    ours = sg.Tensor(x, requires_grad=True)
    reference = torch.tensor(x, requires_grad=True)
    out = getattr(ours, reduction)(axis=axis, keepdims=keepdims)
    ref = theirs(reference) if x.ndim else reference * 1.0  # torch cannot name dims of a 0-d tensor
    w = np.random.default_rng(seed + 1).standard_normal(out.shape)
    (out * w).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    assert_same(out, ref, [ours], [reference])
