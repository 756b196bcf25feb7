"""Seed 000's ``retiarii.trainer.pytorch`` package; ``.lightning`` is the Lightning evaluators."""
