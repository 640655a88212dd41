"""The stacked trainer against the ordinary estimator, and its members' independence."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.preprocessing import StandardScaler

from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor
from skreg._stacked import StackedTrainer

N_ROWS = 120


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X[:N_ROWS]).astype(np.float32)
    return X, y[:N_ROWS]


def settings(k=1, **values):
    """The per-member settings of ``k`` members that share ``values``."""
    base = {"dropout": [0.0], "l1": 0.0, "l2": 0.0, "alpha": 0.0, "weight_decay": 0.0,
                "learning_rate_init": 1e-2}
    base.update(values)
    return {name: [value] * k for name, value in base.items()}


def trainer(X, y, member_settings, n_members, seed=0, shuffle=False, batch_size=N_ROWS):
    target = ((y - y.mean()) / y.std()).astype(np.float32).reshape(1, -1, 1)
    rows = np.arange(len(y))
    return StackedTrainer(
        torch.from_numpy(X), torch.from_numpy(target), [(rows, rows[:20])], [0] * n_members,
        member_settings, hidden_layer_sizes=[16], n_outputs=1, activation="relu",
        criterion=torch.nn.MSELoss(reduction="none"), batch_size=batch_size, shuffle=shuffle,
        betas=(0.9, 0.999), epsilon=1e-8, seed=seed,
    )


@pytest.mark.parametrize("penalties", [
    {"alpha": 0.0},
    {"l1": 1e-3, "l2": 1e-2, "alpha": 1e-1},
    {"weight_decay": 1e-2},
])
def test_one_member_trains_as_the_ordinary_estimator(diabetes, penalties):
    # Same initial weights, full batches in order: the same updates up to float32 rounding
    # (torch's fused Adam and batched matmul round differently from this loop).
    X, y = diabetes
    stack = trainer(X, y, settings(**penalties), 1)
    coefs, intercepts = stack.member_arrays(0)
    model = RegularizedMLPRegressor(
        (16,), batch_size=N_ROWS, shuffle=False, max_iter=15, tol=0, n_iter_no_change=100,
        learning_rate_init=1e-2, random_state=0, **penalties,
    )
    model.coefs_, model.intercepts_ = coefs, intercepts
    with pytest.warns(Warning):  # ConvergenceWarning: max_iter reached, as intended
        model.fit(X, y)
    losses = [stack.run_epoch()[0] for _ in range(15)]
    np.testing.assert_allclose(losses, model.loss_curve_, rtol=1e-5)
    for ours, theirs in zip(stack.member_arrays(0)[0], model.coefs_):
        np.testing.assert_allclose(ours, theirs, atol=1e-5)


@pytest.mark.parametrize("layout", ["binary", "multiclass", "multilabel"])
def test_one_member_trains_as_the_ordinary_classifier(layout):
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X[:N_ROWS]).astype(np.float32)
    y = {
        "binary": y[:N_ROWS],
        "multiclass": np.where(X[:, 1] > 0.5, 2, y[:N_ROWS]),
        "multilabel": np.column_stack([y[:N_ROWS], X[:, 0] > 0, X[:, 1] > 0]).astype(int),
    }[layout]
    template = RegularizedMLPClassifier((8,))
    target, n_outputs = template._prepare_target(y, False)
    rows = np.arange(N_ROWS)
    stack = StackedTrainer(
        torch.from_numpy(X), torch.from_numpy(target[None]), [(rows, rows)], [0], settings(),
        hidden_layer_sizes=[8], n_outputs=n_outputs, activation="tanh",
        criterion=template._criterion(), batch_size=N_ROWS, shuffle=False,
        betas=(0.9, 0.999), epsilon=1e-8, seed=0,
    )
    model = RegularizedMLPClassifier(
        (8,), activation="tanh", alpha=0.0, batch_size=N_ROWS, shuffle=False, max_iter=10,
        tol=0, n_iter_no_change=100, learning_rate_init=1e-2,
    )
    model.coefs_, model.intercepts_ = stack.member_arrays(0)
    with pytest.warns(Warning):
        model.fit(X, y)
    losses = [stack.run_epoch()[0] for _ in range(10)]
    np.testing.assert_allclose(losses, model.loss_curve_, rtol=1e-5)
    score = template._validation_score_fn()(torch.from_numpy(target), stack.held_out_outputs()[0])
    assert score == pytest.approx(model.score(X, y))


def test_members_do_not_affect_each_other(diabetes):
    # Member 0 of a two-member stack trains as the one-member stack of its settings,
    # whatever the other member's dropout, penalties and learning rate.
    X, y = diabetes
    two = settings(2)
    two["dropout"] = [[0.0], [0.5]]
    two["l2"], two["learning_rate_init"] = [0.0, 0.1], [1e-2, 1e-1]
    pair = trainer(X, y, two, 2, shuffle=True, batch_size=32)
    alone = trainer(X, y, settings(1), 1, shuffle=True, batch_size=32)
    with torch.no_grad():  # the same start for member 0
        for ours, theirs in zip(pair.weights + pair.biases, alone.weights + alone.biases):
            theirs.copy_(ours[:1])
    for _ in range(5):
        pair.run_epoch()
        alone.run_epoch()
    for ours, theirs in zip(pair.member_arrays(0)[0], alone.member_arrays(0)[0]):
        np.testing.assert_allclose(ours, theirs, atol=1e-6)
    assert not np.allclose(pair.member_arrays(1)[0][0], pair.member_arrays(0)[0][0])


def test_a_zero_learning_rate_keeps_the_initial_weights(diabetes):
    X, y = diabetes
    member_settings = settings(2)
    member_settings["learning_rate_init"] = [0.0, 1e-2]
    stack = trainer(X, y, member_settings, 2)
    start = stack.member_arrays(0)[0]
    stack.run_epoch()
    for before, after in zip(start, stack.member_arrays(0)[0]):
        np.testing.assert_array_equal(before, after)
    assert not np.array_equal(start[0], stack.member_arrays(1)[0][0])


def test_select_keeps_the_chosen_members_weights(diabetes):
    X, y = diabetes
    stack = trainer(X, y, settings(3), 3)
    stack.run_epoch()
    kept = stack.member_arrays(2)[0]
    stack.select([2])
    assert stack.members.tolist() == [2]
    for before, after in zip(kept, stack.member_arrays(0)[0]):
        np.testing.assert_array_equal(before, after)
    assert np.isfinite(stack.run_epoch()).all()


def test_a_seed_repeats_and_another_seed_differs(diabetes):
    X, y = diabetes
    member_settings = settings(2, dropout=[0.3])
    runs = []
    for seed in (0, 0, 1):
        stack = trainer(X, y, member_settings, 2, seed=seed, shuffle=True, batch_size=32)
        stack.run_epoch()
        runs.append(stack.member_arrays(1)[0][0])
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_a_stacked_classifier_member_scores_as_the_ordinary_estimator():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    rows = np.random.RandomState(0).permutation(len(y))
    train, valid = rows[:400], rows[400:]
    template = RegularizedMLPClassifier((32,))
    target, n_outputs = template._prepare_target(y, False)
    member_settings = settings(1, dropout=[0.2], learning_rate_init=1e-3)
    stack = StackedTrainer(
        torch.from_numpy(X), torch.from_numpy(target[None]), [(train, valid)], [0],
        member_settings, hidden_layer_sizes=[32], n_outputs=n_outputs, activation="relu",
        criterion=template._criterion(), batch_size=200, shuffle=True, betas=(0.9, 0.999),
        epsilon=1e-8, seed=0,
    )
    for _ in range(60):
        stack.run_epoch()
    logits = stack.held_out_outputs()[0]
    stacked_accuracy = ((logits[:, 0] > 0).numpy() == y[valid]).mean()
    model = RegularizedMLPClassifier((32,), dropout=0.2, max_iter=60, random_state=0)
    with pytest.warns(Warning):
        model.fit(X[train], y[train])
    assert abs(stacked_accuracy - model.score(X[valid], y[valid])) < 0.04
    assert stacked_accuracy > 0.9


def test_a_fold_with_fewer_batches_skips_the_extra_step(diabetes):
    # Fold 0 has two batches of 32 rows an epoch, fold 1 three: in the third batch the
    # member of fold 0 has no rows and must keep its weights and optimizer state, so it
    # trains as it does in a stack of its own.
    X, y = diabetes
    target = ((y - y.mean()) / y.std()).astype(np.float32).reshape(1, -1, 1)
    targets = torch.from_numpy(np.concatenate([target, target]))
    rows = np.arange(len(y))
    folds = [(rows[:64], rows[64:80]), (rows[:70], rows[70:90])]

    def stack(member_fold):
        return StackedTrainer(
            torch.from_numpy(X), targets, folds, member_fold, settings(len(member_fold)),
            hidden_layer_sizes=[16], n_outputs=1, activation="relu",
            criterion=torch.nn.MSELoss(reduction="none"), batch_size=32, shuffle=True,
            betas=(0.9, 0.999), epsilon=1e-8, seed=0,
        )

    pair, alone = stack([0, 1]), stack([0])
    with torch.no_grad():
        for ours, theirs in zip(pair.weights + pair.biases, alone.weights + alone.biases):
            theirs.copy_(ours[:1])
    for _ in range(3):
        pair.run_epoch()
        alone.run_epoch()
    for ours, theirs in zip(pair.member_arrays(0)[0], alone.member_arrays(0)[0]):
        np.testing.assert_allclose(ours, theirs, atol=1e-6)
    assert alone.optimizer.steps.item() == 6 and pair.optimizer.steps.flatten().tolist() == [6, 9]
