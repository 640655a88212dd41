"""RealMLP-TD's preprocessing of numeric features: robust scaling, then smooth clipping."""

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data


def smooth_clip(Z, bound):
    """``Z / sqrt(1 + (Z / bound) ** 2)``: about ``Z`` near zero, inside ``(-bound, bound)``.

    A new array; ``Z`` is left as it is.
    """
    return Z / np.sqrt(1.0 + (Z / bound) ** 2)


class RobustScaleSmoothClip(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Centre on the median, scale by a quantile range, then clip smoothly (RealMLP-TD's).

    The preprocessing of numeric features of RealMLP-TD (Holzmüller, Grinsztajn
    and Steinwart, 2024, "Better by Default: Strong Pre-Tuned MLPs and Boosted
    Trees on Tabular Data"). For each feature ``j`` ``fit`` learns the median
    ``m_j`` and the factor

    - ``1 / (q_high - q_low)``, the inverse of the range between the quantiles
      of ``quantile_range`` (the interquartile range by default), when that
      range is positive;
    - ``2 / (max - min)`` when the quantiles coincide (a feature that is
      mostly one value) but the feature is not constant;
    - 0 for a constant feature, which becomes a column of zeros;

    and ``transform`` returns ``f(s_j * (x_j - m_j))`` with the smooth clip
    ``f(z) = z / sqrt(1 + (z / clip_bound) ** 2)``: close to ``z`` for small
    values, and never beyond ``clip_bound`` in magnitude, so that outliers
    keep their order but cannot dominate a network's first layer.

    Parameters
    ----------
    quantile_range : tuple of two floats, default=(25.0, 75.0)
        Percentiles ``(low, high)``, with ``0 <= low < high <= 100``, whose
        range scales each feature (as in :class:`sklearn.preprocessing.RobustScaler`).
    clip_bound : float or None, default=3.0
        The bound of the smooth clip (RealMLP's 3); None leaves the scaled
        values unclipped.

    Attributes
    ----------
    center_ : ndarray of shape (``n_features_in_``,)
        The median of each feature.
    scale_ : ndarray of shape (``n_features_in_``,)
        The factor each centred feature is multiplied by (see above).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Feature names, when ``X`` had string column names.

    See Also
    --------
    sklearn.preprocessing.RobustScaler : The robust scaling alone, without the clip.

    Examples
    --------
    >>> import numpy as np
    >>> from skreg import RobustScaleSmoothClip
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0], [100.0]])
    >>> RobustScaleSmoothClip().fit_transform(X).ravel().round(3)
    array([-0.949, -0.493,  0.   ,  0.493,  2.994])
    """

    _parameter_constraints = {
        "quantile_range": [tuple],
        "clip_bound": [Interval(Real, 0, None, closed="neither"), None],
    }

    def __init__(self, quantile_range=(25.0, 75.0), clip_bound=3.0):
        self.quantile_range = quantile_range
        self.clip_bound = clip_bound

    def _checked_quantile_range(self):
        """``quantile_range`` as two floats, or a ValueError saying what is wrong with it."""
        low_high = self.quantile_range
        valid = (
            len(low_high) == 2
            and all(isinstance(q, Real) and not isinstance(q, bool) for q in low_high)
            and 0 <= low_high[0] < low_high[1] <= 100
        )
        if not valid:
            raise ValueError(
                "quantile_range must be two percentiles (low, high) with "
                f"0 <= low < high <= 100, got {self.quantile_range!r}."
            )
        return float(low_high[0]), float(low_high[1])

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn each feature's median and scale from ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric training data (not modified).
        y : None
            Ignored.

        Returns
        -------
        self : RobustScaleSmoothClip
            The fitted transformer.
        """
        low, high = self._checked_quantile_range()
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        self.center_ = np.median(X, axis=0).astype(np.float64)
        q_low, q_high = np.percentile(X, [low, high], axis=0).astype(np.float64)
        spread = np.max(X, axis=0).astype(np.float64) - np.min(X, axis=0)
        scale = np.zeros(X.shape[1])
        by_range = spread > 0
        scale[by_range] = 2.0 / spread[by_range]
        by_quantiles = q_high > q_low
        scale[by_quantiles] = 1.0 / (q_high[by_quantiles] - q_low[by_quantiles])
        self.scale_ = scale
        return self

    def transform(self, X):
        """Scale and smoothly clip ``X`` with the statistics learned by ``fit``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric data with the features seen during fit (not modified).

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features)
            In the dtype of ``X`` (float32 stays float32, other types become float64).
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        Z = (X - self.center_) * self.scale_
        if self.clip_bound is not None:
            Z = smooth_clip(Z, float(self.clip_bound))
        return Z.astype(X.dtype, copy=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
