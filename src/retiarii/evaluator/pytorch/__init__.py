"""PyTorch evaluators built on Lightning; the names live in :mod:`.lightning`.

``import retiarii.evaluator.pytorch`` does not import ``lightning``: the names below are looked up
in :mod:`retiarii.evaluator.pytorch.lightning` (which does) on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .lightning import (
        Classification,
        ClassificationModule,
        DataLoader,
        Lightning,
        LightningModule,
        Regression,
        RegressionModule,
        Trainer,
    )

__all__ = [
    "Classification",
    "ClassificationModule",
    "DataLoader",
    "Lightning",
    "LightningModule",
    "Regression",
    "RegressionModule",
    "Trainer",
]


def __getattr__(name: str) -> Any:
    if name == "lightning":
        return importlib.import_module(".lightning", __name__)
    if name in __all__:
        value = getattr(importlib.import_module(".lightning", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
