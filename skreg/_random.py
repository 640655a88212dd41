"""Where the random draws of a fit or a prediction come from: generators that they own.

Nothing in skreg draws from torch's global generator. A fit with seed ``s`` draws its
initial weights from a generator seeded from ``(s, INITIALIZATION)``, and everything an
epoch draws (the permutation, dropout masks, input noise, mixup) from generators reseeded
at the start of epoch ``k`` from ``(s, EPOCH, k)``. Epoch ``k`` therefore draws the same
whether it runs inside one ``fit`` or as the ``k``-th ``partial_fit`` call, and two fits
running in two threads never see each other's draws. A Monte Carlo prediction owns one
generator per call. The caller's random state is left as it was by construction: nothing
is seeded, forked or restored.
"""

import math

import numpy as np
import torch

# What a derived seed is for: the second word of its key, after the fit's seed.
INITIALIZATION = 1
EPOCH = 2


def derived_seed(seed, purpose, index=0):
    """A 64-bit seed for one stream of draws of the fit (or prediction) seeded with ``seed``.

    Every key has the same length: ``SeedSequence`` ignores trailing zero words,
    so keys of different lengths could collide.

    Parameters
    ----------
    seed : int
        The fit's seed, a non-negative int.
    purpose : int
        ``INITIALIZATION`` or ``EPOCH``.
    index : int, default=0
        The epoch (from 1), for ``EPOCH``.
    """
    words = np.random.SeedSequence([seed, purpose, index]).generate_state(1, np.uint64)
    return int(words[0])


def seeded_generator(seed, device):
    """A new ``torch.Generator`` on ``device``, seeded with ``seed``."""
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return generator


def _device_key(device):
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return device


class EpochGenerators:
    """The generators that the epochs of one fit draw from: one per device that draws.

    A fit draws on the training device (dropout masks, noise, mixup and, for data
    on the device, the permutation) and, when the data stays in host memory, on
    the CPU (the permutation). :meth:`start` reseeds every generator for an
    epoch; a generator made later in the epoch gets that epoch's seed too, so
    the draws do not depend on when each generator is first asked for.
    Generators keep their identity from epoch to epoch (a captured CUDA graph
    holds on to the generator it was recorded with).

    Parameters
    ----------
    seed : int
        The fit's seed.
    """

    def __init__(self, seed):
        self.seed = seed
        self.epoch = 0
        self._generators = {}

    def start(self, epoch):
        """Reseed every generator from ``(seed, epoch)``; ``epoch`` counts from 1."""
        self.epoch = epoch
        seed = derived_seed(self.seed, EPOCH, epoch)
        for generator in self._generators.values():
            generator.manual_seed(seed)

    def on(self, device):
        """The generator of the current epoch on ``device``."""
        key = _device_key(device)
        generator = self._generators.get(key)
        if generator is None:
            generator = seeded_generator(derived_seed(self.seed, EPOCH, self.epoch), key)
            self._generators[key] = generator
        return generator


def initialization_generator(seed):
    """The generator that a fit's initial weights are drawn from (on the CPU, where modules
    are built, so that a seed gives the same initial weights on every device)."""
    return seeded_generator(derived_seed(seed, INITIALIZATION), "cpu")


def log_gamma(alpha, n, generator, device, dtype=torch.float32):
    """Logarithms of ``n`` draws from Gamma(``alpha``, 1), all from ``generator``.

    torch's own Gamma sampler takes no generator, so this is Marsaglia and
    Tsang's method (2000) on normal and uniform draws: candidates are drawn in
    a batch and the accepted ones kept (more than 95 in 100 for ``alpha >= 1``),
    with another batch in the rare case that too few were. For ``alpha < 1`` a
    Gamma(``alpha + 1``) draw is multiplied by ``U ** (1 / alpha)``, here added
    in log space, where it cannot underflow for small ``alpha``.
    """
    boosted = alpha < 1
    shape = alpha + 1 if boosted else alpha
    d = shape - 1 / 3
    c = 1 / math.sqrt(9 * d)
    accepted_draws, count = [], 0
    while count < n:
        # A few more candidates than needed, so that one round nearly always suffices.
        need = n - count
        x = torch.empty(need + need // 8 + 16, dtype=dtype, device=device)
        x.normal_(generator=generator)
        log_u = torch.empty_like(x).uniform_(generator=generator).log_()
        v = (c * x).add_(1).pow_(3)
        log_v = torch.log(v)
        # Accept where log(u) < x^2 / 2 + d (1 - v + log v). A v <= 0 is rejected as it
        # must be: its log is NaN or -inf, and the comparison is False.
        bound = (log_v - v).add_(1).mul_(d).addcmul_(x, x, value=0.5)
        accepted = log_u < bound
        draws = log_v[accepted][:need]
        accepted_draws.append(draws)
        count += len(draws)
    out = torch.cat(accepted_draws) + math.log(d)
    if boosted:
        u = 1 - torch.empty(n, dtype=dtype, device=device).uniform_(generator=generator)
        out += torch.log(u) / alpha
    return out


def symmetric_beta(alpha, n, generator, device, dtype=torch.float32):
    """``n`` draws from Beta(``alpha``, ``alpha``), all from ``generator``.

    ``G1 / (G1 + G2)`` for two Gamma(``alpha``) draws, computed as
    ``sigmoid(log G1 - log G2)``, which stays finite however small they are.
    """
    logs = log_gamma(alpha, 2 * n, generator, device, dtype)
    return torch.sigmoid(logs[:n] - logs[n:])
