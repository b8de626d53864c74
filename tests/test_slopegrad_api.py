"""slopegrad's API contract: accumulation, no_grad, errors, dtypes, seeding, modules."""

import ast
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import slopegrad as sg
import slopegrad.functional as F
import slopegrad.nn as nn


# ----------------------------------------------------------------- gradients
def test_gradients_accumulate_across_backward_calls_until_zeroed():
    w = nn.Parameter([1.0, -2.0, 3.0])
    x = np.array([0.5, 1.0, 2.0])
    (w * x).sum().backward()
    first = w.grad
    np.testing.assert_array_equal(first, x)
    (w * x).sum().backward()
    np.testing.assert_array_equal(w.grad, 2 * x)
    np.testing.assert_array_equal(first, x)  # the array handed out earlier was not written into
    w.grad = None
    ((w * w).sum()).backward()
    np.testing.assert_array_equal(w.grad, 2 * w.data)


def test_backward_twice_on_the_same_graph_accumulates():
    x = sg.Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    y.backward()
    np.testing.assert_array_equal(x.grad, 4 * x.data)


def test_zero_grad_sets_every_grad_to_none():
    model = nn.Sequential(nn.Linear(3, 4, rng=0), nn.ReLU(), nn.Linear(4, 2, rng=1))
    F.mse_loss(model(np.ones((2, 3))), np.zeros((2, 2))).backward()
    assert all(isinstance(p.grad, np.ndarray) for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_grad_is_an_array_never_aliasing_the_seed_or_data():
    x = sg.Tensor(np.ones((2, 3)), requires_grad=True)
    seed = np.full((2, 3), 2.0)
    (x + 0.0).backward(seed)
    assert type(x.grad) is np.ndarray and x.grad.flags.writeable
    assert not np.shares_memory(x.grad, seed)
    y = sg.Tensor(np.ones((2, 3)), requires_grad=True)
    y.sum().backward()  # gradient of a sum is a broadcast view internally
    assert y.grad.flags.writeable and y.grad.shape == (2, 3)
    y.grad += 1.0  # the user may modify it in place
    np.testing.assert_array_equal(y.grad, 2.0)


def test_shared_gradient_buffers_are_not_corrupted():
    # In (a + b) + a, the outer add hands one gradient array to both (a + b) and
    # a; a then receives a second contribution, which must go into a new
    # buffer, not into the shared array (which b and the caller also see).
    a = sg.Tensor([1.0, 2.0], requires_grad=True)
    b = sg.Tensor([3.0, 4.0], requires_grad=True)
    seed = np.array([1.0, 10.0])
    ((a + b) + a).backward(seed)
    np.testing.assert_array_equal(seed, [1.0, 10.0])  # the caller's array is untouched
    np.testing.assert_array_equal(a.grad, [2.0, 20.0])
    np.testing.assert_array_equal(b.grad, [1.0, 10.0])
    assert not np.shares_memory(b.grad, seed)

    # the same pattern on an array allocated inside backward() (exp's gradient)
    c = sg.Tensor([0.0, 1.0], requires_grad=True)
    d = sg.Tensor([0.0, 0.0], requires_grad=True)
    ((c + d) + c).exp().sum().backward()
    e = np.exp(2 * c.data)
    np.testing.assert_allclose(c.grad, 2 * e)
    np.testing.assert_allclose(d.grad, e)


def test_zeroth_power_has_zero_gradient_everywhere():
    x = sg.Tensor([0.0, 2.0, -3.0], requires_grad=True)
    (x**0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0])


def test_intermediate_tensors_are_not_leaves():
    x = sg.Tensor([1.0], requires_grad=True)
    y = x * 2.0
    assert x.is_leaf and not y.is_leaf and y.requires_grad
    assert sg.Tensor([1.0]).is_leaf
    d = y.detach()
    assert d.is_leaf and not d.requires_grad and np.shares_memory(d.data, y.data)


def test_shared_subexpressions_are_visited_once():
    # every step uses y twice: a naive traversal would visit 2**20 paths
    x = sg.Tensor([3.0], requires_grad=True)
    y = x
    for _ in range(20):
        y = (y + y) * 0.5
    order = y._topological_order()
    assert len(order) == len({id(t) for t in order}) == 1 + 2 * 20
    y.backward(np.ones(1))
    np.testing.assert_array_equal(x.grad, [1.0])


