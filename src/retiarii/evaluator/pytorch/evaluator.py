"""``Lightning``: evaluate each architecture by fitting a ``LightningModule`` with a ``Trainer``.

Per evaluation: a deep copy of the user's module receives the model (``set_model``), a fresh
``lightning.Trainer`` is built from the recorded arguments with the trial's directory as its root,
and ``trainer.fit`` runs. What the module reports reaches the trial's reporter, except intermediate
results reported during Lightning's sanity check (not an epoch of training).
"""

from __future__ import annotations

import copy
import logging
import sys
import tempfile
from collections.abc import Mapping
from typing import Any

import lightning
import torch.utils.data
from lightning.pytorch.utilities.model_helpers import is_overridden

from ..._signals import keyboard_interrupt_passes_through
from ...execution.trial import current_trial_dir
from ...mutable import SearchSpace
from ...reporting import Metric, Reporter, current_reporter, trial_reporter
from ..base import Evaluator
from ..choices import choices_in, object_choices, resolve, resolve_object
from .module import LightningModule
from .trainer import Trainer

__all__ = ["Lightning"]

_logger = logging.getLogger("retiarii.evaluator")


def pick_train_dataloaders(plural: Any, singular: Any) -> Any:
    """``train_dataloaders`` (Lightning 2's name) or ``train_dataloader`` (seed 002's), not both."""
    if plural is not None and singular is not None:
        raise TypeError(
            "pass train_dataloaders or train_dataloader (its older name), not both; they are the "
            "same argument"
        )
    return plural if plural is not None else singular


def _check_loader(value: Any, name: str) -> None:
    if isinstance(value, torch.utils.data.Dataset) and not isinstance(
        value, torch.utils.data.DataLoader
    ):
        raise TypeError(
            f"{name} must be a DataLoader (or a list/dict of them), got a Dataset "
            f"({type(value).__name__}); wrap it: DataLoader(dataset, batch_size=...)"
        )


class _LightningReports:
    """The reporter seen by the module: forwards to the trial's reporter (or logs, outside a
    trial), drops intermediate results of the sanity check, and remembers the final result."""

    def __init__(self, trainer: lightning.Trainer, outer: Reporter | None) -> None:
        self.trainer = trainer
        self.outer = outer
        self.final_metric: Metric | None = None

    def intermediate(self, metric: Metric) -> None:
        if self.trainer.sanity_checking:
            return
        if self.outer is not None:
            self.outer.intermediate(metric)
            self._stop_if_pruned()
        else:
            _logger.info("intermediate result (epoch %d): %s", self.trainer.current_epoch, metric)

    def _stop_if_pruned(self) -> None:
        """Early stopping the Lightning way: ``trainer.should_stop`` ends fit at the end of this
        epoch (checkpoints, loggers and ``teardown`` run as usual), instead of an exception."""
        stop_reason = getattr(self.outer, "stop_reason", None)
        reason = stop_reason() if callable(stop_reason) else None
        if reason and not self.trainer.should_stop:
            self.trainer.should_stop = True
            print(
                f"retiarii: early-stopping at the end of epoch {self.trainer.current_epoch}: "
                f"{reason}",
                file=sys.stderr,
                flush=True,
            )

    def stop_reason(self) -> None:
        """Never stop the module's own report with ``TrialPruned``: Lightning stops at the end
        of the epoch instead (see :meth:`_stop_if_pruned`)."""
        return None

    def final(self, metric: Metric) -> None:
        if self.final_metric is None:
            self.final_metric = metric
        if self.outer is not None:
            self.outer.final(metric)
        else:
            _logger.info("final result: %s", metric)


