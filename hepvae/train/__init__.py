"""Training: config, data, loop, checkpoints and distributed helpers.

Public API: :func:`hepvae.train.run.train` (one run), :class:`hepvae.train.config.Config`,
:func:`hepvae.train.config.load_train_config`, :class:`hepvae.train.checkpoint.Checkpoint`
(a checkpoint file, read once and checked) and :func:`hepvae.train.checkpoint.load_model`
(model and config from a checkpoint).
"""
