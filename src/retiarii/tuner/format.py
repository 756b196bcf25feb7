"""Samples in the tuner format of NNI's "Customize NAS algorithm" guide (seed 003).

A tuner receives the search space as ``ss-gen`` JSON (``SearchSpace.to_json()``) and returns
*parameters*: one entry per label, ``{"_value": value, "_idx": index}``, where for an
``input_choice`` both are lists (the chosen candidates and their indices)::

    {"cell/0_1": {"_value": "nor_conv_3x3", "_idx": 3},
     "skip":     {"_value": [1], "_idx": [1]}}

``"_idex"`` (the guide's spelling in one example) is accepted for ``"_idx"``, and a plain value
(``{"label": value}``, what HPO tuners return) is accepted too. A numerical label (NNI's HPO
types ``uniform``, ``loguniform``, ``quniform``, ``qloguniform``, ``normal``) has no index: it is
written as ``{"_value": 0.0031}`` and read from that or from the plain number. Anything else raises a
:class:`~retiarii.mutable.SampleError` naming the label.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..mutable import Categorical, InputSubset, Numerical, SampleError, SearchSpace
from ..mutable.structure import json_equal

__all__ = ["parameters_to_sample", "sample_to_parameters"]

_IDX_KEYS = ("_idx", "_idex")


def sample_to_parameters(space: SearchSpace, sample: Mapping[str, Any]) -> dict[str, Any]:
    """A (valid) sample in the tuner format."""
    out: dict[str, Any] = {}
    for label, value in space.validate(sample).items():
        choice = space[label]
        if isinstance(choice, InputSubset):
            out[label] = {"_value": list(value), "_idx": list(value)}
        elif isinstance(choice, Numerical):
            out[label] = {"_value": value}
        elif isinstance(choice, Categorical):
            out[label] = {"_value": value, "_idx": choice.index_of(value)}
        else:  # a custom Choice: its values in order
            values = list(choice.values())
            index = next(i for i, v in enumerate(values) if json_equal(v, value))
            out[label] = {"_value": value, "_idx": index}
    return out


def parameters_to_sample(space: SearchSpace, parameters: Any) -> dict[str, Any]:
    """The sample that tuner ``parameters`` describe; a :class:`SampleError` naming the label
    of the first malformed entry otherwise."""
    if not isinstance(parameters, Mapping):
        raise SampleError(
            "a tuner's parameters must be a dict {label: {'_value': ..., '_idx': ...}}, got "
            f"{type(parameters).__name__}: {parameters!r}"
        )
    unknown = [label for label in parameters if label not in space]
    if unknown:
        raise SampleError(
            f"the tuner's parameters have unknown label(s) {unknown}; the search space's labels "
            f"are {list(space)}"
        )
    sample: dict[str, Any] = {}
    for label, choice in space.items():
        if label not in parameters:
            raise SampleError(
                f"the tuner's parameters have no entry for label {label!r}; expected "
                f"{{'_value': ..., '_idx': ...}} with a value of {choice.spec()['_value']!r}"
            )
        sample[label] = _entry_value(label, choice, parameters[label])
    return space.validate(sample)


def _entry_value(label: str, choice: Any, entry: Any) -> Any:
    if isinstance(choice, Numerical):
        if isinstance(entry, Mapping):
            if "_value" not in entry:
                raise SampleError(
                    f"parameters[{label!r}] = {entry!r} is malformed: expected a number or "
                    "{'_value': number}"
                )
            entry = entry["_value"]
        return choice.normalize(entry)
    values = list(choice.values()) if not isinstance(choice, InputSubset) else None
    if not isinstance(entry, Mapping):
        return choice.normalize(entry)  # a plain value (raises naming the label)
    if not any(key in entry for key in ("_value", *_IDX_KEYS)):
        raise SampleError(
            f"parameters[{label!r}] = {entry!r} is malformed: expected {{'_value': ..., '_idx': "
            "...}}"
        )
    index = next((entry[key] for key in _IDX_KEYS if key in entry), None)
    if isinstance(choice, InputSubset):
        if index is not None:
            chosen = choice.normalize(index)
            if "_value" in entry and not _same_subset(choice, entry["_value"], chosen):
                raise SampleError(
                    f"parameters[{label!r}]: '_value' {entry['_value']!r} does not match '_idx' "
                    f"{index!r}"
                )
            return chosen
        return choice.normalize(entry["_value"])
    assert values is not None
    if index is None:
        return choice.normalize(entry["_value"])
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(values):
        raise SampleError(
            f"parameters[{label!r}]: '_idx' must be an int in 0..{len(values) - 1}, got {index!r}"
        )
    if "_value" in entry and not json_equal(entry["_value"], values[index]):
        raise SampleError(
            f"parameters[{label!r}]: '_value' {entry['_value']!r} does not match '_idx' {index} "
            f"(which is {values[index]!r})"
        )
    return values[index]


def _same_subset(choice: InputSubset, value: Any, chosen: list[int]) -> bool:
    try:
        return bool(choice.normalize(value) == chosen)
    except SampleError:
        return False
