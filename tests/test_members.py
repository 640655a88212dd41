"""skreg._members: the bookkeeping of one candidate on one fold during the search."""

import numpy as np

from skreg._members import Member, update_member


def _scores_until_stopped(scores, tol, patience, epochs_per_score=1):
    member = Member(candidate=0, fold=0, cap=100)
    for n_scored, score in enumerate(scores, start=1):
        update_member(member, epochs_per_score, score, tol, patience, 0.0, 0.0)
        if member.stopped:
            return member, n_scored
    return member, None


def test_the_best_epoch_moves_on_any_improvement_and_patience_counts_those_below_tol():
    # sklearn's _update_no_improvement_count: a score below best + tol counts towards the
    # patience, but a score above the best still becomes the best (and its epoch is kept).
    scores = [0.5, 0.6, 0.60005, 0.6, 0.6, 0.6]
    member, stopped_after = _scores_until_stopped(scores, tol=1e-4, patience=2)
    assert (member.best_score, member.best_epoch) == (0.60005, 3)
    assert stopped_after == 5  # three scores in a row below 0.6 + tol: more than 2 epochs


def test_an_improvement_by_more_than_tol_resets_the_patience():
    scores = [0.5, 0.5, 0.5, 0.7, 0.7, 0.7, 0.7]
    member, stopped_after = _scores_until_stopped(scores, tol=1e-4, patience=2)
    assert (member.best_score, member.best_epoch) == (0.7, 4)
    assert stopped_after == 7


def test_patience_counts_epochs_when_a_score_covers_several():
    # Candidates trained as ordinary estimators are scored every few epochs.
    member, stopped_after = _scores_until_stopped([0.5, 0.5, 0.5], tol=1e-4, patience=6,
                                                  epochs_per_score=5)
    assert member.best_epoch == 5 and stopped_after == 3  # 10 epochs without improvement


def test_a_non_finite_score_stops_the_member_and_keeps_its_best():
    member, stopped_after = _scores_until_stopped([0.5, np.nan], tol=1e-4, patience=10)
    assert stopped_after == 2 and (member.best_score, member.best_epoch) == (0.5, 1)
