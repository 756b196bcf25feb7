"""One-shot strategies with Lightning evaluators: ``RetiariiExperiment(space, pl.Classification(...),
None, strategy.DARTS())``."""

from __future__ import annotations

import logging

import pytest
import torch

pytest.importorskip("lightning")

import retiarii.evaluator.pytorch.lightning as pl
import retiarii.strategy as strategy
from retiarii import ModelSpace
from retiarii.evaluator import FunctionalEvaluator
from retiarii.experiment.pytorch import RetiariiExperiment
from retiarii.strategy import DARTS, ENAS, GumbelDARTS, Proxyless, RandomOneShot

from .helpers import UsefulOrZero, reward_accuracy, separable


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("RETIARII_HOME", str(tmp_path / "experiments"))
    return tmp_path


def classification(tmp_path, epochs: int = 4) -> pl.Classification:
    data = separable()
    return pl.Classification(
        train_dataloaders=pl.DataLoader(data, batch_size=32, shuffle=True),
        val_dataloaders=pl.DataLoader(data, batch_size=128),
        learning_rate=0.01,
        max_epochs=epochs,
        default_root_dir=str(tmp_path / "lightning"),
    )


@pytest.mark.parametrize(
    "strategy",
    [
        DARTS(arc_learning_rate=0.05),
        GumbelDARTS(arc_learning_rate=0.05, use_temp_anneal=True),
        ENAS(reward_function=reward_accuracy, ctrl_lr=0.01, ctrl_steps_aggregate=2),
        Proxyless(arc_learning_rate=0.1),
        RandomOneShot(population_size=4, evolution_cycles=1, seed=0),
    ],
    ids=lambda s: type(s).__name__,
)
def test_each_strategy_searches_with_a_lightning_evaluator(home, strategy):
    evaluator = classification(home)
    space = UsefulOrZero()
    exp = RetiariiExperiment(space, evaluator, None, strategy)
    exp.run()
    assert exp.get_status() == "DONE"
    [sample] = exp.export_top_models()
    assert ModelSpace(UsefulOrZero()).validate(sample) == sample
    if isinstance(strategy, ENAS):  # REINFORCE needs more than 4 tiny epochs to be reliable
        assert "metric/reward" in exp.store.series_names()
    else:
        assert sample == {"op": "linear", "pick": [0]}
    names = exp.store.series_names()
    assert "loss" in names and "metric/val_acc" in names
    assert exp.store.series("loss/step")[0].step == 1  # progress from the first step
    assert [p.epoch for p in exp.store.series("metric/val_acc")] == [0, 1, 2, 3]
    if not isinstance(strategy, RandomOneShot):
        assert exp.export_top_models(formatter="instance")[0](torch.randn(2, 8)).shape == (2, 2)
        probs = exp.store.series("arch_prob/op")[-1].value
        assert sum(probs.values()) == pytest.approx(1.0)
    assert not hasattr(evaluator.module, "model")  # the evaluator's own module is untouched


def test_architecture_parameters_stay_out_of_the_weight_optimizer(home):
    from retiarii.oneshot.pytorch.lightning import LightningOneShotTrainer

    evaluator = classification(home, epochs=1)
    module = LightningOneShotTrainer(UsefulOrZero(), evaluator, strategy.DARTS()).module
    [weights, arch], schedulers = module.configure_optimizers()
    assert schedulers == []
    alphas = {id(p) for p in module.arch_parameters()}
    assert alphas and alphas == {id(p) for g in arch.param_groups for p in g["params"]}
    assert not alphas & {id(p) for g in weights.param_groups for p in g["params"]}


def test_one_shot_strategies_need_a_lightning_evaluator():
    with pytest.raises(TypeError, match="needs a Lightning evaluator"):
        RetiariiExperiment(UsefulOrZero(), FunctionalEvaluator(lambda m: 0.0), None, DARTS())


def test_enas_rewards_the_controller_with_the_evaluators_metric(home):
    exp = RetiariiExperiment(
        UsefulOrZero(), classification(home, epochs=2), None,
        ENAS(reward_metric_name="val_acc", ctrl_steps_aggregate=2, entropy_weight=0.0),
    )  # fmt: skip
    exp.run()
    rewards = [p.value for p in exp.store.series("metric/reward")]
    assert rewards and all(0.0 <= r <= 1.0 for r in rewards)  # accuracies of sampled paths
    # the headline metric is the evaluator's, not the reward
    [trial] = exp.store.best_trials(1)
    assert trial.final_value == exp.store.series("metric/val_acc")[-1].value
    info = exp.store.experiment().info
    assert info["headline_metric"] == "val_acc" and info["max_epochs"] == 2


