"""Shared docstring sections of the estimators, written once."""

PARAMETERS = """\
    hidden_layer_sizes : int or sequence of int, default=(100,)
        Width of each hidden layer, as in :class:`sklearn.neural_network.MLPClassifier`.
    activation : {"relu", "tanh", "logistic", "identity", "gelu", "silu"}, default="relu"
        Activation after each hidden layer.
    dropout : float or sequence of float, default=0.0
        Dropout probability after each hidden layer's activation: one value for
        all layers or one per layer. Training uses inverted dropout (kept units
        are scaled by ``1 / (1 - p)``); prediction turns dropout off.
    l1 : float, default=0.0
        Strength of the L1 penalty ``l1 * sum(|w|)``.
    l2 : float, default=0.0
        Strength of the L2 penalty ``l2 / 2 * sum(w ** 2)``, whose gradient is
        ``l2 * w`` (with ``solver="sgd"`` this is torch's ``weight_decay``).
        Both penalties sum over the weight matrices of all layers, output layer
        included, never over biases or batch-norm parameters, and are added to
        the {data_loss} of each training batch (not scaled by the batch
        or training-set size). The validation loss is the plain data loss.
    batch_norm : bool, default=False
        Add batch normalization between each hidden linear layer and its
        activation. Training normalizes with batch statistics; prediction uses
        running averages.
    solver : {"adam", "sgd"}, default="adam"
        Optimizer.
    learning_rate_init : float, default=0.001
        Learning rate.
    momentum : float, default=0.9
        Momentum for ``solver="sgd"``.
    batch_size : int or "auto", default="auto"
        Mini-batch size; "auto" is ``min(200, n_samples)``.
    max_iter : int, default=200
        Maximum number of epochs.
    shuffle : bool, default=True
        Draw a new order of the training rows every epoch.
    tol : float, default=1e-4
        Minimal decrease of the monitored loss that counts as an improvement.
    n_iter_no_change : int, default=10
        Epochs without improvement after which training stops. Without early
        stopping the training loss is monitored (as in scikit-learn's MLP).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data{split_note},
        monitor its loss, stop after ``n_iter_no_change`` epochs without
        improvement and restore the weights of the best epoch.
    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialization, dropout, shuffling and the validation
        split. With an int, fits on CPU are bitwise reproducible, across
        processes too, for the same number of torch threads (batch norm's CPU
        kernels reduce in a thread-dependent order), and the global random
        states of torch and numpy are left as they were. With None, the seed is
        drawn from numpy's global generator (one draw, as scikit-learn's
        estimators do), so ``np.random.seed`` makes such fits repeat; torch's
        global state is still left as it was.
    verbose : int, default=0
        ``verbose=1`` prints skorch's table of epochs.
    warm_start : bool, default=False
        Continue training the fitted network on the next call to ``fit``.
    device : str, default="cpu"
        Torch device to train and predict on, e.g. "cpu" or "cuda". A model
        trained on a GPU still predicts on a CPU-only machine after
        ``pickle``/``joblib`` (skorch maps its tensors to the CPU) or
        :func:`skreg.load` (which loads onto the CPU by default).
    callbacks : list of skorch callbacks or (name, callback) pairs, default=None
        Extra skorch callbacks. They are copied before training, so the objects
        passed in are never modified.

"""


def parameters_doc(data_loss, split_note):
    """Return the parameter section with the task's data loss and validation split filled in."""
    return PARAMETERS.replace("{data_loss}", data_loss).replace("{split_note}", split_note)
