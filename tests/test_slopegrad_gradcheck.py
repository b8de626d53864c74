"""Every slopegrad operation's gradient against central finite differences (float64).

Each case is a function of some input arrays. The test reduces its output to
a scalar L = sum(out * w) with a fixed random w (so the whole Jacobian is
exercised, not just its column sums), back-propagates, and compares every
input's ``.grad`` with the numerical gradient of L.
"""

import numpy as np
import pytest

import slopegrad as sg
import slopegrad.functional as F

EPS = 1e-6
RTOL = 1e-6


def numerical_gradient(f, arrays, eps=EPS):
    """Central differences (f(x + eps e_i) - f(x - eps e_i)) / (2 eps) of the
    scalar function ``f(*arrays)`` with respect to every entry of every array."""
    grads = []
    for array in arrays:
        grad = np.zeros_like(array)
        for i in np.ndindex(array.shape):
            saved = array[i]
            array[i] = saved + eps
            f_plus = f(*arrays)
            array[i] = saved - eps
            f_minus = f(*arrays)
            array[i] = saved
            grad[i] = (f_plus - f_minus) / (2 * eps)
        grads.append(grad)
    return grads


def check_gradients(fn, *arrays, seed=0):
    """Compare slopegrad's gradients of sum(fn(*inputs) * w) with finite differences."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    tensors = [sg.Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    w = np.random.default_rng(seed).standard_normal(out.shape)
    (out * w).sum().backward()

    def scalar(*arrs):
        with sg.no_grad():
            return float((fn(*[sg.Tensor(a) for a in arrs]).data * w).sum())

    expected = numerical_gradient(scalar, arrays)
    for k, (t, numeric) in enumerate(zip(tensors, expected)):
        assert t.grad is not None, f"input {k} got no gradient"
        assert t.grad.shape == t.shape and t.grad.dtype == t.dtype
        scale = max(1.0, float(np.max(np.abs(numeric), initial=0.0)))
        error = float(np.max(np.abs(t.grad - numeric), initial=0.0))
        assert error <= RTOL * scale, (
            f"input {k}: max |analytic - numeric| = {error:.3g} > {RTOL * scale:.3g}\n"
            f"analytic:\n{t.grad}\nnumeric:\n{numeric}"
        )


rng = np.random.default_rng(1234)


def randn(*shape):
    return rng.standard_normal(shape)


def positive(*shape):
    return rng.uniform(0.5, 2.0, shape)


def away_from_zero(*shape):
    """Entries with |x| >= 0.1, so kinks of relu/abs are never within eps."""
    return rng.uniform(0.1, 1.0, shape) * rng.choice([-1.0, 1.0], shape)


BINARY_SHAPES = [
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((4,), (3, 4)),
    ((3, 1), (1, 4)),
    ((), (3, 4)),
    ((3, 4), ()),
    ((2, 3, 4), (3, 1)),
]


@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=str)
@pytest.mark.parametrize(
    "name, fn",
    [
        ("add", lambda a, b: a + b),
        ("sub", lambda a, b: a - b),
        ("mul", lambda a, b: a * b),
        ("div", lambda a, b: a / b),
        ("pow", lambda a, b: a**b),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_broadcasting_binary_ops(name, fn, shapes):
    a_shape, b_shape = shapes
    if name in ("div", "pow"):
        check_gradients(fn, positive(*a_shape), positive(*b_shape))
    else:
        check_gradients(fn, randn(*a_shape), randn(*b_shape))


@pytest.mark.parametrize(
    "fn, make",
    [
        (lambda x: -x, randn),
        (lambda x: 2.0 + x, randn),
        (lambda x: x + 2.0, randn),
        (lambda x: 2.0 - x, randn),
        (lambda x: x - 2.0, randn),
        (lambda x: 3.0 * x, randn),
        (lambda x: 3.0 / x, positive),
        (lambda x: x / 3.0, randn),
        (lambda x: x**2, randn),
        (lambda x: x**3, randn),
        (lambda x: x**0.5, positive),
        (lambda x: x**-1.5, positive),
        (lambda x: x**0, randn),
        (lambda x: 2.0**x, randn),
        (lambda x: np.arange(1.0, 5.0) * x, randn),
        (lambda x: x - np.arange(4.0), randn),
        (lambda x: np.full((2, 1, 4), 0.5) / x, positive),
        (lambda x: x ** np.array([1.0, 2.0, 3.0, 0.5]), positive),
    ],
    ids=[
        "neg", "radd", "add_scalar", "rsub", "sub_scalar", "rmul", "rdiv", "div_scalar",
        "square", "cube", "sqrt_pow", "neg_pow", "pow0", "rpow", "array_mul", "array_sub",
        "array_rdiv_broadcast", "pow_array_exponent",
    ],
)
def test_ops_with_constants(fn, make):
    check_gradients(fn, make(3, 4))


@pytest.mark.parametrize(
    "fn, make",
    [
        (lambda x: x.exp(), randn),
        (lambda x: sg.exp(x), randn),
        (lambda x: x.log(), positive),
        (lambda x: x.sqrt(), positive),
        (lambda x: x.abs(), away_from_zero),
        (lambda x: x.relu(), away_from_zero),
        (lambda x: x.tanh(), randn),
        (lambda x: x.sigmoid(), randn),
        (lambda x: (x * 30).sigmoid(), randn),  # both branches of the stable form
    ],
    ids=["exp", "sg.exp", "log", "sqrt", "abs", "relu", "tanh", "sigmoid", "sigmoid_saturating"],
)
@pytest.mark.parametrize("shape", [(), (5,), (3, 4)], ids=str)
def test_unary_ops(fn, make, shape):
    check_gradients(fn, make(*shape))


REDUCTION_CASES = [
    (None, False),
    (None, True),
    (0, False),
    (1, True),
    (-1, False),
    (-1, True),
    ((0, 2), False),
    ((0, -1), True),
    ((-3, -2), False),
]


@pytest.mark.parametrize("axis, keepdims", REDUCTION_CASES, ids=str)
@pytest.mark.parametrize("reduction", ["sum", "mean", "max"])
def test_reductions(reduction, axis, keepdims):
    # randn has no ties, so max's gradient is unambiguous
    check_gradients(lambda x: getattr(x, reduction)(axis=axis, keepdims=keepdims), randn(2, 3, 4))


def test_max_splits_gradient_evenly_among_ties():
    x = sg.Tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]], requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0.0, 0.5, 0.5], [0.5, 0.0, 0.5]])
    y = sg.Tensor([5.0, 5.0, 1.0, 5.0], requires_grad=True)
    y.max().backward()
    np.testing.assert_array_equal(y.grad, [1 / 3, 1 / 3, 0.0, 1 / 3])


MATMUL_SHAPES = [
    ((3, 4), (4, 5)),
    ((4,), (4, 5)),
    ((3, 4), (4,)),
    ((4,), (4,)),
    ((2, 3, 4), (4, 5)),
    ((4,), (2, 4, 5)),
    ((2, 3, 4), (4,)),
    ((2, 1, 3, 4), (5, 4, 2)),
]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul(shapes):
    check_gradients(lambda a, b: a @ b, randn(*shapes[0]), randn(*shapes[1]))


def test_matmul_with_constant_arrays():
    w = randn(4, 2)
    check_gradients(lambda a: a @ w, randn(3, 4))
    check_gradients(lambda b: w.T @ b, randn(4, 3))


@pytest.mark.parametrize(
    "fn, shape",
    [
        (lambda x: x.reshape(4, 3), (3, 4)),
        (lambda x: x.reshape((2, -1)), (3, 4)),
        (lambda x: x.reshape(-1), (2, 3, 2)),
        (lambda x: x.T, (3, 4)),
        (lambda x: x.T, (2, 3, 4)),
        (lambda x: x.transpose(), (3, 4)),
        (lambda x: x.transpose(1, 2, 0), (2, 3, 4)),
        (lambda x: x.transpose((2, 0, 1)), (2, 3, 4)),
        (lambda x: x.transpose(0, -1, 1), (2, 3, 4)),
        (lambda x: x[1], (3, 4)),
        (lambda x: x[:, 1:3], (3, 4)),
        (lambda x: x[::-1, ::2], (3, 4)),
        (lambda x: x[..., None, 2], (2, 3, 4)),
        (lambda x: x[np.array([0, 2, 0, 0])], (3, 4)),  # repeated rows accumulate
        (lambda x: x[np.array([1, 1]), np.array([3, 3])], (3, 4)),  # the same entry twice
        (lambda x: x[:, np.array([0, 3, 3])], (3, 4)),
        (lambda x: x[np.array([[True, False, True, False]] * 3)], (3, 4)),
        (lambda x: x[np.array([True, False, True])], (3, 4)),
        (lambda x: x[sg.Tensor(np.array([2, 0, 2]))], (3, 4)),  # integer Tensor index
    ],
    ids=[
        "reshape", "reshape_tuple", "flatten", "T_2d", "T_3d", "transpose_default", "transpose_axes",
        "transpose_tuple", "transpose_negative", "int", "slice", "negative_step", "ellipsis_newaxis",
        "int_array_repeats", "same_entry_twice", "column_repeats", "bool_mask_2d", "bool_mask_rows",
        "tensor_index",
    ],
)
def test_shape_ops_and_indexing(fn, shape):
    check_gradients(fn, randn(*shape))


@pytest.mark.parametrize(
    "shapes, axis",
    [
        (((2, 3), (4, 3)), 0),
        (((3, 2), (3, 1), (3, 4)), 1),
        (((2, 3, 1), (2, 3, 2)), -1),
        (((5,), (2,)), 0),
    ],
    ids=str,
)
def test_concatenate(shapes, axis):
    check_gradients(lambda *ts: sg.concatenate(ts, axis=axis), *[randn(*s) for s in shapes])


def test_concatenate_same_tensor_twice():
    check_gradients(lambda x: sg.concatenate([x, x * 2.0, x], axis=0), randn(2, 3))


def test_tensor_used_many_times():
    check_gradients(lambda x, y: (x * y + x.exp()) * x / (y * y + 1.0) - x, randn(3, 4), randn(4))


def test_tensor_tensor_power_exponent_gradient():
    check_gradients(lambda a, b: a**b, positive(3, 4), randn(3, 4))
    check_gradients(lambda b: 2.5**b, randn(5))


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_log_softmax(axis):
    check_gradients(lambda x: F.log_softmax(x, axis=axis), randn(3, 5) * 3)


def test_cross_entropy():
    labels = np.array([0, 3, 3, 1])
    check_gradients(lambda x: F.cross_entropy(x, labels), randn(4, 5) * 3)
    check_gradients(lambda x: sg.cross_entropy(x, sg.Tensor(labels)), randn(4, 5))


def test_mse_loss():
    check_gradients(lambda p, t: F.mse_loss(p, t), randn(4, 3), randn(4, 3))
    check_gradients(lambda p: sg.mse_loss(p, np.ones((4, 3))), randn(4, 3))


@pytest.mark.parametrize("x_shape", [(4, 3), (3,), (2, 4, 3)], ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_linear(x_shape, bias):
    if bias:
        check_gradients(F.linear, randn(*x_shape), randn(5, 3), randn(5))
    else:
        check_gradients(F.linear, randn(*x_shape), randn(5, 3))


def test_small_network_end_to_end():
    labels = np.array([2, 0, 1])

    def net(x, w1, b1, w2):
        h = (x @ w1.T + b1).tanh()
        logits = F.linear(h, w2).relu() + h.sum(axis=1, keepdims=True).sigmoid()
        return F.cross_entropy(logits, labels) + F.mse_loss(h.mean(axis=0), np.zeros(4))

    check_gradients(net, randn(3, 5), randn(4, 5), randn(4), randn(3, 4))
