import pytest
import torch

from skreg._module import MLPModule
from skreg._penalty import penalized_weights, weight_penalty


def test_only_weight_matrices_are_penalized():
    module = MLPModule(3, 2, [4, 5], "relu", [0.0, 0.0], batch_norm=True)
    weights = penalized_weights(module)
    linear_weights = [module.hidden[0].weight, module.hidden[3].weight, module.output.weight]
    assert len(weights) == 3
    assert all(any(w is lw for lw in linear_weights) for w in weights)


def test_penalty_formula():
    w1 = torch.tensor([[1.0, -2.0]])
    w2 = torch.tensor([[3.0], [-4.0]])
    l1, l2 = 0.1, 0.01
    expected = l1 * (1 + 2 + 3 + 4) + 0.5 * l2 * (1 + 4 + 9 + 16)
    assert weight_penalty([w1, w2], l1, l2).item() == pytest.approx(expected)
    assert weight_penalty([w1, w2], 0.0, 0.0).item() == 0.0


def test_l2_gradient_equals_sgd_weight_decay():
    w = torch.randn(3, 4, requires_grad=True)
    weight_penalty([w], 0.0, 0.3).backward()
    torch.testing.assert_close(w.grad, 0.3 * w.detach())
