"""slopegrad against PyTorch autograd: the same computations, gradients equal to 1e-10 (float64).

Each case is written twice, once per library, and both get identical inputs
and an identical output weighting w (L = sum(out * w)).
"""

import numpy as np
import pytest
import torch

import slopegrad as sg
import slopegrad.functional as F
import slopegrad.nn as nn

pytestmark = pytest.mark.torch

TOL = 1e-10


def assert_close(actual, expected, what):
    np.testing.assert_allclose(actual, expected, rtol=TOL, atol=TOL, err_msg=what)


def compare(sg_fn, torch_fn, *arrays, seed=0):
    """Run both functions on the same float64 inputs; compare outputs and gradients."""
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    ours = [sg.Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = sg_fn(*ours), torch_fn(*theirs)
    assert out.shape == tuple(ref.shape), f"output shape {out.shape} != torch {tuple(ref.shape)}"
    assert_close(out.data, ref.detach().numpy(), "forward")
    w = np.random.default_rng(seed).standard_normal(out.shape)
    (out * w).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    for k, (t, r) in enumerate(zip(ours, theirs)):
        assert t.grad is not None and t.grad.shape == t.shape
        assert_close(t.grad, r.grad.numpy(), f"gradient of input {k}")


rng = np.random.default_rng(2024)


def randn(*shape):
    return rng.standard_normal(shape)


def positive(*shape):
    return rng.uniform(0.5, 2.0, shape)


BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / b, lambda a, b: a / b),
    "pow": (lambda a, b: a**b, lambda a, b: a**b),
}
BINARY_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((), (3, 4)), ((2, 3, 4), (3, 1))]


@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=str)
@pytest.mark.parametrize("name", BINARY)
def test_binary_ops(name, shapes):
    make = positive if name in ("div", "pow") else randn
    compare(*BINARY[name], make(*shapes[0]), make(*shapes[1]))


UNARY = {
    "neg": (lambda x: -x, lambda x: -x, randn),
    "exp": (lambda x: x.exp(), torch.exp, randn),
    "log": (lambda x: x.log(), torch.log, positive),
    "sqrt": (lambda x: sg.sqrt(x), torch.sqrt, positive),
    "abs": (lambda x: x.abs(), torch.abs, randn),
    "relu": (lambda x: x.relu(), torch.relu, randn),
    "tanh": (lambda x: x.tanh(), torch.tanh, randn),
    "sigmoid": (lambda x: (x * 20).sigmoid(), lambda x: (x * 20).sigmoid(), randn),
    "square": (lambda x: x**2, lambda x: x**2, randn),
    "pow_-1.5": (lambda x: x**-1.5, lambda x: x**-1.5, positive),
    "rpow": (lambda x: 3.0**x, lambda x: 3.0**x, randn),
    "rsub": (lambda x: 1.0 - x, lambda x: 1.0 - x, randn),
    "rdiv": (lambda x: 2.0 / x, lambda x: 2.0 / x, positive),
    "array_mul": (lambda x: np.arange(4.0) * x, lambda x: torch.arange(4.0, dtype=torch.float64) * x, randn),
}


@pytest.mark.parametrize("name", UNARY)
def test_unary_ops(name):
    ours, theirs, make = UNARY[name]
    compare(ours, theirs, make(3, 4))


REDUCTIONS = [(None, False), (0, False), (-1, True), ((0, 2), False), ((-1, 0), True)]


@pytest.mark.parametrize("axis, keepdims", REDUCTIONS, ids=str)
@pytest.mark.parametrize("reduction", ["sum", "mean", "max"])
def test_reductions(reduction, axis, keepdims):
    def theirs(x):
        if axis is None:
            out = getattr(torch, "amax" if reduction == "max" else reduction)(x)
            return out.reshape((1, 1, 1)) if keepdims else out
        if reduction == "max":
            return torch.amax(x, dim=axis, keepdim=keepdims)
        return getattr(torch, reduction)(x, dim=axis, keepdim=keepdims)

    compare(lambda x: getattr(x, reduction)(axis=axis, keepdims=keepdims), theirs, randn(2, 3, 4))


