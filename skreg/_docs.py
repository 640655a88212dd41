"""Shared docstring sections of the estimators, written once."""

PARAMETERS = """\
    hidden_layer_sizes : int or sequence of int, default=(100,)
        Width of each hidden layer, as in :class:`sklearn.neural_network.MLPClassifier`.
        At most 1000 layers and 10**9 weights and biases in all, checked before
        anything is built.
    activation : {"relu", "tanh", "logistic", "identity", "gelu", "silu"}, default="relu"
        Activation after each hidden layer.
{after_activation}    dropout : float or sequence of float, default=0.0
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
    alpha : float, default=1e-4
        The L2 term of scikit-learn's MLP, with its scale: ``0.5 * alpha *
        sum(w ** 2) / n_batch_rows`` is added to each training batch's loss (the
        same weight matrices as ``l2``), so that ``alpha`` means what it means in
        :class:`sklearn.neural_network.MLPClassifier`. It is ``l2`` divided by
        the batch's rows: ``alpha=a`` with batches of ``b`` rows is ``l2=a / b``
        (a last, smaller batch gets a larger share, as in scikit-learn). The
        default is scikit-learn's; ``alpha=0`` with every other regularizer
        off is the unregularized network.
    weight_decay : float, default=0.0
        Decoupled weight decay of the same weight matrices (never biases or
        batch-norm parameters), applied by the optimizer. With
        ``solver="adam"`` the optimizer becomes AdamW (Loshchilov and Hutter,
        2019): each step shrinks every weight by the factor
        ``1 - lr * weight_decay`` (``lr`` the current learning rate) apart
        from the Adam step. This is not the same as ``l2``: the L2 penalty's
        gradient ``l2 * w`` enters Adam's moment estimates and is divided by
        the running gradient scale, so weights with large or noisy gradients
        are barely regularized, while weight decay shrinks all weights at the
        same relative rate. Equal values are not equal strengths either:
        a step of weight decay is only ``lr * weight_decay``
        (``benchmarks/l2_vs_weight_decay.py`` measures both). With
        ``solver="sgd"`` it is torch's SGD ``weight_decay``, which adds
        ``weight_decay * w`` to the gradient before momentum: exactly the
        update of ``l2=weight_decay``, since for plain gradient descent the
        two coincide.
    batch_norm : bool, default=False
        Add batch normalization between each hidden linear layer and its
        activation. Training normalizes with batch statistics; prediction uses
        running averages.
    input_noise : float, default=0.0
        Standard deviation of Gaussian noise added to every input value of
        every training batch (a fresh draw each time), in the units of ``X``:
        standardize ``X`` (e.g. ``StandardScaler`` in a pipeline) so that one
        value suits all features. Validation and prediction use the inputs
        as they are.
    mixup_alpha : float, default=0.0
        Mixup (Zhang et al., 2018): with ``mixup_alpha > 0`` every training
        row is replaced by ``lam * row + (1 - lam) * partner``, with
        ``partner`` another row of the same batch and ``lam`` drawn per row
        from ``Beta(mixup_alpha, mixup_alpha)``; {mixup_targets} and sample
        weights are mixed alike. Validation and prediction are unchanged.
        Augmentation makes the training loss noisy, so without early stopping
        a larger ``n_iter_no_change`` keeps the loss-based stopping rule from
        ending training early.
    residual : bool, default=False
        Skip connections: every hidden block (``Linear -> [BatchNorm1d] ->
        activation -> [Dropout]``) whose width equals that of the block
        before it computes ``x + block(x)``. Blocks whose width differs, and
        the first block, have none: a projection would add weight matrices
        that ``coefs_`` has no place for. So ``(64, 64, 64)`` gets two skips
        and ``(128, 64, 64)`` one; ``residual=True`` with no two consecutive
        layers of equal width raises a ValueError. The weights and
        ``coefs_`` are those of the plain network.
    swa_start : float in [0, 1) or None, default=None
        Stochastic weight averaging (Izmailov et al., 2018): the first
        ``floor(swa_start * max_iter)`` epochs of each call to ``fit`` are
        left out, and training ends with the mean of the weights at the end
        of every later epoch (all weights and biases; with ``batch_norm``, the
        running statistics are then recomputed for the averaged weights in
        one pass over the training rows, with dropout off). If the stopping
        rule ends training before averaging starts, the last weights are
        kept (``n_iter_no_change=np.inf`` trains all ``max_iter`` epochs).
        ``net_.callbacks_`` holds the averaging as ``"swa"``, whose
        ``n_averaged_`` counts the averaged epochs. Not combined with
        ``early_stopping`` (which restores one epoch's weights: a ValueError
        says so), ``partial_fit``, ``solver="lbfgs"`` or ``cuda_graph``.
    dropout_schedule : {"constant", "flat_cos", "cos", "linear"}, default="constant"
        Multiplies every ``dropout`` rate during training by a factor of the
        epoch's progress ``t = ((epoch - 1) % max_iter) / max_iter`` (epochs
        counted over warm-started fits and ``partial_fit`` calls, restarting
        after ``max_iter``, as ``learning_rate="cosine"`` does): "flat_cos"
        (RealMLP's) is 1 for ``t < 0.5`` and then ``(1 + cos(pi * (2t - 1))) / 2``,
        "cos" is ``(1 + cos(pi * t)) / 2``, "linear" is ``1 - t``. The factor of
        each epoch is recorded in ``net_.history`` as ``event_dropout_factor``;
        after training the layers have the ``dropout`` rates again (used by
        ``return_std``).
    weight_decay_schedule : {"constant", "flat_cos", "cos", "linear"}, default="constant"
        The same schedule for ``weight_decay`` (``event_weight_decay_factor``
        in the history); no effect without ``weight_decay``. Neither schedule
        can be combined with ``cuda_graph``.
{task_parameters}    solver : {"adam", "sgd", "lbfgs"}, default="adam"
        Optimizer: torch's ``Adam`` (``AdamW`` with ``weight_decay``) or
        ``SGD``, or full-batch L-BFGS. On a CPU, Adam runs torch's fused
        implementation where torch has one (2.4 and later), which gives the
        same updates up to floating-point rounding. "lbfgs" is scikit-learn's
        solver: scipy's L-BFGS-B minimizes the training objective on all rows
        (the {data_loss} plus the penalties) with ``maxiter=max_iter``,
        ``maxfun=max_fun`` and ``gtol=tol``, in float64 (the fitted weights
        are float32), and sets ``n_iter_`` (L-BFGS iterations) and ``loss_``
        (the final objective) as scikit-learn does, with a
        ``ConvergenceWarning`` when it stops on ``max_iter`` or ``max_fun``.
        It suits small data sets, where it often converges faster than the
        stochastic solvers. The objective must be deterministic, so dropout,
        ``input_noise`` and ``mixup_alpha`` are refused with it, and so are
        ``weight_decay`` and ``callbacks``, which belong to the stochastic
        loop; batch normalization normalizes with the statistics of all rows
        and keeps them as its running statistics. The learning-rate,
        batch, shuffling and early-stopping parameters are not used
        (``early_stopping`` is ignored, as in scikit-learn), and
        ``partial_fit`` is not available. The history (``net_.history``,
        ``loss_curve_``) holds the objective after each iteration. The rows
        are evaluated in chunks of bounded memory; with batch normalization
        all rows form one batch.
    learning_rate : {"constant", "invscaling", "adaptive", "cosine"}, default="constant"
        Learning-rate schedule. "constant" keeps ``learning_rate_init``.
        "invscaling" and "adaptive" are scikit-learn's, and as there apply to
        ``solver="sgd"`` only (Adam keeps its rate): "invscaling" sets the
        rate after each epoch to ``learning_rate_init / (t_ + 1) ** power_t``,
        ``t_`` the training rows seen so far; "adaptive" divides the rate by 5
        each time the stopping rule (see ``n_iter_no_change``) would stop,
        and stops only once the rate is 1e-6 or less. "cosine", skreg's own,
        applies to both solvers: it anneals the rate along half a cosine from
        ``learning_rate_init`` to zero over ``max_iter`` epochs, then
        restarts (torch's ``CosineAnnealingWarmRestarts`` through skorch's
        ``LRScheduler``, which records each epoch's rate in ``net_.history``
        as ``event_lr``); epochs count over warm-started fits and
        ``partial_fit`` calls.
    learning_rate_init : float, default=0.001
        Initial learning rate.
    power_t : float, default=0.5
        Exponent of ``learning_rate="invscaling"`` (SGD only).
    momentum : float, default=0.9
        Momentum for ``solver="sgd"``, as in scikit-learn (torch's SGD
        momentum is the same update).
    nesterovs_momentum : bool, default=True
        Nesterov's momentum for ``solver="sgd"`` with ``momentum > 0``, as in
        scikit-learn (torch's ``nesterov=True``).
    batch_size : int or "auto", default="auto"
        Mini-batch size; "auto" is ``min(200, n_samples)``.
    max_iter : int, default=200
        Maximum number of epochs; with ``solver="lbfgs"``, of L-BFGS iterations.
    max_fun : int, default=15000
        Only used with ``solver="lbfgs"``: maximum number of evaluations of
        the objective (and its gradient), as in scikit-learn. L-BFGS ends the
        iteration in which the limit is passed, so the evaluations may exceed
        it slightly.
    shuffle : bool, default=True
        Draw a new order of the training rows every epoch.
    tol : float, default=1e-4
        Tolerance of the stopping rule, scikit-learn's: an epoch improves when
        its training loss is below the best loss so far minus ``tol`` (with
        ``early_stopping``: its validation score is at least the best score
        so far plus ``tol``).
        With ``solver="lbfgs"``, L-BFGS's ``gtol``: it stops once no component
        of the objective's gradient exceeds ``tol`` in magnitude.
    n_iter_no_change : int or np.inf, default=10
        Training stops once more than ``n_iter_no_change`` consecutive epochs
        have not improved (after ``n_iter_no_change + 1`` of them), as in
        scikit-learn; ``np.inf`` trains ``max_iter`` epochs.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data{split_note}
        (scikit-learn's ``train_test_split``), score it after every epoch
        (accuracy for the classifier, R^2 for the regressor, as scikit-learn
        does), stop by the rule of ``n_iter_no_change`` on that score and
        restore the weights of the epoch with the highest score
        (``best_epoch_``, ``best_validation_score_``). Not supported by
        ``partial_fit``, as in scikit-learn.
    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping; at least 2
        rows must be held out.
    beta_1, beta_2 : float in [0, 1), default=0.9, 0.999
        Adam's decay rates of its first and second moment estimates.
    epsilon : float, default=1e-8
        Adam's term for numerical stability.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialization, dropout, shuffling, input noise, mixup,
        the validation split and the passes of ``return_std``. Each fit and
        each prediction draws from its own ``torch.Generator`` seeded from it,
        never from torch's global generator, so with an int, fits on CPU are
        bitwise reproducible, across processes and threads too (fits running
        in several threads at once give the serial results), for the same
        number of torch threads (batch norm's CPU kernels reduce in a
        thread-dependent order), and the global random states of torch and
        numpy are never touched. Epoch ``k`` draws from ``(seed, k)``, and
        ``partial_fit`` and ``warm_start`` continue with the seed of the
        network's first fit, so ``N`` calls of ``partial_fit`` draw what one
        ``fit`` of ``N`` epochs draws. With None, the seed is drawn from
        numpy's global generator (one draw, as scikit-learn's estimators do),
        so ``np.random.seed`` makes such fits repeat; torch's global state is
        still left alone.
    verbose : int, default=0
        ``verbose=1`` prints skorch's table of epochs: one row per epoch with
        its losses, validation score, learning rate and duration, as it ends.
        ``verbose>=2`` also shows a progress bar of the batches within each
        epoch, for epochs long enough to wait on.
    warm_start : bool, default=False
        Continue training the fitted network on the next call to ``fit``,
        for up to ``max_iter`` more epochs (``n_iter_`` counts that call's
        epochs, as in scikit-learn; ``partial_fit`` always continues).
        Parameters changed since are read again and take effect in the
        continued training (learning rate, penalties, dropout rates, noise,
        mixup, schedule, solver and its settings, batch size, stopping rule,
        callbacks, ...), with the optimizer's state and the learning rate a
        schedule has reached carried on; a changed ``hidden_layer_sizes``,
        ``activation``, ``batch_norm``, ``residual``, ``device``,
        ``cuda_graph``, ``loss`` (regressor) or, with Adam or SGD,
        ``early_stopping`` raises a
        ValueError naming the parameter and both values. ``random_state`` is
        not read again: the epochs go on drawing from the first fit's seed.
        With ``solver="lbfgs"``, L-BFGS starts from the current weights, with
        a new curvature memory.
    mc_samples : int, default=50
        Number of stochastic forward passes of Monte Carlo dropout, used only
        by prediction with ``return_std=True``. A constructor parameter, so
        that it is cloned, searchable and reported with the model, and the
        prediction methods keep scikit-learn's signatures. At most 10_000:
        the passes of a chunk of rows are held in memory together, and the
        Monte Carlo error of the mean shrinks only as ``1/sqrt(mc_samples)``
        (1 % of the predictive spread at the bound).
    device : str, default="cpu"
        Torch device to train and predict on, e.g. "cpu" or "cuda". A model
        trained on a GPU still predicts on a CPU-only machine after
        ``pickle``/``joblib`` (skorch maps its tensors to the CPU) or
        :func:`skreg.load` (which loads onto the CPU by default).
    callbacks : list of skorch callbacks or (name, callback) pairs, default=None
        Extra skorch callbacks. They are copied before training, so the objects
        passed in are never modified. They run after skreg's own callbacks (the
        validation score, the schedule, the stopping rule) and see the end of
        every epoch, the last one included; training ends after them.
    cuda_graph : bool, default=False
        On a GPU (``device="cuda"``), capture the training step (forward, loss,
        backward and the Adam update) in a CUDA graph once per fit and replay
        it for every batch, which removes most of the per-batch launch cost of
        small networks. Needs ``solver="adam"``, dense training data that fits on
        the device, and no callback that uses ``on_grad_computed``. Each batch's
        loss is read when the batch ends, as skorch's loop does. Results match
        the eager step up to floating-point rounding (without dropout; dropout
        draws other masks).
        Only full batches replay the graph: a last, smaller batch of an epoch
        runs eagerly, and so does all of training when the training set is
        smaller than one batch.
    n_threads : int or None, default=None
        Number of torch's intra-op threads during ``fit`` and ``predict``; the setting
        that was there before is restored afterwards. An int sets them (with a
        ``UserWarning`` when it exceeds the CPU cores the process can use). None
        leaves torch's setting alone, except where several fits share one
        process: inside a thread worker of joblib (``backend="threading"``) or
        of dask, torch's threads are split between
        ``max(worker threads, fits running in the process)`` fits (2 worker
        threads for joblib's thread pool, whose size a worker cannot see).
        joblib's process workers (the default ``loky`` backend) already start
        with ``cpu_count() // n_jobs`` threads, and dask's worker processes
        with one, so a search with ``n_jobs`` or on a dask cluster does not
        oversubscribe the cores. torch's setting applies to the calling thread
        and is the default of threads that start later, so other torch code
        running in the same process during a fit may see the lowered default;
        joblib's ``multiprocessing`` backend gives its workers no hint (use
        ``loky`` or an int there). The user guide's page on scaling out has
        the details.

"""


