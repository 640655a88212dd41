import pytest
import torch
from torch import nn

from skreg._module import ACTIVATIONS, GeneratorDropout, MLPModule, residual_blocks


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


def test_residual_blocks_of_equal_width_add_their_input():
    torch.manual_seed(0)
    module = MLPModule(4, 2, [6, 6, 6, 3], "tanh", [0.0] * 4, batch_norm=False, residual=True)
    linears = [m for m in module.hidden if isinstance(m, nn.Linear)]
    x = torch.randn(5, 4)
    h1 = torch.tanh(linears[0](x))  # features -> first width: never a skip
    h2 = h1 + torch.tanh(linears[1](h1))
    h3 = h2 + torch.tanh(linears[2](h2))
    h4 = torch.tanh(linears[3](h3))  # 6 -> 3: widths differ, no skip
    assert torch.equal(module(x), module.output(h4))
    plain = MLPModule(4, 2, [6, 6, 6, 3], "tanh", [0.0] * 4, batch_norm=False)
    plain.load_state_dict(module.state_dict())  # same layers, same names
    assert not torch.allclose(plain(x), module(x))


def test_residual_block_adds_its_input_to_dropout_and_batch_norm_output():
    module = MLPModule(3, 1, [5, 5], "relu", [0.5, 0.5], batch_norm=True, residual=True)
    module.eval()
    x = torch.randn(7, 3)
    first = module.hidden[:4](x)
    second = first + module.hidden[4:](first)
    assert torch.equal(module(x), module.output(second))
    generator = torch.Generator().manual_seed(1)
    masks = torch.Generator().manual_seed(1)
    stochastic = module.stochastic_forward(x, generator)
    first = module.hidden[3].sample(module.hidden[:3](x), masks)
    block = module.hidden[7].sample(module.hidden[4:7](first), masks)
    assert torch.equal(stochastic, module.output(first + block))


def test_residual_blocks_are_chosen_by_equal_consecutive_widths():
    assert residual_blocks([64, 64, 32, 32, 32]) == [False, True, False, True, True]
    assert residual_blocks([8]) == [False]
    assert residual_blocks([]) == []


def test_new_dropout_rates_keep_the_skip_connections_around_their_blocks():
    torch.manual_seed(0)
    module = MLPModule(3, 1, [5, 5, 5], "relu", [0.0, 0.0, 0.0], batch_norm=False, residual=True)
    x = torch.randn(4, 3)
    before = module(x)
    module.set_dropout([0.5, 0.0, 0.5])
    assert module.skips == [(3, 5), (5, 8)]
    module.eval()  # dropout off: the same function as before
    assert torch.equal(module(x), before)
    module.set_dropout([0.0, 0.0, 0.0])
    assert module.skips == [(2, 4), (4, 6)]