@pytest.mark.parametrize(
    "shapes",
    [
        ((3, 4), (4, 5)),
        ((4,), (4, 5)),
        ((3, 4), (4,)),
        ((4,), (4,)),
        ((2, 3, 4), (4, 5)),
        ((2, 1, 3, 4), (5, 4, 2)),
    ],
    ids=str,
)
def test_matmul(shapes):
    compare(lambda a, b: a @ b, lambda a, b: a @ b, randn(*shapes[0]), randn(*shapes[1]))


def test_shape_ops_indexing_concatenate():
    index = np.array([0, 2, 2, 1])
    mask = np.array([True, False, True])
    compare(
        lambda x: (x.reshape(4, 3).T[index] + x[mask].sum(axis=0)).transpose(),
        lambda x: (x.reshape(4, 3).T[torch.tensor(index)] + x[torch.tensor(mask)].sum(dim=0)).transpose(0, 1),
        randn(3, 4),
    )
    compare(
        lambda a, b: sg.concatenate([a, b, a], axis=1),
        lambda a, b: torch.cat([a, b, a], dim=1),
        randn(2, 3),
        randn(2, 2),
    )
    compare(
        lambda x: x.transpose(2, 0, 1)[1:, ::2],
        lambda x: x.permute(2, 0, 1)[1:, ::2],
        randn(2, 3, 4),
    )


def test_log_softmax_and_losses():
    labels = np.array([1, 0, 4, 4, 2])
    compare(lambda x: F.log_softmax(x), lambda x: torch.log_softmax(x, dim=-1), randn(5, 6) * 4)
    compare(lambda x: F.log_softmax(x, axis=0), lambda x: torch.log_softmax(x, dim=0), randn(5, 6))
    compare(
        lambda x: F.cross_entropy(x, labels),
        lambda x: torch.nn.functional.cross_entropy(x, torch.tensor(labels)),
        randn(5, 6) * 4,
    )
    compare(lambda p, t: F.mse_loss(p, t), torch.nn.functional.mse_loss, randn(5, 3), randn(5, 3))


def test_cross_entropy_extreme_logits_match_torch():
    logits = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0], [5.0, 5.0, 5.0]])
    labels = np.array([1, 2, 0])
    compare(
        lambda x: F.cross_entropy(x, labels),
        lambda x: torch.nn.functional.cross_entropy(x, torch.tensor(labels)),
        logits,
    )


def build_mlp(activation, seed):
    sg.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 7), activation(), nn.Linear(7, 7), activation(), nn.Linear(7, 3))


def to_torch(model, activation):
    """The same network in PyTorch, weights copied from ``model``."""
    layers = []
    for module in model:
        if isinstance(module, nn.Linear):
            linear = torch.nn.Linear(module.in_features, module.out_features, dtype=torch.float64)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(module.weight.data))
                linear.bias.copy_(torch.from_numpy(module.bias.data))
            layers.append(linear)
        else:
            layers.append(activation())
    return torch.nn.Sequential(*layers)


@pytest.mark.parametrize(
    "activation, torch_activation",
    [(nn.Tanh, torch.nn.Tanh), (nn.ReLU, torch.nn.ReLU), (nn.Sigmoid, torch.nn.Sigmoid)],
    ids=["tanh", "relu", "sigmoid"],
)
@pytest.mark.parametrize("loss", ["cross_entropy", "mse_loss"])
def test_mlp_outputs_and_all_parameter_gradients_match_torch(activation, torch_activation, loss):
    model = build_mlp(activation, seed=7)
    reference = to_torch(model, torch_activation)
    data = np.random.default_rng(3)
    x = data.standard_normal((16, 5))
    if loss == "cross_entropy":
        y = data.integers(0, 3, size=16)
        ours = F.cross_entropy(model(sg.Tensor(x)), y)
        theirs = torch.nn.functional.cross_entropy(reference(torch.from_numpy(x)), torch.from_numpy(y))
    else:
        y = data.standard_normal((16, 3))
        ours = F.mse_loss(model(sg.Tensor(x)), sg.Tensor(y))
        theirs = torch.nn.functional.mse_loss(reference(torch.from_numpy(x)), torch.from_numpy(y))
    assert_close(ours.item(), theirs.item(), "loss")
    ours.backward()
    theirs.backward()
    ours_named = dict(model.named_parameters())
    theirs_named = dict(reference.named_parameters())
    assert list(ours_named) == list(theirs_named)  # same names, same order
    for name, parameter in ours_named.items():
        assert_close(parameter.grad, theirs_named[name].grad.numpy(), f"gradient of {name}")