CLASSIFIER_PARAMETERS = """\
    label_smoothing : float in [0, 1), default=0.0
        Label smoothing of the cross-entropy (torch's ``CrossEntropyLoss``):
        the target puts ``1 - label_smoothing`` on the true class plus
        ``label_smoothing`` spread evenly over all classes. For logistic
        outputs (binary and multilabel targets) each 0/1 target ``t`` becomes
        ``t * (1 - label_smoothing) + label_smoothing / 2``, what the
        smoothing of two classes gives. The validation loss is smoothed alike
        (it is the training objective on held-out rows); the validation score
        is plain accuracy.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, as in scikit-learn: a dict ``{label: weight}``
        (classes left out weigh 1), or "balanced" for
        ``n_samples / (n_classes * class_count)``, computed with
        :func:`sklearn.utils.class_weight.compute_class_weight`. Each
        sample's weight is its class weight times its ``sample_weight``.
        Not available for multilabel targets (a ValueError), whose rows can
        belong to several classes or none.
"""

FITTED_ATTRIBUTES = """\
    n_iter_ : int
        Number of epochs run by the last call (one after ``partial_fit``), as
        in scikit-learn; with ``solver="lbfgs"``, its L-BFGS iterations.
    t_ : int
        Number of training rows seen over every call since the network was
        built (scikit-learn's count of samples).
    loss_ : float
        Training loss of the last epoch; with ``solver="lbfgs"``, the
        objective at the final weights, as scikit-learn's ``loss_``.
    coefs_ : list of ndarray
        Weight matrix of each layer, of shape ``(n_in, n_out)``, as in
        scikit-learn (copies in the training data's float dtype; assigning a
        list writes it into the network).
    intercepts_ : list of ndarray
        Bias vector of each layer, of shape ``(n_out,)``.
    n_layers_ : int
        Number of layers, input and output layers included.
"""

