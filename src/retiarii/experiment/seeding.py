"""Seeding a trial from the experiment's seed and its sample, before its model is built.

Without it a trial's initial weights (and its data order) depend on whichever worker ran it and
on what that worker ran before, so the same architecture scores differently from run to run.
The seed is a hash of ``(trial_seed, sample)`` — not Python's ``hash``, which differs between
processes — so the same sample gets the same seed on any worker, in any order, after a resume.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Mapping
from typing import Any

__all__ = ["seed_everything", "trial_seed_for"]


def trial_seed_for(seed: int, sample: Mapping[str, Any]) -> int:
    """The 32-bit seed of the trial that evaluates ``sample`` in an experiment seeded ``seed``."""
    text = json.dumps([seed, sample], sort_keys=True, separators=(",", ":"), default=repr)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and every GPU)."""
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    import torch

    torch.manual_seed(seed)  # also seeds every CUDA device
