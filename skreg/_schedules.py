"""Schedules of the dropout rate and the weight decay over the epochs of a fit (RealMLP's)."""

import math

from skorch.callbacks import Callback

from ._module import GeneratorDropout
from ._penalty import is_penalized


def _flat_cos(t):
    # RealMLP's default: the full value for the first half, then half a cosine down to zero.
    return 1.0 if t < 0.5 else 0.5 * (1.0 + math.cos(math.pi * (2.0 * t - 1.0)))


SCHEDULES = {
    "constant": lambda t: 1.0,
    "flat_cos": _flat_cos,
    "cos": lambda t: 0.5 * (1.0 + math.cos(math.pi * t)),
    "linear": lambda t: 1.0 - t,
}


def schedule_factor(schedule, epoch, max_iter):
    """The factor of ``schedule`` for the 1-based ``epoch`` of a schedule ``max_iter`` long.

    The epoch's progress is ``t = ((epoch - 1) % max_iter) / max_iter``, the
    share of the schedule's epochs before it: the first epoch has ``t = 0``,
    and after ``max_iter`` epochs the schedule starts again, as
    ``learning_rate="cosine"`` does.
    """
    t = ((epoch - 1) % max_iter) / max_iter
    return SCHEDULES[schedule](t)


def check_schedule_options(estimator):
    """Raise a ValueError for a schedule that the estimator's settings cannot apply."""
    scheduled = [
        name for name in ("dropout_schedule", "weight_decay_schedule")
        if getattr(estimator, name) != "constant"
    ]
    if scheduled and estimator.cuda_graph:
        raise ValueError(
            f"{', '.join(scheduled)} changes rates between epochs, but cuda_graph=True "
            "replays a step captured with the rates of the first epoch; set cuda_graph=False "
            "or the schedule(s) to 'constant'."
        )


class RegularizationSchedule(Callback):
    """Set each epoch's dropout rates and weight decay from their schedules.

    At the start of epoch ``k`` (counted over the net's whole history, so
    that ``N`` calls of ``partial_fit`` follow the schedule of one ``fit`` of
    ``N`` epochs) every dropout layer gets ``rate * factor`` and the
    optimizer's decayed parameter group ``weight_decay * factor``, where
    ``factor`` is :func:`schedule_factor` of the parameter's schedule. The
    factors are recorded in the history as ``event_dropout_factor`` and
    ``event_weight_decay_factor``. When training ends the layers and the
    optimizer get their unscheduled values back, so that Monte Carlo dropout
    (``return_std=True``) uses the ``dropout`` rates.

    Parameters
    ----------
    dropout_schedule, weight_decay_schedule : str
        Keys of ``SCHEDULES``.
    dropout : list of float
        The unscheduled rate of each hidden layer.
    weight_decay : float
        The unscheduled weight decay.
    max_iter : int
        The schedule's length in epochs.
    """

    def __init__(self, dropout_schedule, weight_decay_schedule, dropout, weight_decay, max_iter):
        self.dropout_schedule = dropout_schedule
        self.weight_decay_schedule = weight_decay_schedule
        self.dropout = dropout
        self.weight_decay = weight_decay
        self.max_iter = max_iter

    def on_epoch_begin(self, net, **kwargs):
        epoch = len(net.history)  # skorch has already added this epoch's row
        if self.dropout_schedule != "constant":
            factor = schedule_factor(self.dropout_schedule, epoch, self.max_iter)
            self._set_dropout(net.module_, factor)
            net.history.record("event_dropout_factor", factor)
        if self.weight_decay_schedule != "constant":
            factor = schedule_factor(self.weight_decay_schedule, epoch, self.max_iter)
            self._set_weight_decay(net.optimizer_, factor)
            net.history.record("event_weight_decay_factor", factor)

    def on_train_end(self, net, **kwargs):
        self._set_dropout(net.module_, 1.0)
        self._set_weight_decay(net.optimizer_, 1.0)

    def _set_dropout(self, module, factor):
        layers = [m for m in module.modules() if isinstance(m, GeneratorDropout)]
        # Layers with rate 0 are not built, so the rates are those of the layers that are.
        rates = [p for p in self.dropout if p > 0]
        for layer, rate in zip(layers, rates):
            layer.p = rate * factor

    def _set_weight_decay(self, optimizer, factor):
        if not self.weight_decay:
            return
        for group in optimizer.param_groups:
            if all(is_penalized(p) for p in group["params"]):
                group["weight_decay"] = self.weight_decay * factor
