"""The torch module behind every skreg estimator: a plain multi-layer perceptron."""

from torch import nn

ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,
    "identity": nn.Identity,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}


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
    """

    def __init__(self, n_features, n_outputs, hidden_layer_sizes, activation, dropout, batch_norm):
        super().__init__()
        blocks = []
        width_in = n_features
        for width, p in zip(hidden_layer_sizes, dropout):
            blocks.append(nn.Linear(width_in, width))
            if batch_norm:
                blocks.append(nn.BatchNorm1d(width))
            blocks.append(ACTIVATIONS[activation]())
            if p > 0:
                blocks.append(nn.Dropout(p))
            width_in = width
        self.hidden = nn.Sequential(*blocks)
        self.output = nn.Linear(width_in, n_outputs)

    def forward(self, X):
        return self.output(self.hidden(X))
