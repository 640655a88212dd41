"""sklearn's ``coefs_`` and ``intercepts_``: the torch module's layers as arrays, both ways."""

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn


def linear_layers(module):
    """The ``nn.Linear`` layers of ``module``, input to output: sklearn's ``coefs_`` order."""
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


def _checked_weight_arrays(arrays, name, shapes):
    """``arrays`` as finite float64 arrays of ``shapes``, or a ValueError naming ``name``."""
    arrays = list(arrays)
    if len(arrays) != len(shapes):
        raise ValueError(
            f"{name} has {len(arrays)} arrays but the network has {len(shapes)} layers."
        )
    checked = []
    for index, (array, shape) in enumerate(zip(arrays, shapes)):
        array = np.asarray(array, dtype=np.float64)
        if array.shape != shape:
            raise ValueError(
                f"{name}[{index}] has shape {array.shape}, but layer {index} of the network "
                f"needs {shape}."
            )
        if not np.isfinite(array).all():
            raise ValueError(f"{name}[{index}] holds NaN or infinite values.")
        checked.append(array)
    return checked


class LayerArraysMixin:
    """``coefs_`` and ``intercepts_`` of an estimator whose network is ``net_.module_``.

    Reading them copies the layers' weights out in sklearn's layout; assigning
    them writes into the layers, before the first fit too (the arrays wait until
    the network is built).
    """

    def _apply_assigned_weights(self, module):
        """Write ``coefs_``/``intercepts_`` assigned before the first fit into the new ``module``.

        sklearn's MLP keeps its weights in ``coefs_`` and ``intercepts_``, and code
        written for it sets them directly, before a ``partial_fit`` too; skreg keeps
        them in the torch module, so an assignment made before there is a network
        is kept until the network is built.
        """
        self._write_weights(module, self.__dict__.pop("_assigned_weights", {}))

    @staticmethod
    def _write_weights(module, arrays):
        """Copy ``{0: coefs, 1: intercepts}`` (either may be missing) into ``module``'s layers."""
        linears = linear_layers(module)
        shapes = {
            0: [(m.in_features, m.out_features) for m in linears],
            1: [(m.out_features,) for m in linears],
        }
        checked = {
            index: _checked_weight_arrays(value, ("coefs_", "intercepts_")[index], shapes[index])
            for index, value in arrays.items()
        }
        with torch.no_grad():
            for position, layer in enumerate(linears):
                if 0 in checked:
                    coef = torch.as_tensor(checked[0][position].T, dtype=layer.weight.dtype)
                    layer.weight.copy_(coef)
                if 1 in checked:
                    intercept = torch.as_tensor(checked[1][position], dtype=layer.bias.dtype)
                    layer.bias.copy_(intercept)

    def _linear_layers(self):
        check_is_fitted(self, "net_")
        return linear_layers(self.net_.module_)

    def _weight_arrays(self, index):
        pending = self.__dict__.get("_assigned_weights", {})
        if index in pending:
            return pending[index]
        dtype = getattr(self, "_coefs_dtype", np.float64)
        if index == 0:
            return [m.weight.detach().cpu().numpy().T.astype(dtype) for m in self._linear_layers()]
        return [m.bias.detach().cpu().numpy().astype(dtype) for m in self._linear_layers()]

    def _assign_weight_arrays(self, index, value):
        if hasattr(self, "net_"):
            self._write_weights(self.net_.module_, {index: value})
        else:
            self.__dict__.setdefault("_assigned_weights", {})[index] = value

    @property
    def coefs_(self):
        """The weight matrix of each layer, of shape ``(n_in, n_out)``, as in sklearn.

        Copies of the network's weights, in the dtype of the training data
        (float32 or float64; the network itself trains in float32). Assigning a
        list (``model.coefs_ = [...]``) writes it into the network, as setting
        sklearn's attribute does; changing an array obtained from it in place
        does not.
        """
        return self._weight_arrays(0)

    @coefs_.setter
    def coefs_(self, value):
        self._assign_weight_arrays(0, value)

    @property
    def intercepts_(self):
        """The bias vector of each layer, of shape ``(n_out,)``, as in sklearn.

        Copies, as :attr:`coefs_`; assigning a list writes it into the network.
        """
        return self._weight_arrays(1)

    @intercepts_.setter
    def intercepts_(self, value):
        self._assign_weight_arrays(1, value)
