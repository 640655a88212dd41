import pytest
import torch

from skreg._module import MLPModule
from skreg._penalty import (
    InPlacePenalty,
    apply_penalty_,
    penalized_weights,
    weight_penalty,
)


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


@pytest.mark.parametrize("l1, l2", [(0.1, 0.0), (0.0, 0.3), (0.02, 0.05)])
def test_vectorized_penalty_matches_the_term_by_term_reference(l1, l2):
    torch.manual_seed(0)
    weights = [torch.randn(7, 3), torch.randn(5, 7), torch.randn(1, 5)]
    weights[1][2, 3] = 0.0  # the L1 gradient at an exact zero is 0, as torch's abs
    fast = [w.clone().requires_grad_() for w in weights]
    reference = [w.clone().requires_grad_() for w in weights]
    value = weight_penalty(fast, l1, l2)
    expected = l1 * sum(w.abs().sum() for w in reference) + 0.5 * l2 * sum(
        (w * w).sum() for w in reference
    )
    (3.0 * value).backward()
    (3.0 * expected).backward()
    torch.testing.assert_close(value, expected)
    for w_fast, w_reference in zip(fast, reference):
        torch.testing.assert_close(w_fast.grad, w_reference.grad)


def test_penalty_gradient_adds_to_the_data_gradient():
    w = torch.randn(4, 4, requires_grad=True)
    x = torch.randn(4)
    ((w @ x).sum() + weight_penalty([w], 0.1, 0.2)).backward()
    expected = x.expand(4, 4) + 0.1 * w.detach().sign() + 0.2 * w.detach()
    torch.testing.assert_close(w.grad, expected)


def test_in_place_penalty_gradient_skips_frozen_weights_and_matches_autograd():
    torch.manual_seed(0)
    frozen, trained = torch.randn(3, 2), torch.randn(2, 4, requires_grad=True)
    trained.grad = torch.ones_like(trained)
    value = apply_penalty_([frozen, trained], 0.1, 0.2)
    reference = trained.detach().clone().requires_grad_()
    weight_penalty([reference], 0.1, 0.2).backward()
    torch.testing.assert_close(trained.grad, 1 + reference.grad)
    assert frozen.grad is None
    expected = 0.1 * (frozen.abs().sum() + trained.abs().sum()) + 0.1 * (
        (frozen**2).sum() + (trained**2).sum()
    )
    torch.testing.assert_close(value, expected.detach())


@pytest.mark.parametrize("l1, l2", [(0.1, 0.0), (0.0, 0.3), (0.02, 0.05)])
def test_in_place_penalty_matches_the_term_by_term_reference(l1, l2):
    torch.manual_seed(1)
    weights = [torch.randn(7, 3), torch.randn(5, 7), torch.randn(1, 5)]
    weights[0][1, 2] = 0.0
    data_grads = [torch.randn_like(w) for w in weights]
    fast = [w.clone().requires_grad_() for w in weights]
    for w, g in zip(fast, data_grads):
        w.grad = g.clone()
    value = apply_penalty_(fast, l1, l2)
    for w, w_fast, g in zip(weights, fast, data_grads):
        torch.testing.assert_close(w_fast.grad, g + l1 * w.sign() + l2 * w)
        torch.testing.assert_close(w_fast.detach(), w)  # the weights themselves are untouched
    expected = sum(l1 * w.abs().sum() + 0.5 * l2 * (w * w).sum() for w in weights)
    torch.testing.assert_close(value, expected)


@pytest.mark.parametrize("l1, l2", [(0.1, 0.0), (0.0, 0.3), (0.02, 0.05)])
def test_in_place_penalty_adds_its_value_to_a_given_loss(l1, l2):
    torch.manual_seed(3)
    weights = [torch.randn(4, 3, requires_grad=True), torch.randn(2, 4, requires_grad=True)]
    for w in weights:
        w.grad = torch.zeros_like(w)
    loss = torch.tensor(0.75)
    total = InPlacePenalty(weights)(l1, l2, loss)
    expected = 0.75 + sum(l1 * w.abs().sum() + 0.5 * l2 * (w * w).sum() for w in weights)
    torch.testing.assert_close(total, expected.detach())
    assert loss.item() == 0.75  # the given loss is not modified
    for w in weights:
        torch.testing.assert_close(w.grad, l1 * w.detach().sign() + l2 * w.detach())


