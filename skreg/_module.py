"""The torch module behind every skreg estimator: a plain multi-layer perceptron."""

import math

import torch
from torch import nn

ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,
    "identity": nn.Identity,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}


class GeneratorDropout(nn.Dropout):
    """Inverted dropout whose masks are drawn from a given generator.

    In training mode each element is zeroed with probability ``p`` and the kept
    ones are scaled by ``1 / (1 - p)``, so that the expected output is the input,
    as with :class:`torch.nn.Dropout`; in evaluation mode the input passes
    through unchanged. ``forward(x, generator)`` draws the mask from
    ``generator``, or from torch's global generator when it is None.
    """

    def forward(self, input, generator=None):
        if not self.training or self.p == 0:
            return input
        return self.sample(input, generator)

    def sample(self, input, generator):
        """``input`` with a mask drawn from ``generator`` applied, whatever the mode."""
        if self.p == 1:
            return torch.zeros_like(input)
        keep = 1 - self.p
        # The mask is scaled in place: one multiplication of the input, one saved tensor.
        mask = torch.empty_like(input).bernoulli_(keep, generator=generator).div_(keep)
        return input * mask


def initialized_linear(n_in, n_out, generator=None):
    """``nn.Linear(n_in, n_out)`` with torch's default initialization drawn from ``generator``.

    The layer is made without the draws of its constructor (which would take
    them from torch's global generator), then initialized as
    ``nn.Linear.reset_parameters`` does; with ``generator=None`` the result is
    the plain ``nn.Linear(n_in, n_out)``, bit for bit.
    """
    layer = nn.utils.skip_init(nn.Linear, n_in, n_out)
    nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
    bound = 1 / math.sqrt(n_in) if n_in > 0 else 0
    nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return layer


def residual_blocks(hidden_layer_sizes):
    """Which hidden blocks get a skip connection with ``residual=True``: a list of bools.

    Block ``k`` does when it is not the first and its width equals that of the
    block before it (so that ``x + block(x)`` is defined without a projection,
    which would add weight matrices that scikit-learn's ``coefs_`` layout has no
    place for). The first block maps the features to a hidden width and never
    has one.
    """
    sizes = list(hidden_layer_sizes)
    return [k > 0 and sizes[k] == sizes[k - 1] for k in range(len(sizes))]


class MLPModule(nn.Module):
    """Hidden blocks ``Linear -> [BatchNorm1d] -> activation -> [Dropout]``, then a linear head.

    The module returns raw outputs (logits for classification); losses and output
    transforms live in the estimator, so the same module serves both tasks.

    Parameters
    ----------
    n_features : int
        Width of the input.
    n_outputs : int
        Width of the output layer.
    hidden_layer_sizes : sequence of int
        Width of each hidden layer.
    activation : str
        A key of ``ACTIVATIONS``.
    dropout : sequence of float
        Dropout probability after each hidden layer (0 leaves the layer out).
    batch_norm : bool
        Whether each hidden layer is followed by batch normalization.
    generator : torch.Generator or None, default=None
        Where the initial weights are drawn from (torch's default initialization
        of ``nn.Linear``); None draws them from torch's global generator.
    residual : bool, default=False
        Give the blocks that :func:`residual_blocks` selects a skip connection:
        such a block computes ``x + block(x)``, dropout included in ``block``.
        The layers stay those of the plain network (in ``hidden``, in the same
        order), so the weights keep their names and ``coefs_`` its layout.
    """

    def __init__(
        self, n_features, n_outputs, hidden_layer_sizes, activation, dropout, batch_norm,
        generator=None, residual=False,
    ):
        super().__init__()
        layers = []
        # (first layer, end) in ``hidden`` of each block that adds its input to its output.
        self.skips = []
        # Whether each hidden block has a skip connection (all False without residual).
        self.skipped_blocks = (
            residual_blocks(hidden_layer_sizes) if residual else [False] * len(hidden_layer_sizes)
        )
        width_in = n_features
        for k, (width, p) in enumerate(zip(hidden_layer_sizes, dropout)):
            start = len(layers)
            layers.append(initialized_linear(width_in, width, generator))
            if batch_norm:
                layers.append(nn.BatchNorm1d(width))
            layers.append(ACTIVATIONS[activation]())
            if p > 0:
                layers.append(GeneratorDropout(p))
            if self.skipped_blocks[k]:
                self.skips.append((start, len(layers)))
            width_in = width
        self.hidden = nn.Sequential(*layers)
        self.output = initialized_linear(width_in, n_outputs, generator)

    def set_dropout(self, dropout):
        """Give hidden layer ``i`` the dropout rate ``dropout[i]``, keeping every other layer.

        Dropout layers hold no parameters, so the network's weights (and the
        optimizer's references to them) stay as they are. The rates take new
        dropout layers rather than changing the old ones, so that a copy of the
        layer list made earlier still describes the earlier network.
        """
        blocks = []
        for layer in self.hidden:
            if isinstance(layer, nn.Linear):
                blocks.append([])
            if not isinstance(layer, nn.Dropout):
                blocks[-1].append(layer)
        layers, skips = [], []
        skipped = getattr(self, "skipped_blocks", [False] * len(blocks))  # older pickles
        for k, (block, p) in enumerate(zip(blocks, dropout, strict=True)):
            start = len(layers)
            layers += block + ([GeneratorDropout(p)] if p > 0 else [])
            if skipped[k]:
                # The skip spans the block's new layers, its new dropout layer included.
                skips.append((start, len(layers)))
        self.hidden = nn.Sequential(*layers).train(self.training)
        self.skips = skips

    def _hidden_pass(self, X, apply):
        """The hidden layers' output, ``apply(layer, X)`` running each layer."""
        if not self.skips:
            for layer in self.hidden:
                X = apply(layer, X)
            return X
        ends = dict(self.skips)
        block_input = None
        end = None
        for index, layer in enumerate(self.hidden):
            if index in ends:
                block_input, end = X, ends[index]
            X = apply(layer, X)
            if index + 1 == end:
                X = block_input + X
                block_input = end = None
        return X

    def forward(self, X, generator=None):
        """Outputs for ``X``; in training mode dropout masks are drawn from ``generator``
        (torch's global generator when it is None)."""
        if not self.skips:
            # The plain network's loop, without the blocks' bookkeeping.
            for layer in self.hidden:
                X = layer(X, generator) if isinstance(layer, GeneratorDropout) else layer(X)
            return self.output(X)

        def apply(layer, X):
            return layer(X, generator) if isinstance(layer, GeneratorDropout) else layer(X)

        return self.output(self._hidden_pass(X, apply))

    def stochastic_forward(self, X, generator):
        """One pass with dropout masks drawn from ``generator`` whatever the mode.

        Every other layer follows the module's mode: in evaluation mode batch
        normalization uses its running statistics. This is one pass of Monte
        Carlo dropout, which leaves the module's modes alone, so that threads
        predicting with one module at once do not switch each other's layers.
        """
        def apply(layer, X):
            return layer.sample(X, generator) if isinstance(layer, GeneratorDropout) else layer(X)

        return self.output(self._hidden_pass(X, apply))
