"""``Trainer``: Lightning's ``Trainer`` as a recipe, built afresh for every evaluation.

A ``lightning.Trainer`` is a live object (loggers, accelerator connectors, callback state, loop
progress): one cannot be reused across trials, and shipping it to a worker process is fragile.
So ``Trainer(**kwargs)`` only records (and checks) the arguments, travels as plain data, and
:meth:`Trainer.build` makes a new ``lightning.Trainer`` for each evaluation, with the defaults a
trial needs: its logs and checkpoints in the trial's directory, no progress bar, no model summary,
no sanity-check validation, one device.
"""

from __future__ import annotations

import copy
import difflib
import functools
import importlib.util
import inspect
import logging
from typing import Any

import lightning

__all__ = ["TRIAL_DEFAULTS", "Trainer", "check_trainer_kwargs"]

_logger = logging.getLogger("retiarii.evaluator")

#: Arguments :meth:`Trainer.build` passes unless you pass them yourself. ``devices=1`` because a
#: multi-device strategy would relaunch the process (a trial worker, or your search script).
TRIAL_DEFAULTS: dict[str, Any] = {
    "accelerator": "auto",
    "devices": 1,
    "enable_progress_bar": False,
    "enable_model_summary": False,
    "num_sanity_val_steps": 0,
}


@functools.cache
def _trainer_parameters() -> tuple[str, ...]:
    signature = inspect.signature(lightning.Trainer.__init__)
    return tuple(name for name in signature.parameters if name != "self")


def _translate_gpus(kwargs: dict[str, Any], owner: str) -> dict[str, Any]:
    """NNI 2.x's evaluators passed Lightning 1.x's ``gpus=N`` (its tutorials use ``gpus=1``),
    which Lightning 2 removed: ``gpus=0``/None is ``accelerator='cpu'``, any other value
    ``accelerator='gpu', devices=gpus``."""
    if "gpus" not in kwargs or "gpus" in _trainer_parameters():
        return kwargs
    kwargs = dict(kwargs)
    gpus = kwargs.pop("gpus")
    clash = sorted({"accelerator", "devices"} & set(kwargs))
    if clash:
        raise TypeError(
            f"{owner}(gpus={gpus!r}, {clash[0]}=...): gpus is Lightning 1.x's name for "
            "accelerator='gpu', devices=N; pass accelerator and devices only"
        )
    no_gpu = gpus is None or (isinstance(gpus, int) and not isinstance(gpus, bool) and gpus == 0)
    return (
        {**kwargs, "accelerator": "cpu"}
        if no_gpu
        else {**kwargs, "accelerator": "gpu", "devices": gpus}
    )


def check_trainer_kwargs(
    kwargs: dict[str, Any], owner: str = "Trainer", own: tuple[str, ...] = ()
) -> dict[str, Any]:
    """``kwargs`` with NNI's ``gpus=N`` translated (see :func:`_translate_gpus`); raise
    ``TypeError`` naming the first of them that ``lightning.Trainer`` does not take.

    ``owner`` and its ``own`` argument names make the message right for evaluators that pass
    their extra keyword arguments on to the trainer.
    """
    kwargs = _translate_gpus(kwargs, owner)
    known = _trainer_parameters()
    for name in kwargs:
        if name not in known:
            close = difflib.get_close_matches(name, (*own, *known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            where = f"neither an argument of {owner} nor" if own else "not"
            raise TypeError(
                f"{owner}() got an unexpected keyword argument {name!r}: it is {where} an "
                f"argument of lightning.Trainer {lightning.__version__}{hint}"
            )
    return kwargs


def _no_advert(record: logging.LogRecord) -> bool:
    """Drops the "💡 Tip: ... try installing litlogger" that lightning.Trainer() logs whenever
    its loggers are not Lightning's cloud logger: every Trainer built here."""
    return not str(record.msg).startswith("💡 Tip:")


def _tensorboard_available() -> bool:
    return any(
        importlib.util.find_spec(name) is not None for name in ("tensorboard", "tensorboardX")
    )


def _fresh(name: str, value: Any) -> Any:
    """A deep copy of ``value`` (callbacks and loggers keep state), or ``value`` if it has none."""
    try:
        return copy.deepcopy(value)
    except Exception:  # e.g. an object holding a lock: share it rather than fail the trial
        _logger.debug("Trainer(%s=...) cannot be deep-copied; the same object is reused", name)
        return value


class Trainer:
    """The arguments of a ``lightning.Trainer``, built into a fresh one for every evaluation.

    Args:
        **kwargs: Any ``lightning.Trainer`` argument (``max_epochs=10``, ``callbacks=[...]``,
            ``accelerator='gpu'``...). A misspelled name raises ``TypeError`` at once, naming it.
            NNI 2.x's ``gpus=N`` (Lightning 1.x) means ``accelerator='gpu', devices=N``
            (``gpus=0``: ``accelerator='cpu'``).

    What :meth:`build` adds unless you pass it yourself: ``accelerator='auto'`` (the GPUs a trial
    sees are only its own, through ``CUDA_VISIBLE_DEVICES``), ``devices=1``,
    ``enable_progress_bar=False``, ``enable_model_summary=False``, ``num_sanity_val_steps=0``, and
    a ``CSVLogger`` (plus a ``TensorBoardLogger`` when tensorboard is installed) writing under the
    root directory. ``logger=False`` turns logging off; a logger object you pass is used as is.

    Example:
        >>> trainer = Trainer(max_epochs=10)  # doctest: +SKIP
        >>> trainer.build("trials/3").fit(module, loader)  # doctest: +SKIP
    """

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = check_trainer_kwargs(kwargs)

    def build(self, root_dir: str) -> lightning.Trainer:
        """A new ``lightning.Trainer`` whose logs and checkpoints go under ``root_dir``.

        In a trial ``root_dir`` is the trial's directory and replaces any ``default_root_dir``
        given to the constructor (each trial needs its own place). Stateful arguments
        (callbacks, loggers) are deep-copied, so no state leaks from one evaluation to the next.
        """
        kwargs = {**TRIAL_DEFAULTS, **{k: _fresh(k, v) for k, v in self.kwargs.items()}}
        kwargs["default_root_dir"] = root_dir
        if kwargs.get("logger", True) in (True, None):
            kwargs["logger"] = default_loggers(root_dir)
        lightning_info = logging.getLogger("lightning.pytorch.utilities.rank_zero")
        lightning_info.addFilter(_no_advert)
        try:
            return lightning.Trainer(**kwargs)
        finally:
            lightning_info.removeFilter(_no_advert)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"Trainer({args})"


def default_loggers(root_dir: str) -> list[Any]:
    """``CSVLogger`` in ``root_dir/lightning_logs`` (+ ``TensorBoardLogger`` in ``root_dir/tensorboard``)."""
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    loggers: list[Any] = [CSVLogger(root_dir, name="lightning_logs")]
    if _tensorboard_available():
        loggers.append(TensorBoardLogger(root_dir, name="tensorboard"))
    return loggers