def test_regression_is_judged_by_its_mse_to_minimize_everywhere(home, capsys):
    from torch.utils.data import TensorDataset

    from retiarii.cli.main import main as cli

    x, y = separable(n=256).tensors
    data = TensorDataset(x, torch.stack([y.float(), -y.float()], 1))
    evaluator = pl.Regression(
        train_dataloaders=pl.DataLoader(data, batch_size=32, shuffle=True),
        val_dataloaders=pl.DataLoader(data, batch_size=128),
        learning_rate=0.05,
        max_epochs=2,
        default_root_dir=str(home / "lightning"),
    )
    exp = RetiariiExperiment(UsefulOrZero(), evaluator, None, DARTS(arc_learning_rate=0.05))
    exp.run()
    mse = [p.value for p in exp.store.series("metric/val_mse")]
    assert exp.store.experiment().optimize_mode == "minimize" and len(mse) == 2
    # val_loss equals val_mse here: the recorded name says which one the result is
    assert exp.store.experiment().info["headline_metric"] == "val_mse"
    directory = str(exp.experiment_dir)
    exp.close()
    assert cli(["list", str(home / "experiments")]) == 0
    header, row = capsys.readouterr().out.strip().splitlines()
    assert header.split()[:3] == ["ID", "NAME", "STRATEGY"]
    assert "DARTS(arc_learning_rate=0.05)" in row and " 2/2 epochs " in row
    assert f"{mse[-1]:.6g} val_mse (min)" in row
    assert cli(["export", directory, "-f", "code"]) == 0
    code = capsys.readouterr().out
    assert code.startswith(
        f"# the architecture exported by DARTS(arc_learning_rate=0.05): val_mse {mse[-1]:.6g} "
        "(minimize)\n"
    )
    assert "with fixed_arch(" in code


def test_what_an_algorithm_cannot_share_is_refused_when_the_search_starts(home):
    from .test_oneshot_value_choices import WithBasicUnit

    data = separable()
    evaluator = pl.Classification(
        train_dataloaders=pl.DataLoader(data, batch_size=32),
        val_dataloaders=pl.DataLoader(data, batch_size=128),
        max_epochs=1,
        default_root_dir=str(home / "lightning"),
    )
    exp = RetiariiExperiment(WithBasicUnit(), evaluator, None, DARTS())
    with pytest.raises(ValueError, match=r"strategy.DARTS cannot search 'hidden' \(Block\)"):
        exp.run()
    assert exp.store.series("loss") == []  # refused before any training


def test_the_console_has_no_noise_from_our_reports_or_checkpoints(home, caplog):
    # Classification reports val_acc; in a one-shot search there is no trial to report to, and
    # "final result (not in a trial): 0.5" would read as the search's result. The checkpoint
    # of every epoch must not make Lightning log "`weights_only` was not set".
    exp = RetiariiExperiment(UsefulOrZero(), classification(home, 2), None, DARTS())
    # (the retiarii logger's own level too: other tests' fixtures may have left it at WARNING)
    with caplog.at_level(logging.INFO), caplog.at_level(logging.INFO, logger="retiarii"):
        exp.run()
    assert exp.get_status() == "DONE"
    assert (exp.experiment_dir / "oneshot" / "last.ckpt").is_file()
    assert "metric/val_acc" in exp.store.series_names()  # what it reports is still recorded
    messages = [record.getMessage() for record in caplog.records]
    assert any("one-shot search done" in message for message in messages)
    assert not [m for m in messages if "not in a trial" in m or "weights_only" in m]


@pytest.mark.parametrize("cls", [DARTS, GumbelDARTS, ENAS, Proxyless, RandomOneShot])
def test_nni_arguments_without_a_counterpart_say_so(cls):
    name = cls.__name__
    with pytest.raises(TypeError, match=rf"^{name}\(log_prob_every_n_step=\.\.\.\) is an argument "
                       rf"of NNI's {name} .*every epoch \(arch_prob/<label>.*; remove it$"):  # fmt: skip
        cls(log_prob_every_n_step=10)
    with pytest.raises(TypeError, match=r"\(mutation_hooks=\.\.\.\) .* no mutation hooks"):
        cls(mutation_hooks=[])
    with pytest.raises(TypeError, match="unexpected keyword argument 'misspelt'"):
        cls(misspelt=1)  # anything else: Python's own error


