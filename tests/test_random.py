"""The generators a fit and a prediction own, and the draws made from them."""

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from skreg._module import GeneratorDropout, MLPModule, initialized_linear
from skreg._random import (
    EPOCH,
    INITIALIZATION,
    EpochGenerators,
    derived_seed,
    log_gamma,
    symmetric_beta,
)

# derived_seed(7, EPOCH, 3), computed once.
PINNED_SEED = 3368478477221973721


def test_derived_seeds_differ_by_purpose_and_epoch_and_repeat():
    seeds = [derived_seed(7, INITIALIZATION)] + [derived_seed(7, EPOCH, k) for k in range(4)]
    seeds.append(derived_seed(8, EPOCH, 1))
    assert len(set(seeds)) == len(seeds)
    # The same in every process and on every machine (numpy's SeedSequence is stable).
    assert derived_seed(7, EPOCH, 3) == PINNED_SEED
    assert all(0 <= s < 2**64 for s in seeds)


def test_an_epoch_draws_the_same_whenever_its_generator_was_made():
    early = EpochGenerators(5)
    made_before = early.on("cpu")
    early.start(1)
    early.start(2)
    late = EpochGenerators(5)
    late.start(2)
    assert early.on("cpu") is made_before  # one generator per device, for the whole fit
    assert torch.equal(torch.randperm(50, generator=early.on("cpu")),
                       torch.randperm(50, generator=late.on("cpu")))
    late.start(3)
    again = EpochGenerators(5)
    again.start(3)
    assert torch.equal(torch.rand(20, generator=late.on("cpu")),
                       torch.rand(20, generator=again.on("cpu")))


@pytest.mark.parametrize("alpha", [0.2, 0.4, 1.0, 3.0])
def test_symmetric_beta_has_the_beta_distribution(alpha):
    # In float64: for small alpha much of the mass lies closer to 1 than float32 resolves.
    generator = torch.Generator().manual_seed(0)
    draws = symmetric_beta(alpha, 20000, generator, "cpu", torch.float64).numpy()
    assert np.all((draws >= 0) & (draws <= 1))
    assert stats.kstest(draws, stats.beta(alpha, alpha).cdf).pvalue > 0.01


@pytest.mark.parametrize("alpha", [0.02, 0.3, 1.0, 2.5])
def test_log_gamma_has_the_gamma_distribution(alpha):
    # Compared on the log scale, where the draws of a small alpha do not underflow.
    generator = torch.Generator().manual_seed(1)
    logs = log_gamma(alpha, 20000, generator, "cpu").double().numpy()
    assert np.all(np.isfinite(logs))
    assert stats.kstest(logs, lambda t: stats.gamma(alpha).cdf(np.exp(t))).pvalue > 0.01


def test_draws_come_from_the_generator_alone():
    state = torch.get_rng_state()
    first = symmetric_beta(0.4, 100, torch.Generator().manual_seed(3), "cpu")
    torch.rand(10)  # the global generator's state has no say
    second = symmetric_beta(0.4, 100, torch.Generator().manual_seed(3), "cpu")
    assert torch.equal(first, second)
    torch.set_rng_state(state)
    symmetric_beta(0.4, 100, torch.Generator().manual_seed(3), "cpu")
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_generator_dropout_is_inverted_dropout(p):
    layer = GeneratorDropout(p)
    x = torch.full((400, 500), 3.0)
    out = layer(x, torch.Generator().manual_seed(0))
    kept = out != 0
    torch.testing.assert_close(out[kept], torch.full_like(out[kept], 3.0 / (1 - p)))
    # The same expectation as nn.Dropout: the input; masks drop a share p.
    assert abs(kept.float().mean().item() - (1 - p)) < 0.01
    assert abs(out.mean().item() - 3.0) < 0.05
    again = layer(x, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)
    layer.eval()
    assert layer(x, torch.Generator()) is x


def test_generator_dropout_gradient_is_masked_and_scaled():
    layer = GeneratorDropout(0.25)
    x = torch.ones(50, 40, requires_grad=True)
    out = layer(x, torch.Generator().manual_seed(2))
    out.sum().backward()
    assert torch.equal(x.grad, out.detach())  # d(x * mask) / dx = mask, which is 0 or 4/3


def test_dropout_of_zero_is_left_out_and_a_zero_rate_passes_through():
    module = MLPModule(4, 2, [8, 8], "relu", [0.0, 0.0], batch_norm=False)
    assert not any(isinstance(m, nn.Dropout) for m in module.modules())
    x = torch.randn(3, 4)
    assert GeneratorDropout(0.0)(x, torch.Generator()) is x


def test_initialization_without_generator_is_torchs_default():
    torch.manual_seed(4)
    expected = nn.Linear(7, 5)
    torch.manual_seed(4)
    layer = initialized_linear(7, 5)
    assert torch.equal(layer.weight, expected.weight) and torch.equal(layer.bias, expected.bias)


def test_initialization_with_a_generator_leaves_the_global_generator():
    state = torch.get_rng_state()
    first = MLPModule(6, 3, [16, 8], "tanh", [0.2, 0.0], True, torch.Generator().manual_seed(9))
    assert torch.equal(torch.get_rng_state(), state)
    second = MLPModule(6, 3, [16, 8], "tanh", [0.2, 0.0], True, torch.Generator().manual_seed(9))
    for key, value in first.state_dict().items():
        assert torch.equal(value, second.state_dict()[key]), key
    # Same distribution as torch's default: uniform within 1 / sqrt(fan_in).
    weight = first.hidden[0].weight
    assert weight.abs().max() <= 1 / np.sqrt(6) and weight.std() > 0.1


def test_stochastic_forward_keeps_modes_and_draws_from_its_generator():
    module = MLPModule(5, 2, [64], "relu", [0.5], batch_norm=True).eval()
    x = torch.randn(10, 5)
    first = module.stochastic_forward(x, torch.Generator().manual_seed(1))
    second = module.stochastic_forward(x, torch.Generator().manual_seed(1))
    other = module.stochastic_forward(x, torch.Generator().manual_seed(2))
    assert torch.equal(first, second) and not torch.equal(first, other)
    assert not any(layer.training for layer in module.modules())
    assert torch.equal(module(x), module(x))  # evaluation mode: no dropout
