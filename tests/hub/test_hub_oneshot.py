"""Every registered hub space under every one-shot strategy of ``retiarii.strategy``.

Each (space, strategy) pair has one expected outcome, recorded in the space's registry entry:

- *works* (the default): one search step (two for ENAS, twenty on a space with constraints) of
  the strategy's own algorithm
  (``strategy.X().make_algorithm()``) run by the plain driver, ``SupernetTrainer`` (the parity
  tests in ``tests/oneshot`` show that the Lightning driver behind ``RetiariiExperiment`` takes
  the same steps); the weights and the architecture parameters move; ``export()`` is a sample
  the space validates, ``fixed_arch`` builds it, the supernet's trained weights of that subnet
  load into it (a space whose freeze rebuilds its network, NDS, refuses ``sub_state_dict``
  instead: no weight carries over), and it forwards;
- *refused* (``SpaceEntry.oneshot_refused``): the strategy refuses the space when it starts,
  before any step, with a ``ValueError`` naming the strategy, a module and a label;
- *pending* (``SpaceEntry.oneshot_pending``): it should work and does not yet; the *works* check
  as a strict expected failure, which fails the day it starts working.

A space gets all of this by being registered; ``docs/hub.md`` shows the same matrix (checked
here too).
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

import retiarii
import retiarii.strategy as strategy
from retiarii.hub.pytorch.registry import ONESHOT_STRATEGIES, SPACES, SpaceEntry, register_space
from retiarii.oneshot.pytorch import SupernetTrainer

HUB_DOC = Path(__file__).resolve().parents[2] / "docs" / "hub.md"


def _config(name: str) -> strategy.OneShotStrategy:
    """The strategy ``name`` with its defaults, except what makes two steps do something."""
    configs: dict[str, strategy.OneShotStrategy] = {
        # the search phase evaluates two subnets (a population of one, one cycle), one batch each
        "RandomOneShot": strategy.RandomOneShot(
            population_size=1, evolution_cycles=1, bn_recalibration_batches=1, eval_batches=1
        ),
        "ENAS": strategy.ENAS(ctrl_steps_aggregate=1),  # the controller steps after each batch
        "DARTS": strategy.DARTS(),
        "GumbelDARTS": strategy.GumbelDARTS(),
        "Proxyless": strategy.Proxyless(),
    }
    return configs[name]


def _outcome(entry: SpaceEntry, name: str) -> str:
    if name in entry.oneshot_refused:
        return "refused"
    return "pending" if name in entry.oneshot_pending else "works"


def _pairs(outcomes: tuple[str, ...]) -> list[Any]:
    params = []
    for space, entry in sorted(SPACES.items()):
        for name in ONESHOT_STRATEGIES:
            outcome = _outcome(entry, name)
            if outcome not in outcomes:
                continue
            marks: list[Any] = []
            if entry.slow or (entry.oneshot_slow and name != "RandomOneShot"):
                marks.append(pytest.mark.slow)
            if outcome == "pending":
                reason = f"{name} on {space}: {entry.oneshot_pending[name]}"
                marks.append(pytest.mark.xfail(strict=True, reason=reason))
            params.append(pytest.param(entry, name, id=f"{space}-{name}", marks=marks))
    return params


def _logits(output: Any) -> torch.Tensor:
    # spaces with an auxiliary head return (logits, aux_logits) in training mode
    return output[0] if isinstance(output, tuple) else output


def _loss(output: Any, target: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(_logits(output), target)


def _batches(entry: SpaceEntry, steps: int = 2) -> list[tuple[torch.Tensor, torch.Tensor]]:
    target = torch.arange(2) % entry.num_classes
    return [(torch.randn(2, *entry.input_size), target) for _ in range(steps)]


def _steps(space: retiarii.ModelSpace, name: str) -> int:
    # A path that breaks a constraint of the space (NAS-Bench-101's edge limit) is drawn by chance:
    # twenty steps, so that a strategy which may draw one is caught (each step is cheap there).
    # Elsewhere one step (every algorithm updates its weights and architecture in each step),
    # two for ENAS: its first reward only sets the REINFORCE baseline, so nothing moves.
    if space.search_space.constraints:
        return 20
    return 2 if name == "ENAS" else 1


def _trainer(
    entry: SpaceEntry, name: str, model: torch.nn.Module, steps: int = 2
) -> SupernetTrainer:
    data = _batches(entry, steps)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    algorithm = _config(name).make_algorithm()
    return SupernetTrainer(algorithm, model, _loss, None, optimizer, 1, data, data, device="cpu")


def _moved(before: list[torch.Tensor], after: list[torch.Tensor]) -> bool:
    return any(not torch.equal(b, a.detach()) for b, a in zip(before, after))


def test_every_one_shot_strategy_is_checked() -> None:
    oneshot = {
        name
        for name in strategy.__all__
        if isinstance(getattr(strategy, name), type)
        and issubclass(getattr(strategy, name), strategy.OneShotStrategy)
        and name != "OneShotStrategy"
    }
    assert oneshot == set(ONESHOT_STRATEGIES), "add the new one-shot strategy to the hub's checks"


def test_the_registry_rejects_unknown_or_contradictory_expectations() -> None:
    entry = SPACES["NasBench201"]
    typo = dataclasses.replace(entry, name="Typo", oneshot_refused={"Darts": "a typo"})
    with pytest.raises(ValueError, match=r"unknown one-shot strategies \['Darts'\]"):
        register_space(typo)
    both = dataclasses.replace(
        entry, name="Both", oneshot_refused={"ENAS": "a"}, oneshot_pending={"ENAS": "b"}
    )
    with pytest.raises(ValueError, match=r"\['ENAS'\] both refused and pending"):
        register_space(both)
    assert "Typo" not in SPACES and "Both" not in SPACES


@pytest.mark.parametrize(("entry", "name"), _pairs(("works", "pending")))
def test_strategy_trains_the_space_and_exports_a_sample_of_it(entry: SpaceEntry, name: str) -> None:
    torch.manual_seed(0)
    model = entry.factory(**entry.test_kwargs)
    space = retiarii.ModelSpace(model)  # its choices, read before the supernet replaces them
    trainer = _trainer(entry, name, model, _steps(space, name))
    weights = [p.detach().clone() for p in trainer.weights()]
    alphas = [p.detach().clone() for p in trainer.algorithm.arch_parameters()]
    trainer.fit()
    assert _moved(weights, trainer.weights()), "training left every weight where it was"
    if alphas:
        assert _moved(alphas, trainer.algorithm.arch_parameters()), "the architecture did not move"

    sample = trainer.export()
    assert space.validate(json.loads(json.dumps(sample))) == space.validate(sample)
    with retiarii.fixed_arch(sample, verbose=False):
        subnet = entry.factory(**entry.test_kwargs)
    if space.rebuilds_on_freeze:
        # the NDS networks are rebuilt per architecture: no trained weight can carry over, and
        # sub_state_dict says so instead of handing out fresh weights
        with pytest.raises(ValueError, match="retrain the exported architecture"):
            trainer.sub_state_dict(sample)
    else:
        subnet.load_state_dict(trainer.sub_state_dict(sample))
    subnet.eval()
    with torch.no_grad():
        logits = _logits(subnet(_batches(entry)[0][0]))
    assert logits.shape == (2, entry.num_classes) and torch.isfinite(logits).all()


@pytest.mark.parametrize(("entry", "name"), _pairs(("refused",)))
def test_strategy_refuses_the_space_when_it_starts(entry: SpaceEntry, name: str) -> None:
    model = entry.factory(**entry.test_kwargs)
    labels = retiarii.ModelSpace(model).labels
    modules = {type(m).__name__ for m in model.modules()}
    with pytest.raises(ValueError) as refusal:
        _trainer(entry, name, model)  # attaching the algorithm; no step has run
    message = str(refusal.value)
    assert name in message, message
    assert any(re.search(rf"\b{re.escape(m)}\b", message) for m in modules), message
    named = [label for label in labels if f"'{label}'" in message]
    assert named, f"the refusal names no label of {entry.name} ({labels}): {message}"


def _documented_matrix() -> dict[str, dict[str, str]]:
    """``{space: {strategy: outcome}}`` of the one-shot table of ``docs/hub.md``."""
    lines = HUB_DOC.read_text().splitlines()
    header = "| space | " + " | ".join(ONESHOT_STRATEGIES) + " |"
    assert header in lines, f"docs/hub.md has no one-shot table headed {header!r}"
    rows = {}
    for line in lines[lines.index(header) + 2 :]:
        if not line.startswith("|"):
            break
        space, *cells = (cell.strip() for cell in line.strip("|").split("|"))
        for name in space.replace("`", "").split(", "):
            rows[name] = {s: cell.split()[0] for s, cell in zip(ONESHOT_STRATEGIES, cells)}
    return rows


def test_the_docs_show_the_registered_outcomes() -> None:
    expected = {
        space: {name: _outcome(entry, name) for name in ONESHOT_STRATEGIES}
        for space, entry in SPACES.items()
    }
    assert _documented_matrix() == expected


@pytest.fixture
def lightning_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    pytest.importorskip("lightning")
    monkeypatch.setenv("RETIARII_HOME", str(tmp_path / "experiments"))
    return tmp_path


def _experiment(home: Path, entry: SpaceEntry, config: strategy.OneShotStrategy) -> Any:
    import retiarii.evaluator.pytorch.lightning as pl
    from retiarii.experiment.pytorch import RetiariiExperiment

    x = torch.randn(4, *entry.input_size)
    data = TensorDataset(x, torch.arange(4) % entry.num_classes)
    evaluator = pl.Classification(
        train_dataloaders=pl.DataLoader(data, batch_size=2),
        val_dataloaders=pl.DataLoader(data, batch_size=2),
        max_epochs=1,
        default_root_dir=str(home / "lightning"),
    )
    return RetiariiExperiment(entry.factory(**entry.test_kwargs), evaluator, None, config)


def test_a_hub_space_searches_through_the_experiment(lightning_home: Path) -> None:
    # the public path end to end, once: the shared test above drives the same algorithms
    entry = SPACES["NasBench201"]
    exp = _experiment(lightning_home, entry, strategy.DARTS())
    exp.run()
    assert exp.get_status() == "DONE"
    [sample] = exp.export_top_models()
    space = retiarii.ModelSpace(entry.factory(**entry.test_kwargs))
    assert space.validate(sample) == sample
    [model] = exp.export_top_models(formatter="instance")
    assert model(torch.randn(2, *entry.input_size)).shape == (2, entry.num_classes)


def test_a_refused_hub_space_stops_the_experiment_before_training(lightning_home: Path) -> None:
    exp = _experiment(lightning_home, SPACES["NasBench101"], strategy.DARTS())
    with pytest.raises(
        ValueError, match=r"DARTS cannot search 'cell/num_nodes' \(NasBench101Cell\)"
    ):
        exp.run()
    assert exp.store.series("loss") == []
