"""An opt-in training step captured once in a CUDA graph and replayed for every batch.

On a GPU, a small network's eager step is bound by kernel launches: the
Python side issues forward, backward and optimizer kernels one by one, and the
GPU waits for it. A CUDA graph records the whole step (forward, loss with
penalty, backward and the Adam update) once and replays it with a single
launch. The batch is gathered into static buffers before each replay, so
skorch's callbacks still receive every batch, and skorch's loop records every
batch's loss as it does for an eager step.

The captured step belongs to a net class of its own, :class:`CapturedStepNet`,
a :class:`skreg._net.RegularizedNet` that the estimators build only for
``cuda_graph=True``. It overrides three of skorch's documented hooks again:
``get_iterator`` makes the step of each training call (whose batches are
gathered into the static buffers), ``train_step`` calls it (the replay), and
``get_params_for_optimizer`` asks for an Adam that can be captured. skorch's
own loop drives it.

What the captured step cannot honour is refused with a clear error:
``on_grad_computed`` callbacks (gradients never reach Python between backward
and the update) and optimizers other than Adam (whose ``capturable=True``
keeps its step count on the device).
"""

import warnings
from contextlib import contextmanager

import torch
from torch.optim import Adam, AdamW

from ._loop import defines_hook
from ._net import RegularizedNet
from ._uncertainty import has_dropout

# Eager steps run before capture: they create the optimizer's state and let
# cuBLAS and the caching allocator set up their workspaces outside the graph.
# They are ordinary training steps on the first batches of the first epoch.
WARMUP_STEPS = 3

# The Adams a captured step can update (``weight_decay`` builds AdamW). Both are named:
# AdamW is a subclass of Adam only in recent torch releases, not in torch 2.2.
ADAM_CLASSES = (Adam, AdamW)


def register_generator(graph, generator):
    """Let ``graph`` replay the random draws it records from ``generator``, a CUDA generator.

    torch records draws from its default generator by itself; those from
    another generator it replays only if the generator is registered (torch 2.4
    and later; recent versions register it on first use and deprecate the call).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        graph.register_generator_state(generator)


def records_graph(net):
    """Whether ``net``, a :class:`CapturedStepNet`, records a CUDA graph (on a CPU its step
    runs eagerly)."""
    return torch.device(net.device).type == "cuda"


def graph_takes_generators():
    """Whether this torch's CUDA graphs replay draws from generators other than the default."""
    return hasattr(torch.cuda.CUDAGraph, "register_generator_state")


class DeviceLearningRates:
    """Device tensors that mirror an optimizer's learning rates, for a captured step to read.

    A CUDA graph records a float learning rate as a constant of its kernels,
    but reads a tensor one at every replay. The param groups keep their float
    rates, which is what torch's schedulers and skorch's history expect (with a
    tensor rate, schedulers before torch 2.4 put a float in its place, which
    the graph never reads, and later ones report tensors, which end up in the
    history); the tensors take their place only while the step is recorded
    (:meth:`installed`), and :meth:`sync` copies a rate that changed since
    into its tensor.

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
        The optimizer whose param groups' ``lr`` are mirrored.
    device : torch.device
        Where the tensors live: the device the graph runs on.
    """

    def __init__(self, optimizer, device):
        self.optimizer = optimizer
        self.values = [float(group["lr"]) for group in optimizer.param_groups]
        self.tensors = [torch.tensor(value, device=device) for value in self.values]

    def sync(self):
        """Copy every rate that changed since the last call into its tensor."""
        for i, group in enumerate(self.optimizer.param_groups):
            value = float(group["lr"])
            if value != self.values[i]:
                self.tensors[i].fill_(value)
                self.values[i] = value

    @contextmanager
    def installed(self):
        """Put the tensors in the param groups for the duration of the block."""
        self.sync()
        groups = self.optimizer.param_groups
        rates = [group["lr"] for group in groups]
        for group, tensor in zip(groups, self.tensors):
            group["lr"] = tensor
        try:
            yield
        finally:
            for group, rate in zip(groups, rates):
                group["lr"] = rate


