"""The ``bnn-tune`` command line: a thin layer over ``trainers``, ``tuner`` and ``api``."""