NOTES = """\
    Notes
    -----
    ``sample_weight`` follows scikit-learn's meaning: the training loss is the
    weighted mean of the samples' losses, so a weight of 2 counts like
    repeating the row and a weight of 0 like leaving it out. The weights are
    rescaled to mean one over the rows passed to ``fit``, and a batch's loss is
    ``mean(w_i * loss_i)`` over its rows: an unbiased estimate of the weighted
    loss of the whole training set at any batch size, with the penalties'
    strength independent of the scale of the weights (the regressor also
    standardizes its targets with weighted statistics). Fitting with weights
    therefore minimizes the same objective as fitting repeated rows, except
    with ``batch_norm``, whose batch statistics are unweighted. The training
    paths coincide only with full batches (``batch_size`` at least the number
    of rows, repeated or not) and no randomness that depends on the number of
    rows (dropout masks, ``input_noise``, mixup partners, the early-stopping
    split); even then the two fits agree to float32 rounding, not bit for bit
    (about 1e-7 relative; scikit-learn's
    ``check_sample_weight_equivalence_on_dense_data`` asks for less, and is
    an expected failure). Early stopping's validation loss and score are
    weighted too.

    An exception raised by ``fit`` or ``partial_fit`` (bad input, a refused
    parameter, a diverged loss, a failing callback) leaves a fitted
    estimator exactly as it was, its network, optimizer state and history
    included, and an unfitted one unfitted. A ``KeyboardInterrupt`` during
    Adam or SGD training (Ctrl-C) ends training as scikit-learn's MLP does:
    the epochs finished are kept and counted in ``n_iter_``, an epoch cut
    short is not counted (its weight updates stay), and a ``UserWarning``
    says "Training interrupted by user."; a fresh fit interrupted before its
    first epoch ends raises the ``KeyboardInterrupt`` and leaves the estimator
    as it was. With ``solver="lbfgs"`` the ``KeyboardInterrupt`` is raised.

"""