class CapturedStep:
    """The training batches of one training call and the captured step that trains on them.

    Iterating over it yields the batches of an epoch: a full batch is gathered
    into the static buffers that the graph reads, a batch of another size (the
    last one) is a batch of its own. Calling it with a batch is the net's
    training step: the graph's replay for the static buffers, an eager step
    for any other batch, and ``{"loss": loss, "y_pred": y_pred}`` as skorch's
    ``train_step`` returns, as device tensors that the next step overwrites.
    skorch's loop reads each batch's loss (``loss.item()``), one device
    synchronization per batch, as it does for an eager step.

    Parameters
    ----------
    net : CapturedStepNet
        An initialized net whose module, criterion and optimizer are used.
    iterator : skreg._data.TensorBatchIterator
        The training iterator, whose generator draws the permutations; its
        tensors must be on the net's device.
    capture : bool
        Record and replay a CUDA graph. Without it the same static-buffer step
        runs eagerly, which lets the bookkeeping be checked on a CPU.
    """

    def __init__(self, net, iterator, capture):
        if not isinstance(net.optimizer_, ADAM_CLASSES):
            raise ValueError("cuda_graph=True supports solver='adam' only.")
        if capture and not all(g.get("capturable") for g in net.optimizer_.param_groups):
            raise ValueError(
                "cuda_graph=True needs Adam built with capturable=True, which keeps its "
                "step count on the device; CapturedStepNet sets it unless "
                "optimizer__capturable=False is given."
            )
        listeners = [name for name, cb in net.callbacks_ if defines_hook(cb, "on_grad_computed")]
        if listeners:
            raise ValueError(
                f"cuda_graph=True cannot call on_grad_computed (callbacks {listeners}): "
                "the captured step updates the weights without returning to Python."
            )
        if not hasattr(iterator, "X"):
            raise ValueError(
                "cuda_graph=True cannot be combined with batch augmentation "
                "(input_noise, mixup_alpha): the captured step trains on the stored rows."
            )
        self.draws = net.epoch_generators() is not None and has_dropout(net.module_)
        if capture and self.draws and not graph_takes_generators():
            raise ValueError(
                "cuda_graph=True with dropout draws the masks of the captured step from the "
                "fit's own generator, which CUDA graphs of this torch cannot replay (they need "
                "torch.cuda.CUDAGraph.register_generator_state, torch 2.4 and later)."
            )
        X, y = iterator.X, iterator.y
        if not isinstance(X, torch.Tensor):
            raise ValueError(
                "cuda_graph=True needs dense X: the captured step gathers each batch from "
                "the rows stored on the device, and sparse rows are densified batch by batch "
                "on the host. Use cuda_graph=False, or pass X.toarray() if it fits."
            )
        if not isinstance(y, torch.Tensor):
            raise ValueError("cuda_graph=True does not support sample or class weights.")
        device = torch.device(net.device)
        if X.device.type != device.type:
            raise ValueError(
                "cuda_graph=True needs the training data on the device, but it does not fit "
                "there; use cuda_graph=False."
            )
        self.net, self.iterator, self.capture = net, iterator, capture
        self.X, self.y = X, y
        size = iterator.batch_size
        self.static_X = X.new_empty((size, *X.shape[1:]))
        self.static_y = y.new_empty((size, *y.shape[1:]))
        self.graph = None
        self.static_loss = self.static_y_pred = None
        self.warmup_left = WARMUP_STEPS if capture else 0
        self.learning_rates = DeviceLearningRates(net.optimizer_, device) if capture else None

    def _forward_backward(self, X_batch, y_batch):
        net = self.net
        y_pred = net.infer_training(X_batch)
        loss = net.get_loss(y_pred, y_batch, X=X_batch, training=True)
        loss.backward()
        net.optimizer_.step()
        return y_pred, loss

    def _eager_step(self, X_batch, y_batch):
        # Once captured, the graph owns the gradient tensors: zero them in place
        # (backward then accumulates into them) instead of replacing them.
        self.net.optimizer_.zero_grad(set_to_none=self.graph is None)
        with warnings.catch_warnings():
            # torch warns when a capturable Adam steps outside a capture; the
            # warm-up steps and a last batch of another size do so on purpose.
            warnings.filterwarnings(
                "ignore", message="This instance was constructed with capturable"
            )
            y_pred, loss = self._forward_backward(X_batch, y_batch)
        return y_pred.detach(), loss.detach()

    def _record(self):
        self.net.optimizer_.zero_grad(set_to_none=True)
        self.graph = torch.cuda.CUDAGraph()
        if self.draws:
            # The dropout masks come from the fit's generator, which the graph must know to
            # draw new masks at every replay, from the seed of the replay's epoch.
            register_generator(self.graph, self.net.epoch_generators().on(self.net.device))
        with self.learning_rates.installed(), torch.cuda.graph(self.graph):
            self.static_y_pred, self.static_loss = self._forward_backward(
                self.static_X, self.static_y
            )

    def _static_step(self):
        if not self.capture:
            return self._eager_step(self.static_X, self.static_y)
        if self.warmup_left:
            self.warmup_left -= 1
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                result = self._eager_step(self.static_X, self.static_y)
            torch.cuda.current_stream().wait_stream(stream)
            return result
        if self.graph is None:
            self._record()
        # A scheduler may have changed a rate since the last replay (once per
        # epoch, or per batch); an unchanged rate costs no device work.
        self.learning_rates.sync()
        self.graph.replay()
        return self.static_y_pred, self.static_loss

    def __len__(self):
        return len(self.iterator)

    def __iter__(self):
        iterator = self.iterator
        n = len(self.X)
        if iterator.shuffle:
            order = torch.randperm(n, generator=iterator.generator, device=self.X.device)
        else:
            order = torch.arange(n, device=self.X.device)
        for start, stop in iterator._bounds():
            index = order[start:stop]
            if stop - start == len(self.static_X):
                torch.index_select(self.X, 0, index, out=self.static_X)
                torch.index_select(self.y, 0, index, out=self.static_y)
                yield self.static_X, self.static_y
            else:  # a batch of another size (the last one) runs eagerly
                yield self.X[index], self.y[index]

    def __call__(self, batch, **fit_params):
        if fit_params:
            raise ValueError("cuda_graph=True does not take fit parameters.")
        self.net.set_mode(True)
        X_batch, y_batch = batch
        if X_batch is not self.static_X:
            y_pred, loss = self._eager_step(X_batch, y_batch)
        elif self.capture:
            # Streams, the capture and the graph belong to the current CUDA device,
            # which must be the net's (``cuda:1`` while device 0 is current, say).
            with torch.cuda.device(torch.device(self.net.device)):
                y_pred, loss = self._static_step()
        else:
            y_pred, loss = self._static_step()
        return {"loss": loss, "y_pred": y_pred}