def test_penalized_weights_are_collected_once_per_module(cancer):
    from skreg import RegularizedMLPClassifier

    X, y = cancer
    model = RegularizedMLPClassifier((8,), l1=1e-3, max_iter=2, random_state=0).fit(X, y)
    net = model.net_
    # The per-fit state is gone after the fit ...
    assert net.fit_state_ is None
    # ... and a re-initialized module is noticed by identity, not served stale.
    state = dict(net.callbacks_)["fit_state"]
    first = state.penalty(net.module_).weights
    net.initialize_module()
    second = state.penalty(net.module_).weights
    assert all(a is not b for a, b in zip(first, second))
    assert all(any(w is p for p in net.module_.parameters()) for w in second)


@pytest.mark.parametrize("l1, l2", [(1.0, 1e-40), (1e-40, 1.0), (3.0, 6.0), (1e-3, 1e3)])
def test_in_place_penalty_has_no_overflow_for_far_apart_strengths(l1, l2):
    torch.manual_seed(2)
    weights = [torch.randn(6, 4, requires_grad=True), torch.randn(3, 6, requires_grad=True)]
    for w in weights:
        w.grad = torch.zeros_like(w)
    value = apply_penalty_(weights, l1, l2)
    exact = [w.detach().double() for w in weights]
    expected = sum(l1 * w.abs().sum() + 0.5 * l2 * (w * w).sum() for w in exact)
    assert torch.isfinite(value)
    torch.testing.assert_close(value.double(), expected, rtol=1e-6, atol=0.0)
    for w, w64 in zip(weights, exact):
        torch.testing.assert_close(w.grad.double(), l1 * w64.sign() + l2 * w64, rtol=1e-6, atol=0.0)


@pytest.mark.parametrize("l1, l2", [(0.1, 0.0), (0.0, 0.3), (0.02, 0.05)])
def test_shared_storage_keeps_the_weights_and_follows_their_changes(l1, l2):
    torch.manual_seed(4)
    weights = [torch.nn.Parameter(torch.randn(5, 3)), torch.nn.Parameter(torch.randn(2, 5))]
    before = [w.detach().clone() for w in weights]
    penalty = InPlacePenalty(weights)
    penalty.share_storage()
    assert penalty.shares_storage
    assert all(torch.equal(w.detach(), b) for w, b in zip(weights, before))
    assert all(w.data_ptr() == part.data_ptr() for w, part in zip(weights, penalty.flat_parts))
    # An in-place update (as an optimizer's) is seen by the next step ...
    with torch.no_grad():
        weights[0].mul_(2.0)
    # ... and so is a weight whose memory was replaced.
    weights[1].data = torch.randn(2, 5)
    for w in weights:
        w.grad = torch.zeros_like(w)
    value = penalty(l1, l2)
    current = [w.detach() for w in weights]
    torch.testing.assert_close(
        value, sum(l1 * w.abs().sum() + 0.5 * l2 * (w * w).sum() for w in current)
    )
    for w, w_now in zip(weights, current):
        torch.testing.assert_close(w.grad, l1 * w_now.sign() + l2 * w_now)
    penalty.release()
    assert not penalty.shares_storage
    assert all(w.data_ptr() != part.data_ptr() for w, part in zip(weights, penalty.flat_parts))
    torch.testing.assert_close(weights[0].detach(), 2.0 * before[0])


def test_fit_with_a_penalty_leaves_each_weight_its_own_memory(cancer, tmp_path):
    from safetensors.torch import load_file, save_file
    from skorch.callbacks import Callback

    from skreg import RegularizedMLPClassifier

    class SaveModuleEachEpoch(Callback):
        """Saves the module mid-fit, while the weights share the penalty's buffer."""

        def on_epoch_end(self, net, **kwargs):
            save_file(net.module_.state_dict(), tmp_path / "mid_fit.safetensors")
            torch.save(net.module_.state_dict(), tmp_path / "mid_fit.pt")

    X, y = cancer
    model = RegularizedMLPClassifier(
        (8, 4), l1=1e-3, l2=1e-3, max_iter=3, random_state=0, callbacks=[SaveModuleEachEpoch()]
    ).fit(X, y)
    parameters = list(model.net_.module_.parameters())
    storages = {p.untyped_storage().data_ptr() for p in parameters}
    assert len(storages) == len(parameters)
    assert all(p.untyped_storage().nbytes() == p.numel() * p.element_size() for p in parameters)
    final = model.net_.module_.state_dict()
    for saved in (load_file(tmp_path / "mid_fit.safetensors"), torch.load(tmp_path / "mid_fit.pt")):
        assert saved.keys() == final.keys()
        for name, tensor in final.items():
            torch.testing.assert_close(saved[name], tensor)
