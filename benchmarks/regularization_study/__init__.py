"""The regularization study: does regularizing a tabular MLP help, and against which peers?

Modules: ``data`` (the offline tables), ``regularizers`` (the table of regularizers),
``config`` (the modes), ``models`` (skreg rows, the CV estimator's rows, the peers),
``remedies`` (variants of the joint search's pick), ``evaluate`` (outer splits, fitting,
scoring, sweeps), ``summary`` (means, headline, verdicts), ``plots``, ``protocol`` (the
protocol text, generated from the configuration) and ``report`` (the files written).
``benchmarks/regularization.py`` is the command line.
"""
