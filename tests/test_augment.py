"""Input noise and mixup: they change training batches, never validation or prediction."""

import numpy as np
import torch

from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor
from skreg._augment import AugmentedIterator, BatchAugmentation
from skreg._weights import WeightedTarget


def test_input_noise_has_the_requested_spread_and_leaves_targets():
    torch.manual_seed(0)
    X, y = torch.zeros(20000, 3), torch.arange(20000)
    X_aug, y_aug = BatchAugmentation(input_noise=0.3)(X, y)
    assert abs(X_aug.std().item() - 0.3) < 0.01
    assert torch.equal(y_aug, y) and torch.equal(X, torch.zeros(20000, 3))


def test_mixup_makes_convex_combinations_of_rows_and_one_hot_targets():
    torch.manual_seed(0)
    X = torch.eye(4)
    y = torch.tensor([0, 1, 2, 0])
    weight = torch.tensor([1.0, 2.0, 3.0, 4.0])
    X_mix, target = BatchAugmentation(mixup_alpha=0.4, n_classes=3)(X, WeightedTarget(y, weight))
    soft = target.target
    assert soft.shape == (4, 3)
    torch.testing.assert_close(soft.sum(dim=1), torch.ones(4))
    torch.testing.assert_close(X_mix.sum(dim=1), torch.ones(4))  # rows of eye mix to sum 1
    # The class mass of each mixed row is the input mass of the rows it came from.
    torch.testing.assert_close(soft[:, 0], X_mix[:, 0] + X_mix[:, 3])
    assert torch.all(target.sample_weight >= 1) and torch.all(target.sample_weight <= 4)


def test_mixup_mixes_the_0_1_targets_of_logistic_outputs_as_they_are():
    torch.manual_seed(0)
    X = torch.eye(4)
    Y = torch.tensor([[0.0, 1.0], [1.0, 1.0], [1.0, 0.0], [0.0, 0.0]])  # binary: one column
    X_mix, Y_mix = BatchAugmentation(mixup_alpha=0.4)(X, Y)
    assert Y_mix.shape == (4, 2) and not torch.equal(Y_mix, Y)
    # Row i of eye(4) mixes to lam * e_i + (1 - lam) * e_partner, its targets alike.
    torch.testing.assert_close(Y_mix, X_mix @ Y)


def test_regression_mixup_mixes_targets_with_the_inputs():
    torch.manual_seed(0)
    X = torch.randn(50, 2)
    y = 3 * X[:, :1] - X[:, 1:]
    X_mix, y_mix = BatchAugmentation(mixup_alpha=1.0)(X, y)
    # A linear target stays exact under mixing.
    torch.testing.assert_close(y_mix, 3 * X_mix[:, :1] - X_mix[:, 1:])
    assert not torch.allclose(X_mix, X)


def test_only_training_iterators_are_augmented(cancer):
    X, y = cancer
    model = RegularizedMLPClassifier(
        max_iter=2, input_noise=0.1, early_stopping=True, random_state=0
    ).fit(X, y)
    dataset = model.net_.get_dataset(torch.zeros(4, X.shape[1]), torch.zeros(4, dtype=torch.long))
    assert isinstance(model.net_.get_iterator(dataset, training=True), AugmentedIterator)
    assert not isinstance(model.net_.get_iterator(dataset, training=False), AugmentedIterator)


def test_noise_and_mixup_change_training_but_not_prediction(cancer):
    X, y = cancer
    common = dict(hidden_layer_sizes=(32,), max_iter=15, random_state=0)
    plain = RegularizedMLPClassifier(**common).fit(X, y)
    for extra in ({"input_noise": 0.5}, {"mixup_alpha": 0.4}):
        augmented = RegularizedMLPClassifier(**common, **extra).fit(X, y)
        # Training differs: same seed and data, other weights.
        assert not np.allclose(augmented.predict_proba(X), plain.predict_proba(X))
        # Prediction is deterministic, and with the plain model's weights loaded
        # the augmented model predicts exactly as the plain one.
        np.testing.assert_array_equal(augmented.predict_proba(X), augmented.predict_proba(X))
        augmented.net_.module_.load_state_dict(plain.net_.module_.state_dict())
        np.testing.assert_array_equal(augmented.predict_proba(X), plain.predict_proba(X))


def test_mixup_and_noise_regressor_still_learns(diabetes):
    X, y = diabetes
    model = RegularizedMLPRegressor(
        hidden_layer_sizes=(32,), input_noise=0.1, mixup_alpha=0.2, max_iter=100, random_state=0
    ).fit(X, y)
    assert model.score(X, y) > 0.4
