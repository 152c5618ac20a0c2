"""Pure-PyTorch training of binary neural networks: binary layers, BNN optimizers, models, data sets, the trial loop.

Nothing here knows of databases, Ray or Ax; the tuner calls :func:`trainers.trial.train_trial` on its workers.
The package root imports nothing, so that ``bnn_errors`` stays cheap for processes that never train.
"""