class Lightning(Evaluator):
    """Evaluate each architecture with a ``LightningModule``, a ``Trainer`` and dataloaders.

    Args:
        lightning_module: An instance of :class:`LightningModule` (retiarii's, which has
            ``set_model``); a fresh deep copy receives each architecture as ``self.model``.
        trainer: A :class:`Trainer` (retiarii's: it records the arguments and builds a new
            ``lightning.Trainer`` per evaluation, with logs and checkpoints in the trial's dir).
        train_dataloaders: What ``trainer.fit`` trains on (a ``DataLoader``, or what Lightning
            accepts). ``train_dataloader`` is the same argument under seed 002's name.
        val_dataloaders: The validation data: what the module's reports are computed on.
        datamodule: A ``LightningDataModule``, instead of the two dataloader arguments.

    As in NNI, the data may also be given later, by setting ``train_dataloaders``,
    ``val_dataloaders`` or ``datamodule`` on the evaluator before it is used; what is missing is
    reported when it is (``evaluate``, ``fit`` or the start of an experiment).

    Value choices may appear in the module's constructor arguments (build it with
    ``retiarii.serialize(MyModule, lr=...)``, or keep them as attributes: ``self.lr = lr``), in the
    trainer's arguments (``Trainer(max_epochs=ValueChoice([5, 10]))``) and in the dataloaders
    (``DataLoader(data, batch_size=ValueChoice([32, 64]))``); each trial gets plain values.

    ``evaluate(model)`` fits the model in the current process and returns the final result the
    module reported (``None`` if it reported none). Outside a trial the logs go to
    ``default_root_dir`` if the trainer has one, else to a new temporary directory (logged).

    Example:
        >>> evaluator = Lightning(  # doctest: +SKIP
        ...     AutoEncoder(), Trainer(max_epochs=10),
        ...     train_dataloaders=DataLoader(train, batch_size=100),
        ...     val_dataloaders=DataLoader(test, batch_size=100))
    """

    #: ``'maximize'``/``'minimize'`` when the evaluator knows what its metric wants, else ``None``.
    optimize_mode: str | None = None

    def __init__(
        self,
        lightning_module: LightningModule,
        trainer: Trainer,
        train_dataloaders: Any = None,
        val_dataloaders: Any = None,
        datamodule: lightning.LightningDataModule | None = None,
        *,
        train_dataloader: Any = None,
    ) -> None:
        if not isinstance(lightning_module, LightningModule):
            kind = (
                "a lightning.LightningModule that is not retiarii's"
                if isinstance(lightning_module, lightning.LightningModule)
                else f"a {type(lightning_module).__name__}"
            )
            raise TypeError(
                f"lightning_module must be an instance of "
                f"retiarii.evaluator.pytorch.lightning.LightningModule (it receives each "
                f"architecture through set_model), got {kind}; subclass that class instead"
            )
        if not isinstance(trainer, Trainer):
            raise TypeError(
                f"trainer must be retiarii.evaluator.pytorch.lightning.Trainer(**kwargs), which "
                f"builds a fresh lightning.Trainer for every trial, got {type(trainer).__module__}."
                f"{type(trainer).__qualname__}; pass the same arguments to retiarii's Trainer"
            )
        train = pick_train_dataloaders(train_dataloaders, train_dataloader)
        if datamodule is not None:
            if not isinstance(datamodule, lightning.LightningDataModule):
                raise TypeError(
                    f"datamodule must be a lightning.LightningDataModule, got {type(datamodule).__name__}"
                )
            if train is not None or val_dataloaders is not None:
                raise ValueError(
                    "pass either datamodule or train_dataloaders/val_dataloaders, not both"
                )
        _check_loader(train, "train_dataloaders")
        _check_loader(val_dataloaders, "val_dataloaders")
        self.module = lightning_module
        self.trainer = trainer
        self.train_dataloaders = train
        self.val_dataloaders = val_dataloaders
        self.datamodule = datamodule

    def check_ready(self) -> None:
        """Raise a ``ValueError`` naming what is missing if there is nothing to train or validate on.

        The data may be given after construction, as in NNI (``evaluator.train_dataloaders =
        DataLoader(...)``); it is checked when the evaluator is used.
        """
        name = type(self).__name__
        _check_loader(self.train_dataloaders, "train_dataloaders")
        _check_loader(self.val_dataloaders, "val_dataloaders")
        source: Any = self.datamodule if self.datamodule is not None else self.module
        later = "set evaluator.{0} = DataLoader(...) before it is used"
        if self.train_dataloaders is None and not is_overridden("train_dataloader", source):
            raise ValueError(
                f"{name}: train_dataloaders is missing: pass train_dataloaders=DataLoader(...) "
                f"(or a datamodule, or define train_dataloader() in the module), or "
                f"{later.format('train_dataloaders')}"
            )
        if self.val_dataloaders is None and not is_overridden("val_dataloader", source):
            raise ValueError(
                f"{name}: val_dataloaders is missing: pass val_dataloaders=DataLoader(...) (or a "
                f"datamodule, or define val_dataloader() in the module), or "
                f"{later.format('val_dataloaders')}; a trial reports validation results"
            )

    def fit(self, model: Any) -> Metric | None:
        """NNI's name for :meth:`evaluate`: fit ``model`` here; returns the final result."""
        return self.evaluate(model)

    def search_space(self) -> SearchSpace:
        """Choices in the module and the datamodule (their ``serialize``-recorded constructor
        arguments, or their public attributes and saved hyperparameters), the trainer's arguments
        and the dataloaders."""
        return SearchSpace(
            [
                *object_choices(self.module),
                *choices_in(self.trainer.kwargs),
                *choices_in([self.train_dataloaders, self.val_dataloaders]),
                *object_choices(self.datamodule),
            ]
        )

    def freeze(self, sample: Mapping[str, Any]) -> Lightning:
        if not len(self.search_space()):
            return self
        twin = copy.copy(self)
        twin.module = resolve_object(self.module, sample)
        twin.trainer = Trainer(**resolve(self.trainer.kwargs, sample))
        twin.train_dataloaders = resolve(self.train_dataloaders, sample)
        twin.val_dataloaders = resolve(self.val_dataloaders, sample)
        twin.datamodule = resolve_object(self.datamodule, sample)
        return twin

    def evaluate(self, model: Any) -> Metric | None:
        """Fit ``model`` (in this process) and return the final result the module reported."""
        self.check_frozen()
        self.check_ready()
        try:
            module = copy.deepcopy(self.module)  # a fresh module per evaluation
        except Exception as exc:
            raise TypeError(
                f"lightning_module {type(self.module).__name__} cannot be deep-copied ({exc}); "
                "keep unpicklable state (open files, locks) out of it, e.g. create it in setup()"
            ) from exc
        module.set_model(model)
        trainer = self.trainer.build(self._root_dir())
        reports = _LightningReports(trainer, current_reporter())
        with trial_reporter(reports), keyboard_interrupt_passes_through():
            if self.datamodule is not None:
                trainer.fit(module, datamodule=self.datamodule)
            else:
                trainer.fit(
                    module,
                    train_dataloaders=self.train_dataloaders,
                    val_dataloaders=self.val_dataloaders,
                )
        if reports.final_metric is None:
            _logger.warning(
                "%s reported no final result; call retiarii.report_final_result(...) in its "
                "teardown(stage='fit')",
                type(module).__name__,
            )
        return reports.final_metric

    def _root_dir(self) -> str:
        trial_dir = current_trial_dir()
        if trial_dir is not None:
            return trial_dir
        given = self.trainer.kwargs.get("default_root_dir")
        if given is not None:
            return str(given)
        root = tempfile.mkdtemp(prefix="retiarii-lightning-")
        _logger.info("Lightning logs and checkpoints of this evaluation: %s", root)
        return root

    def __repr__(self) -> str:
        return f"{type(self).__name__}({type(self.module).__name__}, {self.trainer!r})"