def test_deep_chain_does_not_hit_the_recursion_limit():
    depth = max(5000, sys.getrecursionlimit() + 1000)
    x = sg.Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(depth):
        y = y * 1.0001 + 0.0
    y.backward()
    assert x.grad == pytest.approx(1.0001**depth, rel=1e-9)


# ------------------------------------------------------------------- no_grad
def test_no_grad_builds_no_graph_and_restores_state():
    x = sg.Tensor([1.0, 2.0], requires_grad=True)
    assert sg.is_grad_enabled()
    with sg.no_grad():
        assert not sg.is_grad_enabled()
        y = (x * 3.0).exp().sum()
        with sg.no_grad():
            pass
        assert not sg.is_grad_enabled()  # the inner block restored "off", not "on"
    assert sg.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf and y._parents == ()
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_no_grad_restores_state_after_an_exception_and_works_as_decorator():
    with pytest.raises(KeyError):
        with sg.no_grad():
            raise KeyError("boom")
    assert sg.is_grad_enabled()

    @sg.no_grad()
    def evaluate(t):
        return t * 2.0

    assert not evaluate(sg.Tensor([1.0], requires_grad=True)).requires_grad
    assert sg.is_grad_enabled()


# -------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "op, verb",
    [
        (lambda a, b: a + b, "add"),
        (lambda a, b: a - b, "subtract"),
        (lambda a, b: a * b, "multiply"),
        (lambda a, b: a / b, "divide"),
    ],
)
def test_broadcasting_errors_name_both_shapes(op, verb):
    a, b = sg.Tensor(np.ones((2, 3))), sg.Tensor(np.ones(4))
    with pytest.raises(ValueError) as info:
        op(a, b)
    message = str(info.value)
    assert f"cannot {verb}" in message and "(2, 3)" in message and "(4,)" in message


def test_matmul_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 5\)"):
        sg.Tensor(np.ones((2, 3))) @ sg.Tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        sg.Tensor(np.ones(3)) @ np.ones(2)
    with pytest.raises(ValueError, match=r"\(2, 2, 3\).*\(3, 3, 4\)"):
        sg.Tensor(np.ones((2, 2, 3))) @ sg.Tensor(np.ones((3, 3, 4)))


def test_concatenate_and_linear_errors_name_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 4\)"):
        sg.concatenate([sg.Tensor(np.ones((2, 3))), sg.Tensor(np.ones((2, 4)))], axis=0)
    with pytest.raises(ValueError, match=r"\(2, 4\).*\(3, 5\)"):
        nn.Linear(5, 3)(sg.Tensor(np.ones((2, 4))))


def test_backward_on_non_scalar_needs_a_gradient():
    y = sg.Tensor(np.ones((2, 3)), requires_grad=True) * 2.0
    with pytest.raises(RuntimeError, match=r"needs a gradient argument.*non-scalar.*\(2, 3\)"):
        y.backward()
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(2, 3\)"):
        y.backward(np.ones((3, 2)))
    y.backward(np.ones((2, 3)))  # the right shape works


def test_backward_without_requires_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (sg.Tensor([1.0, 2.0]) * 2.0).sum().backward()


def test_only_floating_point_tensors_can_require_gradients():
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients"):
        sg.Tensor(np.array([1, 2, 3]), requires_grad=True)
    with pytest.raises(TypeError, match="only floating-point"):
        sg.Tensor(np.array([True, False]), requires_grad=True)
    with pytest.raises(TypeError, match="only floating-point"):
        nn.Parameter(np.arange(3))


def test_cross_entropy_validates_labels():
    logits = sg.Tensor(np.zeros((2, 3)), requires_grad=True)
    with pytest.raises(TypeError, match="integer"):
        F.cross_entropy(logits, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 3\)"):
        F.cross_entropy(logits, np.array([0, 1, 2]))
    with pytest.raises(IndexError, match=r"\[0, 3\)"):
        F.cross_entropy(logits, np.array([0, 3]))


