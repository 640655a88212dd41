import pytest
import torch
from torch import nn

from skreg._module import ACTIVATIONS, GeneratorDropout, MLPModule


def layer_types(module):
    return [type(layer) for layer in module.hidden]


def test_blocks_in_order_with_batch_norm_and_dropout():
    module = MLPModule(5, 3, [8, 4], "relu", [0.5, 0.0], batch_norm=True)
    assert layer_types(module) == [
        nn.Linear, nn.BatchNorm1d, nn.ReLU, GeneratorDropout, nn.Linear, nn.BatchNorm1d, nn.ReLU
    ]
    assert module.hidden[3].p == 0.5
    assert module.output.in_features == 4 and module.output.out_features == 3


def test_no_hidden_layers_is_a_linear_model():
    module = MLPModule(5, 2, [], "relu", [], batch_norm=False)
    assert len(module.hidden) == 0
    assert module(torch.zeros(3, 5)).shape == (3, 2)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_every_activation_builds_and_runs(activation):
    module = MLPModule(4, 1, [6], activation, [0.0], batch_norm=False)
    assert isinstance(module.hidden[1], ACTIVATIONS[activation])
    assert module(torch.randn(2, 4)).shape == (2, 1)


def test_dropout_is_inverted_in_training_and_off_in_evaluation():
    torch.manual_seed(0)
    module = MLPModule(1000, 1, [1000], "identity", [0.5], batch_norm=False)
    hidden_out = module.hidden
    x = torch.ones(1, 1000)
    hidden_out.train()
    train = hidden_out(x)
    hidden_out.eval()
    evaluation = hidden_out(x)
    kept = train != 0
    # Kept units are scaled by 1 / (1 - p) = 2; dropped ones are zero.
    torch.testing.assert_close(train[kept], 2 * evaluation[kept])
    assert 0.4 < kept.float().mean() < 0.6