REGRESSOR_LOSS_PARAMETER = """\
    loss : {"squared_error", "poisson"}, default="squared_error"
        Training loss, as in :class:`sklearn.neural_network.MLPRegressor`.
        "squared_error" is the mean squared error of the standardized targets
        (see the class description). "poisson" is the Poisson deviance with a
        log link (``exp(raw) - y * raw`` per output; the output activation
        ``out_activation_`` is "exp"), on the targets as they are, which must
        be non-negative. Keyword-only: sklearn's ``MLPRegressor`` takes it as
        its first positional argument, skreg's regressor takes
        ``hidden_layer_sizes`` first.
"""


def parameters_doc(
    data_loss, split_note, mixup_targets, task_parameters="", after_activation=""
):
    """Return the parameter section with the task's wording and own parameters filled in.

    ``task_parameters`` (documentation of parameters only one task has) is
    placed after ``mixup_alpha``, and ``after_activation`` (the regressor's
    ``loss``) after ``activation``, where those parameters sit in the signature.
    """
    return (
        PARAMETERS.replace("{data_loss}", data_loss)
        .replace("{split_note}", split_note)
        .replace("{task_parameters}", task_parameters)
        .replace("{mixup_targets}", mixup_targets)
        .replace("{after_activation}", after_activation)
    )