class CapturedStepNet(RegularizedNet):
    """A :class:`skreg._net.RegularizedNet` whose training step is captured in a CUDA graph.

    Each training call makes a :class:`CapturedStep` of its batches, kept by
    the call's :class:`skreg._loop.FitState`; the step is replayed for every
    full batch, and the net trains as a :class:`skreg._net.RegularizedNet`
    otherwise (its validation step, loss, penalty and callbacks are those of
    the parent class). On a CPU device the same static-buffer step runs
    eagerly, which lets its bookkeeping be checked without a GPU. The
    estimators build it for ``cuda_graph=True`` only.

    Parameters
    ----------
    *args, **kwargs
        Those of :class:`skreg._net.RegularizedNet`.
    """

    def get_iterator(self, dataset, training=False):
        """The parent's iterator; for training, the captured step that iterates over it."""
        iterator = super().get_iterator(dataset, training=training)
        if not training:
            return iterator
        captured = CapturedStep(self, iterator, capture=records_graph(self))
        state = getattr(self, "fit_state_", None)
        if state is not None:
            state.captured_ = captured
        return captured

    def get_params_for_optimizer(self, prefix, named_parameters):
        """The parent's arguments, with ``capturable=True`` for an Adam on a CUDA device."""
        args, kwargs = super().get_params_for_optimizer(prefix, named_parameters)
        optimizer = self.optimizer
        is_adam = isinstance(optimizer, type) and issubclass(optimizer, ADAM_CLASSES)
        if prefix == "optimizer" and is_adam and records_graph(self):
            # Adam steps inside a CUDA graph only with its step count on the device.
            kwargs.setdefault("capturable", True)
        return args, kwargs

    def train_step(self, batch, **fit_params):
        """The training call's captured step; the parent's step outside a training call."""
        state = getattr(self, "fit_state_", None)
        if state is not None and state.captured_ is not None:
            return state.captured_(batch, **fit_params)
        return super().train_step(batch, **fit_params)
