"""The hub's registry: every ready-made space and every published architecture, in one place.

A space module registers itself at import (``register_space(...)``, ``register_architecture(...)``);
shared tests then build, sample, freeze, train a step of, and round-trip every registered space
(``tests/hub/test_hub_registry.py``), run every one-shot strategy on it or check that the strategy
refuses it (``tests/hub/test_hub_oneshot.py``), and check every architecture's parameter count
against its paper — timm's habit: a new space gets all of that by being registered.

:func:`load_searched_model` (NNI's name) and :func:`searched_architecture` read the registry.
Nothing is downloaded: ``pretrained=True`` needs ``weights=`` (a local file).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as tnn

__all__ = [
    "ARCHITECTURES",
    "ONESHOT_STRATEGIES",
    "SPACES",
    "ArchitectureEntry",
    "SpaceEntry",
    "load_searched_model",
    "register_architecture",
    "register_space",
    "searched_architecture",
]


@dataclass(frozen=True)
class SpaceEntry:
    """A registered model space and how to test it.

    Attributes:
        name: the space's class name (``"MobileNetV3Space"``).
        factory: builds the supernet with the keyword arguments given; the shared test calls it
            with ``test_kwargs`` (a small configuration that still has every kind of choice).
        input_size: ``(C, H, W)`` of one input image for the test configuration.
        num_classes: number of outputs of the test configuration.
        test_kwargs: constructor arguments of the test configuration.
        slow: the test configuration's forward pass takes more than a second or two on CPU
            (the shared test marks it ``slow``).
        unused_parameters: an architecture of this space may hold parameters its output does not
            depend on (in NDS cells a node may ignore a cell input, so a whole earlier cell can
            be dead); the shared test then requires gradients only where every architecture
            has them (the first and last parameters), not on every parameter.
        full_input_size: ``(C, H, W)`` of one input of the space built with its default
            arguments (the paper's configuration, what ``benchmarks/hub.py`` measures); None:
            ``input_size``.
        oneshot_refused: ``{strategy: why}`` for the one-shot strategies (names in
            :data:`ONESHOT_STRATEGIES`) that cannot share this space's choices. The shared test
            checks that each refuses the space when it starts, naming the module and the label;
            every strategy not listed here or in ``oneshot_pending`` must train the space and
            export a sample of it.
        oneshot_pending: ``{strategy: why}`` for strategies that should train this space and
            do not yet (an open issue, a known bug). The shared test runs them as strict
            expected failures, so it reports the day one starts working: then drop its entry.
        oneshot_slow: replacing this space's choices by a supernet takes seconds (thousands of
            weight-sliced layers); the shared one-shot test then runs only ``RandomOneShot`` on
            it by default and the other strategies with the slow tests.
    """

    name: str
    factory: Callable[..., tnn.Module]
    input_size: tuple[int, int, int]
    num_classes: int
    test_kwargs: Mapping[str, Any] = field(default_factory=dict)
    slow: bool = False
    unused_parameters: bool = False
    full_input_size: tuple[int, int, int] | None = None
    oneshot_refused: Mapping[str, str] = field(default_factory=dict)
    oneshot_pending: Mapping[str, str] = field(default_factory=dict)
    oneshot_slow: bool = False


@dataclass(frozen=True)
class ArchitectureEntry:
    """A published architecture: a sample of a registered space plus the space's arguments.

    Attributes:
        name: NNI's name (``"darts-v2"``, ``"proxylessnas-mobile"``, ...).
        space: the space class (or factory) the sample belongs to.
        space_kwargs: its constructor arguments for this architecture (width, dataset, ...).
        sample: the architecture, a JSON sample of that space (NNI's labels).
        paper_params: the parameter count the paper reports, in millions.
        input_size: ``(C, H, W)`` of one input image.
        num_classes: number of outputs.
        source: where ``paper_params`` comes from (paper, table).
        check_kwargs: overrides of ``space_kwargs`` for checking that ``sample`` belongs to the
            space, when the paper-sized supernet is too big to build in a test (a cell space's
            labels do not depend on its width).
        params_gap: why this entry, built with the paper's own configuration, cannot come within
            2% of ``paper_params`` (the network the space builds differs from the paper's). Empty
            for entries that match; the shared test reports a non-empty one as an expected
            failure of the parameter check, and fails if the gap has closed.
    """

    name: str
    space: Callable[..., tnn.Module]
    space_kwargs: Mapping[str, Any]
    sample: Mapping[str, Any]
    paper_params: float
    input_size: tuple[int, int, int]
    num_classes: int
    source: str = ""
    check_kwargs: Mapping[str, Any] = field(default_factory=dict)
    params_gap: str = ""


#: The one-shot strategies of :mod:`retiarii.strategy` every registered space is checked with.
ONESHOT_STRATEGIES = ("RandomOneShot", "ENAS", "DARTS", "GumbelDARTS", "Proxyless")
#: ``{space name: entry}`` of every registered space.
SPACES: dict[str, SpaceEntry] = {}
#: ``{architecture name: entry}`` of every published architecture.
ARCHITECTURES: dict[str, ArchitectureEntry] = {}


def register_space(entry: SpaceEntry) -> SpaceEntry:
    """Add a space to the registry (its name must be new)."""
    if entry.name in SPACES:
        raise ValueError(f"hub space {entry.name!r} is registered twice")
    unknown = sorted({*entry.oneshot_refused, *entry.oneshot_pending} - set(ONESHOT_STRATEGIES))
    if unknown:
        raise ValueError(
            f"hub space {entry.name!r}: unknown one-shot strategies {unknown} in oneshot_refused "
            f"or oneshot_pending; known: {list(ONESHOT_STRATEGIES)}"
        )
    both = sorted(set(entry.oneshot_refused) & set(entry.oneshot_pending))
    if both:
        raise ValueError(
            f"hub space {entry.name!r}: {both} both refused and pending; a strategy either "
            "cannot share the space (oneshot_refused) or should and does not yet (oneshot_pending)"
        )
    SPACES[entry.name] = entry
    return entry


def register_architecture(entry: ArchitectureEntry) -> ArchitectureEntry:
    """Add a published architecture to the registry (its name must be new)."""
    if entry.name in ARCHITECTURES:
        raise ValueError(f"hub architecture {entry.name!r} is registered twice")
    ARCHITECTURES[entry.name] = entry
    return entry


def _entry(name: str) -> ArchitectureEntry:
    try:
        return ARCHITECTURES[name]
    except KeyError:
        known = ", ".join(sorted(ARCHITECTURES))
        raise KeyError(f"no searched architecture named {name!r}; known: {known}") from None


def searched_architecture(name: str) -> dict[str, Any]:
    """The sample of a published architecture (a copy: inspect, export or retrain it)."""
    import copy

    return copy.deepcopy(dict(_entry(name).sample))


def load_searched_model(
    name: str,
    pretrained: bool = False,
    weights: str | os.PathLike[str] | None = None,
    *,
    download: bool = False,
    progress: bool = True,
) -> tnn.Module:
    """The frozen model of a published architecture, a plain ``torch.nn.Module`` (NNI's name).

    Args:
        name: the architecture (``sorted(retiarii.hub.pytorch.ARCHITECTURES)`` lists them).
        pretrained: load trained weights; needs ``weights``.
        weights: a local file holding a ``state_dict`` (or a checkpoint with one under
            ``"state_dict"``) for this architecture.
        download: accepted for NNI's signature; retiarii never downloads, so ``True`` is an error
            that says to pass ``weights=``.
        progress: accepted for NNI's signature (ignored).

    Raises:
        KeyError: unknown ``name``.
        ValueError: ``pretrained=True`` without ``weights``, or ``download=True``.
    """
    del progress
    entry = _entry(name)
    if download:
        raise ValueError(
            f"load_searched_model({name!r}, download=True): retiarii never downloads weights; "
            "download the checkpoint yourself and pass weights='path/to/file.pth'"
        )
    if pretrained and weights is None:
        raise ValueError(
            f"load_searched_model({name!r}, pretrained=True) needs weights='path/to/file.pth': "
            "retiarii does not download weights (pass a local state_dict file)"
        )
    from ...nn.pytorch.fixed import fixed_arch

    with fixed_arch(dict(entry.sample), verbose=False):
        model = entry.space(**dict(entry.space_kwargs))
    if weights is not None:
        state = torch.load(os.fspath(weights), map_location="cpu", weights_only=True)
        if isinstance(state, Mapping) and "state_dict" in state:
            state = state["state_dict"]
        model.load_state_dict(state)
    return model
