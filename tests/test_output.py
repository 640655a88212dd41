"""The classifier's output layouts: losses, probabilities, predictions and accuracy from logits."""

import numpy as np
import pytest
import torch
from scipy.special import expit
from sklearn.metrics import accuracy_score, log_loss
from torch import nn

from skreg._output import (
    BINARY,
    MULTICLASS,
    MULTILABEL,
    LogisticLoss,
    check_output_layout,
    log_probabilities,
    predictions,
    probabilities,
    subset_accuracy_from_logits,
)

EXTREME = np.array([[-800.0], [-40.0], [-5.0], [-1e-3], [0.0], [1e-3], [5.0], [40.0], [800.0]])


@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_logistic_loss_of_one_logit_is_two_class_cross_entropy(label_smoothing):
    # Two classes with logits (0, z) have the softmax probability sigmoid(z) of the second.
    generator = torch.Generator().manual_seed(0)
    z = 3 * torch.randn(64, 1, generator=generator, dtype=torch.float64)
    two_logits = torch.cat([torch.zeros_like(z), z], dim=1)
    hard = torch.randint(0, 2, (64,), generator=generator)
    soft = torch.rand(64, generator=generator, dtype=torch.float64)  # e.g. mixed by mixup
    logistic = LogisticLoss(label_smoothing=label_smoothing)
    softmax = nn.CrossEntropyLoss(reduction="none", label_smoothing=label_smoothing)
    torch.testing.assert_close(
        logistic(z, hard.to(z.dtype).reshape(-1, 1)), softmax(two_logits, hard)
    )
    torch.testing.assert_close(
        logistic(z, soft.reshape(-1, 1)), softmax(two_logits, torch.stack([1 - soft, soft], 1))
    )


def test_logistic_loss_sums_labels_and_matches_sklearns_log_loss():
    rng = np.random.RandomState(0)
    logits = rng.normal(scale=2, size=(40, 5))
    Y = rng.randint(0, 2, size=(40, 5))
    per_row = LogisticLoss()(torch.from_numpy(logits), torch.from_numpy(Y.astype(np.float64)))
    assert per_row.shape == (40,)
    # scikit-learn's MLP loss of logistic outputs: binary cross-entropy summed over the
    # outputs, averaged over the rows.
    expected = sum(log_loss(Y[:, j], expit(logits[:, j]), labels=[0, 1]) for j in range(5))
    np.testing.assert_allclose(per_row.mean().item(), expected, rtol=1e-10)


@pytest.mark.parametrize("n_outputs", [1, 4])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_mean_loss_equals_the_weighted_path_with_unit_weights_bit_for_bit(
    n_outputs, label_smoothing
):
    generator = torch.Generator().manual_seed(0)
    loss = LogisticLoss(label_smoothing)
    target = torch.randint(0, 2, (37, n_outputs), generator=generator).float()
    logits = torch.randn(37, n_outputs, generator=generator).requires_grad_()
    weighted_logits = logits.detach().clone().requires_grad_()
    fused = loss.mean_loss(logits, target)
    weighted = (torch.ones(37) * loss(weighted_logits, target)).mean()
    fused.backward()
    weighted.backward()
    assert torch.equal(fused, weighted)
    assert torch.equal(logits.grad, weighted_logits.grad)


def test_binary_probabilities_follow_the_classes_and_logs_are_their_logs():
    proba = probabilities(EXTREME, BINARY)
    p = expit(EXTREME[:, 0])
    np.testing.assert_array_equal(proba, np.column_stack([1 - p, p]))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-15)
    # As scikit-learn's MLP: the log of the probabilities, -inf where one rounds to 0,
    # so that the argmax of both is the same, ties included.
    log_proba = log_probabilities(EXTREME, BINARY)
    with np.errstate(divide="ignore"):
        np.testing.assert_array_equal(log_proba, np.log(proba))
    assert np.isneginf(log_proba).any()
    np.testing.assert_array_equal(log_proba.argmax(axis=1), proba.argmax(axis=1))


def test_binary_predictions_are_the_argmax_of_the_probabilities():
    classes = np.array(["no", "yes"])
    predicted = predictions(EXTREME, BINARY, classes)
    np.testing.assert_array_equal(predicted, classes[(EXTREME[:, 0] > 0).astype(int)])
    np.testing.assert_array_equal(
        predicted, classes[probabilities(EXTREME, BINARY).argmax(axis=1)]
    )


def test_multilabel_outputs_are_independent_logistic_probabilities():
    logits = np.column_stack([EXTREME[:, 0], -EXTREME[:, 0], np.zeros(len(EXTREME))])
    proba = probabilities(logits, MULTILABEL)
    np.testing.assert_array_equal(proba, expit(logits))
    assert not np.allclose(proba.sum(axis=1), 1.0)
    predicted = predictions(logits, MULTILABEL, np.arange(3))
    assert predicted.dtype == int
    np.testing.assert_array_equal(predicted, (proba > 0.5).astype(int))
    with np.errstate(divide="ignore"):
        np.testing.assert_array_equal(log_probabilities(logits, MULTILABEL), np.log(proba))


def test_multiclass_is_the_softmax_of_the_logits():
    logits = np.array([[1.0, 2.0, 3.0], [-700.0, 0.0, 700.0]])
    proba = probabilities(logits, MULTICLASS)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    with np.errstate(divide="ignore"):
        np.testing.assert_array_equal(log_probabilities(logits, MULTICLASS), np.log(proba))
    np.testing.assert_array_equal(predictions(logits, MULTICLASS, np.array([4, 5, 6])), [6, 6])


def test_subset_accuracy_needs_every_label_of_a_row_right():
    Y = np.array([[1, 0, 1], [0, 0, 0], [1, 1, 0], [0, 1, 1]])
    logits = np.array([[2.0, -1, 3], [-1, -2, 0.5], [1, 1, -1], [1, 1, 1]])
    predicted = (logits > 0).astype(int)
    expected = accuracy_score(Y, predicted)
    assert expected == 0.5
    score = subset_accuracy_from_logits(torch.tensor(Y).float(), torch.tensor(logits))
    assert score == expected
    weights = torch.tensor([1.0, 0.0, 3.0, 0.0])
    weighted = subset_accuracy_from_logits(torch.tensor(Y).float(), torch.tensor(logits), weights)
    assert weighted == accuracy_score(Y, predicted, sample_weight=weights.numpy()) == 1.0


@pytest.mark.parametrize("classes, n_outputs, activation, network, match", [
    (np.arange(3), 3, "softmax", 2, "network has 2 outputs but n_outputs_=3"),
    (np.array(["a", "b"]), 2, "softmax", 2, "softmax output needs one logit"),
    (np.array(["a", "b", "c"]), 1, "logistic", 1, "binary output needs 2 classes"),
    (np.array([1, 2, 3]), 3, "logistic", 3, "multilabel outputs need classes_ 0..2"),
    (np.arange(3), 3, "identity", 3, "neither 'softmax' nor 'logistic'"),
])
def test_check_output_layout_names_the_mismatch(classes, n_outputs, activation, network, match):
    with pytest.raises(ValueError, match=match):
        check_output_layout(classes, n_outputs, activation, network)
    check_output_layout(np.arange(3), 3, "softmax", 3)
    check_output_layout(np.array(["a", "b"]), 1, "logistic", 1)
    check_output_layout(np.arange(4), 4, "logistic", 4)