def test_mse_loss_warns_when_shapes_would_broadcast():
    with pytest.warns(UserWarning, match=r"\(4,\).*\(4, 1\)"):
        F.mse_loss(sg.Tensor(np.zeros((4, 1))), np.zeros(4))


# -------------------------------------------------------------------- dtypes
def test_construction_dtypes():
    assert sg.Tensor(3).dtype == np.float64
    assert sg.Tensor([1, 2, 3]).dtype == np.float64  # integer-valued Python input becomes float
    assert sg.Tensor([[1.5]]).dtype == np.float64
    assert sg.Tensor(np.ones(2, dtype=np.float32)).dtype == np.float32
    assert sg.Tensor(np.float32(1.0)).dtype == np.float32
    labels = sg.Tensor(np.array([0, 2, 1]))
    assert labels.dtype == np.int64 and not labels.requires_grad
    assert sg.Tensor([1, 2], dtype=np.float32).dtype == np.float32
    assert type(sg.Tensor(2.0).data) is np.ndarray


def test_tensor_copies_its_input_array():
    source = np.zeros(3)
    t = sg.Tensor(source)
    t.data += 1.0
    np.testing.assert_array_equal(source, 0.0)


def test_float32_stays_float32_through_ops_and_gradients():
    x = sg.Tensor(np.linspace(0.1, 1.0, 6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    w = sg.Tensor(np.ones((3, 2), dtype=np.float32), requires_grad=True)
    outs = [
        x * 2.0, 2.0 * x, x + 1, 1 - x, x / 3, 3 / x, x**2, x**0.5, 2**x, -x, x.exp(), x.log(),
        x.sqrt(), x.tanh(), x.sigmoid(), x.relu(), x.abs(), x.sum(), x.mean(axis=0), x.max(axis=1),
        x @ w, x.T, x.reshape(3, 2), x[0], sg.concatenate([x, x]), F.log_softmax(x),
    ]
    for out in outs:
        assert out.dtype == np.float32, f"{out!r} is {out.dtype}"
    loss = sum((out.sum() for out in outs), sg.Tensor(np.float32(0.0)))
    loss = loss + F.cross_entropy(x, np.array([0, 2])) + F.mse_loss(x, np.zeros((2, 3), np.float32))
    assert loss.dtype == np.float32
    loss.backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


def test_grad_dtype_matches_data_even_when_promoted():
    x = sg.Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    y = x * np.array([1.0, 2.0, 3.0])  # a float64 array promotes the result
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [1.0, 2.0, 3.0])


def test_numpy_arrays_on_the_left_use_reflected_operators():
    x = sg.Tensor([1.0, 2.0], requires_grad=True)
    for out in (np.ones(2) + x, np.ones(2) - x, np.ones(2) * x, np.ones(2) / x, np.ones((3, 2)) @ x):
        assert isinstance(out, sg.Tensor) and out.requires_grad


# ---------------------------------------------------------------- stability
def test_cross_entropy_is_stable_for_huge_logits():
    logits = sg.Tensor([[1000.0, -1000.0], [-1000.0, 1000.0], [1000.0, 1000.0]], requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        loss = F.cross_entropy(logits, np.array([0, 0, 1]))
        loss.backward()
    # rows: correct with certainty (0), wrong by 2000 nats, a 50/50 tie (ln 2)
    assert loss.item() == pytest.approx((0.0 + 2000.0 + np.log(2)) / 3)
    assert np.all(np.isfinite(logits.grad))
    np.testing.assert_allclose(logits.grad, [[0, 0], [-1 / 3, 1 / 3], [1 / 6, -1 / 6]], atol=1e-15)


def test_sigmoid_and_log_softmax_are_stable():
    x = sg.Tensor([-1000.0, 0.0, 1000.0], requires_grad=True)
    with np.errstate(over="raise", invalid="raise"):
        s = x.sigmoid()
        s.sum().backward()
        ls = F.log_softmax(sg.Tensor([[1000.0, -1000.0]]))
    np.testing.assert_array_equal(s.data, [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(x.grad, [0.0, 0.25, 0.0])
    np.testing.assert_array_equal(ls.data, [[0.0, -2000.0]])


# ----------------------------------------------------------------- seeding
def test_manual_seed_gives_bit_identical_models():
    def build():
        return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))

    sg.manual_seed(42)
    first = [p.data.copy() for p in build().parameters()]
    sg.manual_seed(42)
    second = [p.data.copy() for p in build().parameters()]
    sg.manual_seed(43)
    other = [p.data.copy() for p in build().parameters()]
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert not any(np.array_equal(a, b) for a, b in zip(first, other))
    sg.manual_seed(42)
    r1 = sg.randn(3)
    sg.manual_seed(42)
    assert np.array_equal(r1.data, sg.randn(3).data)


def test_explicit_rng_and_float32_models():
    a = nn.Linear(3, 2, rng=np.random.default_rng(5))
    b = nn.Linear(3, 2, rng=5)
    c = nn.Linear(3, 2, dtype=np.float32, rng=5)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    assert c.weight.dtype == np.float32 and c.bias.dtype == np.float32
    np.testing.assert_array_equal(c.weight.data, a.weight.data.astype(np.float32))


def test_constructors():
    assert sg.zeros(2, 3).shape == (2, 3) and sg.ones((4,)).data.sum() == 4
    assert sg.randn(2, 2, dtype=np.float32, rng=0).dtype == np.float32
    assert sg.zeros(2, requires_grad=True).requires_grad


# ------------------------------------------------------------------ modules
class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(np.ones(3))
        self.layers = [nn.Linear(3, 3, rng=0), nn.Tanh(), nn.Linear(3, 1, rng=1)]
        self.head = nn.Sequential(nn.Linear(1, 2, bias=False, rng=2))
        self.shared = self.layers[0]  # the same module twice: its parameters are listed once
        self.note = "not a parameter"

    def forward(self, x):
        h = x * self.scale
        for layer in self.layers:
            h = layer(h)
        return self.head(h)


def test_named_parameters_are_dotted_in_definition_order_and_unique():
    block = Block()
    names = [name for name, _ in block.named_parameters()]
    assert names == [
        "scale",
        "layers.0.weight",
        "layers.0.bias",
        "layers.2.weight",
        "layers.2.bias",
        "head.0.weight",
    ]
    params = list(block.parameters())
    assert len(params) == len({id(p) for p in params}) == 6
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in params)


def test_module_call_train_eval_and_sequential():
    block = Block()
    assert block(sg.Tensor(np.ones((4, 3)))).shape == (4, 2)
    block.eval()
    assert not block.training and not block.layers[1].training and not block.head[0].training
    block.train()
    assert block.training and block.head[0].training
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[1], nn.ReLU) and len(seq[:2]) == 2
    assert [type(m).__name__ for m in seq] == ["Linear", "ReLU", "Linear"]
    assert "Linear(in_features=2, out_features=3, bias=True)" in repr(seq)


