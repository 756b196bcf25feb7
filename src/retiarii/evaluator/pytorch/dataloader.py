"""``DataLoader``: torch's ``DataLoader`` whose arguments may be value choices."""

from __future__ import annotations

from typing import Any

import torch.utils.data

from ..choices import first_values, has_choices, record_call, resolve

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
        if not has_choices((args, kwargs)):
            super().__init__(*args, **kwargs)
            return
        first = first_values((args, kwargs))
        super().__init__(*resolve(args, first), **resolve(kwargs, first))
        # A trial's loader is a plain torch DataLoader built from the recorded arguments.
        record_call(self, torch.utils.data.DataLoader, args, kwargs)
