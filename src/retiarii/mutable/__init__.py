"""The search-space algebra: labelled choices, symbolic expressions, flattened spaces, samples.

Pure Python — this package never imports torch, so strategies, the store and the dashboard can
use it anywhere. A *sample* is a plain JSON dict ``{label: value}``.
"""

from __future__ import annotations

from .core import Categorical, Choice, Expression, InputSubset, Mutable, MutableExpression
from .distributions import (
    Numerical,
    RandomInteger,
    loguniform,
    normal,
    qloguniform,
    quniform,
    randint,
    uniform,
)
from .errors import (
    ConstraintViolation,
    InfeasibleConstraintError,
    LabelConflictError,
    SampleError,
)
from .labels import auto_label, label_scope
from .space import Constraint, SearchSpace, load_sample
from .structure import contains_mutable, freeze_structure, leaves_of

__all__ = [
    "Categorical",
    "Choice",
    "Constraint",
    "ConstraintViolation",
    "Expression",
    "InfeasibleConstraintError",
    "InputSubset",
    "LabelConflictError",
    "Mutable",
    "MutableExpression",
    "Numerical",
    "RandomInteger",
    "SampleError",
    "SearchSpace",
    "auto_label",
    "contains_mutable",
    "freeze_structure",
    "label_scope",
    "leaves_of",
    "load_sample",
    "loguniform",
    "normal",
    "qloguniform",
    "quniform",
    "randint",
    "uniform",
]