def test_training_steps_track_torch():
    """Ten SGD steps in both libraries stay equal (gradients feed back into weights)."""
    model = build_mlp(nn.ReLU, seed=11)
    reference = to_torch(model, torch.nn.ReLU)
    data = np.random.default_rng(5)
    x, y = data.standard_normal((32, 5)), data.integers(0, 3, size=32)
    for _ in range(10):
        loss = F.cross_entropy(model(sg.Tensor(x)), y)
        loss.backward()
        for p in model.parameters():
            p.data -= 0.1 * p.grad
        model.zero_grad()
        ref_loss = torch.nn.functional.cross_entropy(reference(torch.from_numpy(x)), torch.from_numpy(y))
        ref_loss.backward()
        with torch.no_grad():
            for p in reference.parameters():
                p -= 0.1 * p.grad
        reference.zero_grad()
        assert_close(loss.item(), ref_loss.item(), "loss")
    for (name, ours), theirs in zip(model.named_parameters(), reference.parameters()):
        assert_close(ours.data, theirs.detach().numpy(), f"{name} after 10 steps")


def test_float32_is_preserved_and_matches_torch_float32():
    data = np.random.default_rng(0)
    x32 = data.standard_normal((8, 5)).astype(np.float32)
    labels = data.integers(0, 3, size=8)
    sg.manual_seed(1)
    model = nn.Sequential(nn.Linear(5, 4, dtype=np.float32), nn.Tanh(), nn.Linear(4, 3, dtype=np.float32))
    # float32 explicitly: another test in this process may have set torch's default dtype to float64.
    reference = torch.nn.Sequential(torch.nn.Linear(5, 4, dtype=torch.float32), torch.nn.Tanh(),
                                    torch.nn.Linear(4, 3, dtype=torch.float32))
    with torch.no_grad():
        for ours, theirs in zip(model.parameters(), reference.parameters()):
            theirs.copy_(torch.from_numpy(ours.data))
    xt = sg.Tensor(x32, requires_grad=True)
    h = model(xt)
    extra = ((h * 2.0) ** 2 / 3 - 1.0).exp().sqrt().mean(axis=0) + h.max() + h.sigmoid().sum()
    loss = F.cross_entropy(h, labels) + extra.sum() * 0.01
    for t in (h, extra, loss):
        assert t.dtype == np.float32, f"{t.dtype} leaked into a float32 computation"
    loss.backward()
    assert xt.grad.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in model.parameters())

    xr = torch.from_numpy(x32).requires_grad_(True)
    hr = reference(xr)
    extra_r = ((hr * 2.0) ** 2 / 3 - 1.0).exp().sqrt().mean(dim=0) + hr.max() + hr.sigmoid().sum()
    loss_r = torch.nn.functional.cross_entropy(hr, torch.from_numpy(labels)) + extra_r.sum() * 0.01
    loss_r.backward()
    np.testing.assert_allclose(loss.item(), loss_r.item(), rtol=1e-5)
    np.testing.assert_allclose(xt.grad, xr.grad.numpy(), rtol=1e-4, atol=1e-6)
    for ours, theirs in zip(model.parameters(), reference.parameters()):
        np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_linear_initialisation_follows_torch_bounds():
    layer = nn.Linear(16, 8, rng=0)
    assert layer.weight.shape == (8, 16) and layer.bias.shape == (8,)
    bound = 1 / np.sqrt(16)
    assert np.all(np.abs(layer.weight.data) <= bound) and np.all(np.abs(layer.bias.data) <= bound)
    assert layer.weight.data.std() == pytest.approx(bound / np.sqrt(3), rel=0.25)  # std of U(-b, b)
    reference = torch.nn.Linear(16, 8, dtype=torch.float64)
    with torch.no_grad():
        reference.weight.copy_(torch.from_numpy(layer.weight.data))
        reference.bias.copy_(torch.from_numpy(layer.bias.data))
    x = np.random.default_rng(1).standard_normal((3, 16))
    assert_close(layer(sg.Tensor(x)).data, reference(torch.from_numpy(x)).detach().numpy(), "Linear forward")
