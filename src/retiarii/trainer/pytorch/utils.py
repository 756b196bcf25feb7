"""Seed 000's ``retiarii.trainer.pytorch.utils``: aliases of :mod:`retiarii.oneshot.pytorch.utils`."""

from __future__ import annotations

from ...oneshot.pytorch.utils import replace_input_choice, replace_layer_choice

__all__ = ["replace_input_choice", "replace_layer_choice"]