def test_enas_takes_nni_ctrl_grad_clip_and_is_recorded_with_it(home):
    exp = RetiariiExperiment(
        UsefulOrZero(),
        classification(home, 1),
        None,
        ENAS(reward_metric_name="val_acc", ctrl_grad_clip=1.0),
    )
    exp.run()
    assert exp.get_status() == "DONE"
    assert (
        exp.store.experiment().info["strategy"]
        == "ENAS(reward_metric_name='val_acc', ctrl_grad_clip=1.0)"
    )


def test_the_epoch_loss_and_reward_are_the_means_of_the_epochs_steps(home, monkeypatch):
    # the dashboard's per-epoch curves: not the last step's values (what Lightning keeps of the
    # train_loss Classification logs every step)
    from retiarii.oneshot import base
    from retiarii.oneshot.pytorch.lightning import OneShotModule

    monkeypatch.setattr(base, "STEP_INTERVAL", 0.0)  # every step's loss goes to loss/step
    rewards: list[float] = []
    real_log = OneShotModule.log

    def spy(self, name, value, *args, **kwargs):
        if name == "reward":
            rewards.append(float(value))
        return real_log(self, name, value, *args, **kwargs)

    monkeypatch.setattr(OneShotModule, "log", spy)
    strategy = ENAS(reward_function=reward_accuracy, ctrl_steps_aggregate=2)
    exp = RetiariiExperiment(UsefulOrZero(), classification(home, 2), None, strategy)
    exp.run()
    steps = [p.value for p in exp.store.series("loss/step")]
    assert len(steps) == len(rewards) == 2 * 16  # 512 examples in batches of 32, 2 epochs
    epochs = [p.value for p in exp.store.series("loss")]
    assert epochs == pytest.approx([sum(steps[:16]) / 16, sum(steps[16:]) / 16], rel=1e-5)
    assert epochs[1] != pytest.approx(steps[-1])
    reward = [p.value for p in exp.store.series("metric/reward")]
    assert reward == pytest.approx([sum(rewards[:16]) / 16, sum(rewards[16:]) / 16], rel=1e-5)


def test_run_again_continues_the_search_as_resume_does(home):
    # it was "the choices of this model were already replaced by another one-shot trainer":
    # the experiment's own first run had made the space its supernet
    evaluator = classification(home, 2)
    exp = RetiariiExperiment(UsefulOrZero(), evaluator, None, DARTS(arc_learning_rate=0.05))
    exp.run()
    [first] = exp.export_top_models()
    exp.run()  # nothing left to train (max_epochs done): the same export, as a further trial
    assert exp.get_status() == "DONE"
    assert exp.export_top_models(top_k=2) == [first, first]
    assert [t.id for t in exp.list_trial_jobs()] == [1, 2]
    assert len(exp.store.series("loss")) == 2  # no epoch trained twice
    evaluator.trainer.kwargs["max_epochs"] = 3
    exp.run()  # a larger budget trains on from the checkpoint
    assert len(exp.store.series("loss")) == 3
    assert exp.list_trial_jobs()[-1].final_value is not None


class LogsItsSteps(pl.LightningModule):
    """Logs with Lightning's defaults (in training_step: this step's value, not an epoch mean)."""

    def training_step(self, batch, batch_idx):
        x, y = batch
        self.log("step_index", float(batch_idx))
        return torch.nn.functional.cross_entropy(self.model(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", torch.nn.functional.cross_entropy(self.model(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def test_the_users_self_log_keeps_lightnings_defaults(home):
    # The algorithm's own numbers (ENAS's reward) are epoch means; what the user's module logs is
    # logged as Lightning would log it under evaluator.evaluate().
    from retiarii.oneshot.pytorch.lightning import LightningOneShotTrainer

    data = separable()  # 512 examples: 16 batches of 32
    evaluator = pl.Lightning(
        LogsItsSteps(),
        pl.Trainer(max_epochs=1, default_root_dir=str(home / "lightning")),
        train_dataloaders=pl.DataLoader(data, batch_size=32),
        val_dataloaders=pl.DataLoader(data, batch_size=128),
    )
    trainer = LightningOneShotTrainer(UsefulOrZero(), evaluator, DARTS())
    trainer.fit()
    assert trainer.trainer is not None
    assert float(trainer.trainer.callback_metrics["step_index"]) == 15.0  # the last step's
