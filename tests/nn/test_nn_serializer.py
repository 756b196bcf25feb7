"""``json_dumps`` / ``json_loads``: objects recorded with ``serialize(...)`` round-trip and rebuild,
as NNI's serializer does (``nni.common.serializer``)."""

from __future__ import annotations

import io
import json

import torch
from torch.utils.data import Dataset

from retiarii import get_init_args, json_dumps, json_loads, serialize


class Scale:
    def __init__(self, factor: float) -> None:
        self.factor = factor

    def __call__(self, x: float) -> float:
        return x * self.factor


class Squares(Dataset):
    def __init__(self, n: int, transform: Scale | None = None) -> None:
        self.n = n
        self.transform = transform

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> float:
        value = float(i * i)
        return self.transform(value) if self.transform else value


def test_a_serialized_module_round_trips_and_is_rebuilt() -> None:
    layer = serialize(torch.nn.Linear, 4, out_features=2)
    text = json_dumps(layer)
    assert json.loads(text)["__symbol__"] == "path:torch.nn.modules.linear.Linear"
    rebuilt = json_loads(text)
    assert isinstance(rebuilt, torch.nn.Linear) and rebuilt.out_features == 2
    assert get_init_args(rebuilt)[1:] == ((4,), {"out_features": 2})
    assert json_dumps(rebuilt) == text  # rebuilt objects are recorded too


def test_a_dataset_with_a_serialized_transform_round_trips() -> None:
    # NNI's habit: serialize(MNIST, root=..., transform=serialize(Normalize, ...)).
    dataset = serialize(Squares, 5, transform=serialize(Scale, 2.0))
    rebuilt = json_loads(json_dumps(dataset))
    assert isinstance(rebuilt, Squares) and isinstance(rebuilt.transform, Scale)
    assert [rebuilt[i] for i in range(len(rebuilt))] == [dataset[i] for i in range(5)]


def test_classes_functions_and_other_values() -> None:
    def local_loss(a: float, b: float) -> float:  # not importable: travels by value
        return a - b

    payload = {
        "optimizer": torch.optim.Adam,
        "activation": torch.nn.functional.relu,
        "loss": local_loss,
        "weights": torch.arange(3.0),
        "sizes": (1, 2),
        "name": "x",
    }
    text = json_dumps(payload)
    assert json.loads(text)["optimizer"] == {"__nni_type__": "path:torch.optim.adam.Adam"}
    loaded = json_loads(text)
    assert loaded["optimizer"] is torch.optim.Adam
    assert loaded["activation"] is torch.nn.functional.relu
    assert loaded["loss"](3, 1) == 2
    assert torch.equal(loaded["weights"], torch.arange(3.0))
    assert loaded["sizes"] == [1, 2] and loaded["name"] == "x"


def test_files_as_well_as_strings() -> None:
    buffer = io.StringIO()
    assert json_dumps(serialize(Scale, 3.0), buffer) is None
    buffer.seek(0)
    assert json_loads(buffer)(2.0) == 6.0
