"""JSON encoding with errors that say what was wrong and where.

Everything the store keeps is JSON text, written with ``allow_nan=False`` so that any reader (the
dashboard's browser included) can parse it. The store never pickles: a value that is not JSON is
refused here, at the writer, naming the label or field, instead of surfacing later in a reader.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping
from typing import Any

from retiarii.reporting import metric_value, normalize_metric

__all__ = ["encode_json", "encode_metric", "encode_sample", "number_or_none"]


def encode_json(value: Any, what: str) -> str:
    """Serialize ``value`` as strict JSON, or raise an error naming ``what``."""
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"))
    except TypeError as exc:
        raise TypeError(
            f"{what} must be JSON-serializable (no tensors, arrays, objects): {exc}"
        ) from exc
    except ValueError as exc:
        raise ValueError(f"{what} contains NaN or infinity, which JSON cannot hold") from exc


def encode_sample(sample: Any) -> str:
    """Encode a sample, the plain ``{label: value}`` dict that every layer exchanges.

    Labels must be strings (JSON would silently turn other keys into strings, and the sample read
    back would no longer match the one written). Values are stored in their JSON form: a tuple
    comes back as a list.
    """
    if not isinstance(sample, Mapping):
        raise TypeError(
            f"a sample must be a dict {{label: value}}, got {type(sample).__name__}: {sample!r}"
        )
    for label, value in sample.items():
        if not isinstance(label, str):
            raise TypeError(
                f"sample labels must be strings, got {label!r} ({type(label).__name__})"
            )
        encode_json(value, f"the value of sample label {label!r} ({type(value).__name__})")
    return encode_json(dict(sample), "the sample")


def encode_metric(metric: Any, what: str) -> tuple[str, float]:
    """Validate a reported metric and return its JSON text and the number to optimise.

    Args:
        metric: A real number (Python, numpy or torch scalar) or a dict with a numeric
            ``'default'`` key, as accepted by :func:`retiarii.reporting.normalize_metric`.
        what: Names the metric in error messages, e.g. ``"final metric of trial 3"``.
    """
    try:
        normalized = normalize_metric(metric)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{what}: {exc}") from exc
    value = metric_value(normalized)
    if math.isinf(value):
        raise ValueError(f"{what} is infinite ({value}); report a finite number")
    return encode_json(normalized, what), value


def number_or_none(value: Any) -> float | None:
    """``value`` as a float if it is a finite real number (not a bool), else ``None``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    result = float(value)
    return result if math.isfinite(result) else None
