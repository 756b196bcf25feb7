"""Building blocks shared by the one-shot trainers: module replacement, meters, data, devices."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
import torch.nn as tnn
from torch.utils.data import DataLoader, Dataset, SubsetRandomSampler

from ...nn.pytorch.choices import InputChoice, LayerChoice
from ...strategy._rng import set_rng_state as set_random_state  # also through a checkpoint

__all__ = [
    "AverageMeter",
    "AverageMeterGroup",
    "default_device",
    "replace_input_choice",
    "replace_layer_choice",
    "replace_modules",
    "set_random_state",
    "split_loaders",
    "to_device",
]

Replaced = list[tuple[str, tnn.Module]]


def replace_modules(
    root: tnn.Module,
    replace: Callable[[tnn.Module], tnn.Module | None],
    modules: Replaced | None = None,
) -> Replaced:
    """Replace submodules of ``root`` in place: every module for which ``replace(module)``
    returns a module is substituted by it, and ``(module.label, replacement)`` is appended to
    ``modules``.

    The walk is bottom-up: a module's children are replaced before the module itself, so a
    replacement is built from final children (choices nested in candidates included). A module
    registered at several places is replaced once (every place gets the same replacement).
    """
    if modules is None:
        modules = []
    if replace(root) is not None:
        raise ValueError(
            f"the model itself is a {type(root).__name__}; wrap it in a module so that it can "
            "be replaced in place"
        )
    done: dict[int, tnn.Module | None] = {}

    def visit(module: tnn.Module) -> tnn.Module | None:
        if id(module) in done:
            return done[id(module)]
        done[id(module)] = None  # guards against cycles
        for name, child in list(module._modules.items()):
            if child is None:
                continue
            new_child = visit(child)
            if new_child is not None:
                module._modules[name] = new_child
        new = replace(module) if module is not root else None
        if new is not None:
            if not isinstance(new, tnn.Module):
                raise TypeError(
                    f"the replacement of {type(module).__name__} "
                    f"{getattr(module, 'label', '')!r} must be a torch Module, got "
                    f"{type(new).__name__}"
                )
            modules.append((getattr(module, "label", type(module).__name__), new))
        done[id(module)] = new
        return new

    visit(root)
    return modules


def _of_type(cls: type, init_fn: Callable[[Any], tnn.Module]) -> Callable[[tnn.Module], Any]:
    return lambda m: init_fn(m) if isinstance(m, cls) else None


def replace_layer_choice(
    root: tnn.Module,
    init_fn: Callable[[LayerChoice], tnn.Module],
    modules: Replaced | None = None,
) -> Replaced:
    """Replace every ``LayerChoice`` in ``root`` by ``init_fn(layer_choice)``, in place.

    Appends ``(label, new_module)`` to ``modules`` (a new list if omitted) and returns it. In
    ``init_fn``, ``layer_choice.key`` (or ``.label``) is the decision's label and
    ``layer_choice.named_children()`` yields ``(candidate name, candidate module)``.
    """
    return replace_modules(root, _of_type(LayerChoice, init_fn), modules)


def replace_input_choice(
    root: tnn.Module,
    init_fn: Callable[[InputChoice], tnn.Module],
    modules: Replaced | None = None,
) -> Replaced:
    """Replace every ``InputChoice`` in ``root`` by ``init_fn(input_choice)``, in place.

    Like :func:`replace_layer_choice`; the choice has ``n_candidates``, ``n_chosen`` and
    ``reduction``.
    """
    return replace_modules(root, _of_type(InputChoice, init_fn), modules)


class AverageMeter:
    """Running mean of one quantity."""

    __slots__ = ("count", "name", "sum")

    def __init__(self, name: str) -> None:
        self.name = name
        self.sum = 0.0
        self.count = 0

    def update(self, value: float, n: int = 1) -> None:
        """Add ``value`` observed ``n`` times."""
        self.sum += float(value) * n
        self.count += n

    @property
    def avg(self) -> float:
        """The mean so far (0 before any update)."""
        return self.sum / self.count if self.count else 0.0

    def __str__(self) -> str:
        return f"{self.name} {self.avg:.4g}"


class AverageMeterGroup:
    """Running means of named quantities, e.g. the metrics of every step of an epoch."""

    def __init__(self) -> None:
        self.meters: dict[str, AverageMeter] = {}

    def update(self, values: Mapping[str, Any], n: int = 1) -> None:
        """Add each value (numbers or 0-d tensors), observed ``n`` times."""
        for name, value in values.items():
            meter = self.meters.get(name)
            if meter is None:
                meter = self.meters[name] = AverageMeter(name)
            meter.update(float(value), n)

    def summary(self) -> dict[str, float]:
        """``{name: mean}``."""
        return {name: meter.avg for name, meter in self.meters.items()}

    def __getitem__(self, name: str) -> AverageMeter:
        return self.meters[name]

    def __contains__(self, name: object) -> bool:
        return name in self.meters

    def __str__(self) -> str:
        return "  ".join(str(meter) for meter in self.meters.values())


def default_device(device: torch.device | str | None = None) -> torch.device:
    """``device`` as a ``torch.device``; CUDA if available when ``None``."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def to_device(obj: Any, device: torch.device) -> Any:
    """``obj`` (a tensor, or lists/tuples/dicts of them) moved to ``device``."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, tuple):
        return tuple(to_device(o, device) for o in obj)
    if isinstance(obj, list):
        return [to_device(o, device) for o in obj]
    if isinstance(obj, dict):
        return {k: to_device(v, device) for k, v in obj.items()}
    return obj


def split_loaders(
    dataset: Dataset[Any], batch_size: int, workers: int
) -> tuple[DataLoader[Any], DataLoader[Any]]:
    """Loaders over the first and the second half of ``dataset`` (DARTS's train/validation split),
    each shuffled."""
    n = len(dataset)  # type: ignore[arg-type]
    if n < 2:
        raise ValueError(f"the dataset has {n} examples; one-shot search needs at least 2")
    split = n // 2
    train, valid = (
        DataLoader(dataset, batch_size, sampler=SubsetRandomSampler(part), num_workers=workers)
        for part in (range(split), range(split, n))
    )
    return train, valid