def test_tensor_basics():
    t = sg.Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    assert t.shape == (2, 3) and t.ndim == 2 and t.size == 6 and len(t) == 2
    assert t.T.shape == (3, 2) and t.dtype == np.float64
    assert t.sum().item() == 21.0 and isinstance(t.sum().item(), float)
    assert t.numpy() is t.data and np.asarray(t) is t.data
    assert repr(sg.Tensor([1.0, 2.0])) == "Tensor([1., 2.])"
    assert "requires_grad=True" in repr(t) and "dtype=float32" in repr(sg.Tensor(np.ones(1, np.float32)))
    with pytest.raises(TypeError):
        len(sg.Tensor(1.0))


# ----------------------------------------------------------------- the walls
def test_slopegrad_imports_only_numpy_and_the_standard_library():
    """No torch, nothing from the grading system: whatever students import stays light and walled off."""
    package = pathlib.Path(sg.__file__).parent
    allowed = set(sys.stdlib_module_names) | {"numpy", "__future__"}
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = {node.module.split(".")[0]}
            else:
                continue
            assert roots <= allowed, f"slopegrad/{path.name} imports {sorted(roots - allowed)}"


def test_importing_slopegrad_loads_neither_torch_nor_the_grader():
    root = pathlib.Path(sg.__file__).parent.parent
    code = (
        "import sys, slopegrad, slopegrad.nn, slopegrad.functional; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'autograder')); "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True)
