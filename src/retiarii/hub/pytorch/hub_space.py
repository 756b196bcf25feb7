"""NNI's classmethods on hub spaces: ``Space.fixed_arch(arch)`` and ``Space.load_searched_model``.

NNI 2.x users write ``ProxylessNAS.load_searched_model('proxyless-mobile')`` and
``MobileNetV3Space.fixed_arch(arch)(**kwargs)``; a hub space inherits both from
:class:`HubSpaceMixin`, which only forwards to :func:`~retiarii.fixed_arch` and to the registry
(so there is one way to build a published network, whatever the spelling).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch.nn as tnn

from ...nn.pytorch.fixed import fixed_arch
from .registry import ARCHITECTURES, load_searched_model

__all__ = ["FixedFactory", "HubSpaceMixin"]


class FixedFactory:
    """Builds ``space_class(*args, **kwargs)`` for one architecture (NNI's ``FixedFactory``)."""

    def __init__(self, space_class: type[tnn.Module], arch: Mapping[str, Any]) -> None:
        self.space_class = space_class
        self.arch = dict(arch)

    def __call__(self, *args: Any, **kwargs: Any) -> tnn.Module:
        with fixed_arch(self.arch, verbose=False):
            return self.space_class(*args, **kwargs)

    def __repr__(self) -> str:
        return f"FixedFactory({self.space_class.__name__}, {len(self.arch)} labels)"


class HubSpaceMixin:
    """``fixed_arch`` and ``load_searched_model`` classmethods (NNI's names) for a hub space."""

    @classmethod
    def fixed_arch(cls, arch: Mapping[str, Any]) -> FixedFactory:
        """A factory that builds this space's network for ``arch`` (any constructor arguments)."""
        return FixedFactory(cls, arch)  # type: ignore[arg-type]

    @classmethod
    def load_searched_model(
        cls,
        name: str,
        pretrained: bool = False,
        download: bool = False,
        progress: bool = True,
        *,
        weights: str | os.PathLike[str] | None = None,
    ) -> tnn.Module:
        """A published architecture of this space: :func:`~.registry.load_searched_model`, which
        never downloads (``pretrained=True`` needs ``weights=``, a local file).

        Raises:
            ValueError: ``name`` is an architecture of another space (one of a subclass, e.g.
                ``DARTS`` for ``NDS``, is this space's); or see the registry's.
        """
        entry = ARCHITECTURES.get(name)
        if entry is not None and not _belongs(entry.space, cls):
            mine = sorted(n for n, e in ARCHITECTURES.items() if _belongs(e.space, cls))
            raise ValueError(
                f"{cls.__name__} has no searched model {name!r}: it is an architecture of "
                f"{getattr(entry.space, '__name__', entry.space)} (those of {cls.__name__} "
                f"are {mine})"
            )
        return load_searched_model(name, pretrained, weights, download=download, progress=progress)


def _belongs(space: Any, cls: type) -> bool:
    return isinstance(space, type) and issubclass(space, cls)
