"""``AutoActivation``: NNI's searchable activation function (Ramachandran et al., 2017,
"Searching for Activation Functions").

The activation is ``binary(unary_a(x), unary_b(x))`` composed ``unit_num`` times: a first unary
op, then per unit a binary op combining the running output with another unary op of ``x``. Every
op is a ``LayerChoice`` over NNI's lists of unary and binary functions (same order, so NNI's
indices mean the same op), labelled ``{label}__unary_{i}`` and ``{label}__binary_{i}`` as NNI
labels them. A few ops carry a learnable scalar ``beta``, as in NNI.
"""

from __future__ import annotations

import torch
import torch.nn as tnn

from ...mutable.labels import label_or_auto
from .choices import LayerChoice

__all__ = ["BINARY_OPS", "UNARY_OPS", "AutoActivation"]


class _Beta(tnn.Module):
    """A unary/binary op with NNI's learnable scalar ``beta`` (initialised to 1)."""

    def __init__(self) -> None:
        super().__init__()
        self.beta = tnn.Parameter(torch.tensor(1.0))


def _unary(name: str, fn):  # type: ignore[no-untyped-def]
    return type(name, (tnn.Module,), {"forward": lambda self, x: fn(x), "__module__": __name__})


UnaryIdentity = _unary("UnaryIdentity", lambda x: x)
UnaryNegative = _unary("UnaryNegative", lambda x: -x)
UnaryAbs = _unary("UnaryAbs", torch.abs)
UnarySquare = _unary("UnarySquare", torch.square)
UnaryPow = _unary("UnaryPow", lambda x: torch.pow(x, 3))
UnarySqrt = _unary("UnarySqrt", torch.sqrt)


class UnaryMul(_Beta):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.beta


class UnaryAdd(_Beta):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.beta


UnaryLogAbs = _unary("UnaryLogAbs", lambda x: torch.log(torch.abs(x) + 1e-7))
UnaryExp = _unary("UnaryExp", torch.exp)
UnarySin = _unary("UnarySin", torch.sin)
UnaryCos = _unary("UnaryCos", torch.cos)
UnarySinh = _unary("UnarySinh", torch.sinh)
UnaryCosh = _unary("UnaryCosh", torch.cosh)
UnaryTanh = _unary("UnaryTanh", torch.tanh)
UnaryAsinh = _unary("UnaryAsinh", torch.asinh)
UnaryAtan = _unary("UnaryAtan", torch.atan)
UnarySinc = _unary("UnarySinc", torch.sinc)
UnaryMax = _unary("UnaryMax", lambda x: torch.clamp(x, min=0))
UnaryMin = _unary("UnaryMin", lambda x: torch.clamp(x, max=0))
UnarySigmoid = _unary("UnarySigmoid", torch.sigmoid)
UnaryLogExp = _unary("UnaryLogExp", lambda x: torch.log(1 + torch.exp(x)))
UnaryExpSquare = _unary("UnaryExpSquare", lambda x: torch.exp(-torch.square(x)))
UnaryErf = _unary("UnaryErf", torch.erf)


def _binary(name: str, fn):  # type: ignore[no-untyped-def]
    return type(
        name, (tnn.Module,), {"forward": lambda self, x: fn(x[0], x[1]), "__module__": __name__}
    )


BinaryAdd = _binary("BinaryAdd", lambda a, b: a + b)
BinaryMul = _binary("BinaryMul", lambda a, b: a * b)
BinaryMinus = _binary("BinaryMinus", lambda a, b: a - b)
BinaryDivide = _binary("BinaryDivide", lambda a, b: a / (b + 1e-7))
BinaryMax = _binary("BinaryMax", torch.maximum)
BinaryMin = _binary("BinaryMin", torch.minimum)
BinarySigmoid = _binary("BinarySigmoid", lambda a, b: torch.sigmoid(a) * b)


class BinaryExpSquare(_Beta):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(-self.beta * torch.square(x[0] - x[1]))


class BinaryExpAbs(_Beta):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(-self.beta * torch.abs(x[0] - x[1]))


class BinaryParamAdd(_Beta):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.beta * x[0] + (1 - self.beta) * x[1]


#: NNI's unary ops, in NNI's order (a sample's index means the same op as in NNI; NNI appends
#: ``UnaryAsinh`` and ``UnarySinc`` last, after the others).
UNARY_OPS: list[type[tnn.Module]] = [
    UnaryIdentity, UnaryNegative, UnaryAbs, UnarySquare, UnaryPow, UnarySqrt, UnaryMul,
    UnaryAdd, UnaryLogAbs, UnaryExp, UnarySin, UnaryCos, UnarySinh, UnaryCosh, UnaryTanh,
    UnaryAtan, UnaryMax, UnaryMin, UnarySigmoid, UnaryLogExp, UnaryExpSquare, UnaryErf,
    UnaryAsinh, UnarySinc,
]  # fmt: skip
#: NNI's binary ops, in NNI's order; each takes ``torch.stack([a, b])``.
BINARY_OPS: list[type[tnn.Module]] = [
    BinaryAdd, BinaryMul, BinaryMinus, BinaryDivide, BinaryMax, BinaryMin, BinarySigmoid,
    BinaryExpSquare, BinaryExpAbs, BinaryParamAdd,
]  # fmt: skip


class AutoActivation(tnn.Module):
    """A searchable activation: ``unit_num`` binary ops over unary ops of the input (NNI's).

    Args:
        unit_num: the number of core units (binary ops); ``unit_num + 1`` unary choices.
        label: prefix of the choices' labels (automatic if not given, numbered as NNI's).

    Once an architecture is chosen it is an ordinary module made of the chosen ops.
    """

    def __init__(self, unit_num: int = 1, label: str | None = None) -> None:
        super().__init__()
        self.label = label_or_auto(label, "AutoActivation")
        self.first_unary = LayerChoice(list(UNARY_OPS), label=f"{self.label}__unary_0")
        self.unaries = tnn.ModuleList(
            LayerChoice(list(UNARY_OPS), label=f"{self.label}__unary_{i + 1}")
            for i in range(unit_num)
        )
        self.binaries = tnn.ModuleList(
            LayerChoice(list(BINARY_OPS), label=f"{self.label}__binary_{i}")
            for i in range(unit_num)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.first_unary(x)
        for unary, binary in zip(self.unaries, self.binaries):
            out = binary(torch.stack([out, unary(x)]))
        return out
