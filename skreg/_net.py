"""The skorch net that trains a skreg module: skorch's loop, skreg's loss and data path."""

from skorch import NeuralNet

from ._penalty import penalized_weights, weight_penalty


class RegularizedNet(NeuralNet):
    """A :class:`skorch.NeuralNet` whose training loss carries the L1/L2 weight penalty.

    Parameters
    ----------
    l1, l2 : float, default=0.0
        Penalty strengths, see :func:`skreg._penalty.weight_penalty`. The penalty
        is added to the loss of training batches only, so ``valid_loss`` in the
        history is the plain data loss.
    **kwargs
        Passed on to :class:`skorch.NeuralNet`.
    """

    def __init__(self, *args, l1=0.0, l2=0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.l1 = l1
        self.l2 = l2

    def get_loss(self, y_pred, y_true, X=None, training=False):
        loss = super().get_loss(y_pred, y_true, X=X, training=training)
        if training and (self.l1 or self.l2):
            loss = loss + weight_penalty(penalized_weights(self.module_), self.l1, self.l2)
        return loss