PERSISTENCE_EXAMPLES = """\
    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_iris
    >>> from skreg import RegularizedMLPClassifier, load, save
    >>> X, y = load_iris(return_X_y=True)
    >>> model = RegularizedMLPClassifier(max_iter=5, random_state=0)
    >>> model = model.fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
    >>> save(model, path)
    >>> bool((load(path).predict_proba(X) == model.predict_proba(X)).all())
    True
"""


# The CV estimators' sections after their summary; {base_parameters} are their base
# estimator's, {classes} the classifier's ``classes_``.
SEARCH_DOC = """
    Every parameter of :class:`{base}` is a parameter of this estimator too, with
    its default; those not in ``param_grid`` are shared by every candidate and the
    final model.

    Parameters
    ----------
{base_parameters}    param_grid : dict or list of dict, default=None
        Candidate values of any parameters of :class:`{base}`, as
        ``GridSearchCV``'s ``param_grid``; with ``n_iter``, lists or scipy
        distributions, as ``RandomizedSearchCV``'s ``param_distributions``.
        None is ``DEFAULT_SPACE``: ``dropout`` in [0, 0.1, 0.25, 0.5] times
        ``alpha`` in [1e-4, 1e-3, 1e-2, 1e-1].
    n_iter : int, default=None
        Sample this many candidates from ``param_grid`` (None: every combination).
    cv : int, cross-validation generator or iterable, default=5
        As in ``GridSearchCV`` (stratified folds for a classifier).
    scoring : str, callable or None, default=None
        A scikit-learn scorer, called once per candidate, fold and epoch. None: the
        negative log loss for a classifier (accuracy's steps make it pick too early
        epochs), R^2 for a regressor, both computed on the network's outputs.
    final_model : {{"refit", "bagging"}}, default="refit"
        "refit": the best candidate fitted on all rows (``best_estimator_``).
        "bagging": one model per fold, each fitted on its fold's training rows
        for the epochs its held-out fold scored best at (``estimators_``);
        predictions are their mean.
    halving : bool, default=True
        Successive halving over epochs: at ``max_iter / 8``, ``/ 4`` and ``/ 2``
        epochs only the better half of the remaining candidates goes on.
    stacked : "auto" or bool, default="auto"
        Train candidates that differ only in dropout, l1, l2, alpha,
        weight_decay and learning_rate_init together as one stacked network
        ("auto": where their settings allow it; True: raise where they do not).
    eval_every : int, default=5
        Epochs between two held-out scores of a candidate trained as an ordinary
        estimator (stacked candidates are scored after every epoch).
    n_jobs : int, default=None
        Torch threads of the stacked trainer; joblib workers for the candidates
        trained as ordinary estimators and for the bagged fold models.

    Attributes
    ----------
    cv_results_ : dict of ndarray
        ``GridSearchCV``'s keys and layout, plus ``n_epochs`` (epochs trained)
        and ``mean_best_epoch``. A fold's score is the candidate's best
        held-out score over the epochs it trained.
    best_index_ : int
    best_params_ : dict
    best_score_ : float
        Mean over folds of the best candidate's held-out scores.
    best_estimator_ : {base}
        The final model (``final_model="refit"``).
    estimators_ : list of {base}
        The fold models (``final_model="bagging"``).
    n_iter_ : int
        Epochs of the final model (the most over the fold models).
    n_splits_ : int
    search_time_, refit_time_ : float
        Seconds of the search and of fitting the final model(s).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Feature names, when ``X`` had string column names.{classes}

    See Also
    --------
    {base} : The estimator whose regularization this chooses.

    Examples
    --------
    >>> from sklearn.datasets import {data}
    >>> from sklearn.preprocessing import scale
    >>> from skreg import {name}
    >>> X, y = {data}(return_X_y=True)
    >>> search = {name}(
    ...     hidden_layer_sizes=(16,), max_iter=20, random_state=0,
    ...     param_grid={{"alpha": [1e-4, 1e-1]}}, cv=3,
    ... ).fit(scale(X), y)
    >>> sorted(search.best_params_)
    ['alpha']
"""

CLASSES_DOC = """
    classes_ : ndarray of shape (n_classes,)
        Class labels."""


def search_doc(search_class):
    """The docstring sections of a CV estimator, from its base estimator's docstring."""
    base = search_class._base_class
    doc = base.__doc__
    heading = "    Parameters\n    ----------\n"
    start = doc.index(heading) + len(heading)
    end = doc.index("    Attributes\n    ----------\n", start)
    classifier = search_class._is_classifier
    return SEARCH_DOC.format(
        base=base.__name__, name=search_class.__name__,
        base_parameters=doc[start:end].rstrip("\n") + "\n",
        classes=CLASSES_DOC if classifier else "",
        data="load_breast_cancer" if classifier else "load_diabetes",
    )
