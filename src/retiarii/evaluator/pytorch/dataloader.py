"""``DataLoader``: torch's ``DataLoader`` whose arguments may be value choices."""

from __future__ import annotations

from typing import Any

import torch.utils.data

from ...mutable import contains_mutable, freeze_structure, leaves_of
from ...nn.pytorch.mutable_args import representative_sample

__all__ = ["DataLoader"]


class DataLoader(torch.utils.data.DataLoader):
    """``torch.utils.data.DataLoader``; ``batch_size`` (or any argument) may be a value choice.

    With choices in its arguments it is built with the first value of each (so that it works as
    a loader before a trial decides them) and records the symbolic arguments; an evaluator that
    holds it uses a plain ``torch.utils.data.DataLoader`` built with each trial's values.

    Example:
        >>> loader = DataLoader(train, batch_size=ValueChoice([32, 64], label='bs'))  # doctest: +SKIP
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if not contains_mutable((args, kwargs)):
            super().__init__(*args, **kwargs)
            return
        first = representative_sample(leaves_of((args, kwargs)), largest=False)
        super().__init__(*freeze_structure(args, first), **freeze_structure(kwargs, first))
        # Read by retiarii.evaluator.choices (the same record as retiarii.serialize's); written
        # through __dict__ because DataLoader guards some attributes in __setattr__.
        self.__dict__["_retiarii_init_args"] = (torch.utils.data.DataLoader, args, kwargs)
