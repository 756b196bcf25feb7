"""Model spaces, mutators and evaluators shared by the experiment and dashboard tests.

Everything here is module-level so that worker processes import it by name (the experiment
pickles references to ``experiment.spaces.<name>``; the tests directory is on ``sys.path``).
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import torch
import torch.nn.functional as F

import retiarii
import retiarii.nn.pytorch as nn
from retiarii import model_wrapper

# -- the seed 002 quick start, on sklearn's digits -----------------------------------------------


@model_wrapper
class DigitsNet(nn.Module):
    """6 samples: hidden in {16, 32, 64} (shared label) x act in {ReLU, Tanh}."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(64, nn.ValueChoice([16, 32, 64], label="hidden"))
        self.act = nn.LayerChoice([nn.ReLU(), nn.Tanh()], label="act")
        self.fc2 = nn.Linear(nn.ValueChoice([16, 32, 64], label="hidden"), 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


def load_digits_tensors() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return torch.tensor(X, dtype=torch.float32) / 16, torch.tensor(y)


def fit_digits(model: Any, epochs: int, delay: float = 0.0) -> None:
    """Full-batch Adam on 1400 digits; intermediate = training loss, final = test accuracy."""
    torch.manual_seed(0)
    X, y = load_digits_tensors()
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    for _ in range(epochs):
        opt.zero_grad()
        loss = F.cross_entropy(model(X[:1400]), y[:1400])
        loss.backward()
        opt.step()
        retiarii.report_intermediate_result(loss.item())
    if delay:
        time.sleep(delay)
    with torch.no_grad():
        acc = (model(X[1400:]).argmax(1) == y[1400:]).float().mean().item()
    print("accuracy", acc)
    retiarii.report_final_result(acc)


# -- a tiny space with a deterministic score --------------------------------------------------------


@model_wrapper
class TinyNet(nn.Module):
    """6 samples: width in {1, 2, 3} x act in {ReLU, Tanh}."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, nn.ValueChoice([1, 2, 3], label="width"))
        self.act = nn.LayerChoice([nn.ReLU(), nn.Tanh()], label="act")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.fc(x))


def tiny_score(model: Any) -> float:
    """A number that depends only on the architecture: 10 * width + (1 if Tanh)."""
    return 10.0 * model.fc.out_features + (1.0 if isinstance(model.act, torch.nn.Tanh) else 0.0)


def score_tiny(model: Any, delay: float = 0.0) -> None:
    """Deterministic: two intermediates, then the score (after ``delay`` seconds)."""
    score = tiny_score(model)
    retiarii.report_intermediate_result(score / 4)
    retiarii.report_intermediate_result(score / 2)
    if delay:
        time.sleep(delay)
    retiarii.report_final_result(score)


# -- a wide one-label space for budget and resume tests -----------------------------------------------


@model_wrapper
class WideNet(nn.Module):
    """``width`` in 1..12: 12 samples, one label."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2, nn.ValueChoice(list(range(1, 13)), label="width"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


def sleepy_width(model: Any, seconds: float) -> None:
    """Sleep, then report the width as the final metric."""
    retiarii.report_intermediate_result(0.0)
    time.sleep(seconds)
    retiarii.report_final_result(float(model.fc.out_features))


# -- failure paths: behaviour picked by the width of the sampled model ------------------------------


@model_wrapper
class ModeNet(nn.Module):
    """``mode`` in 1..8; :func:`misbehave` maps each to a behaviour."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2, nn.ValueChoice([1, 2, 3, 4, 5, 6, 7, 8], label="mode"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


def misbehave(model: Any, behaviours: dict[int, str]) -> None:
    """Do what ``behaviours[width]`` says (default ``ok``: report the width)."""
    width = model.fc.out_features
    what = behaviours.get(width, "ok")
    print(f"mode {width}: {what}", flush=True)
    if what == "raise":
        raise RuntimeError(f"evaluator exploded on purpose (mode {width})")
    if what == "exit":
        os._exit(1)
    if what == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    if what == "hang":
        time.sleep(120)
    if what == "nonnumber":
        retiarii.report_final_result("high")
        return
    if what == "nan":
        retiarii.report_final_result(float("nan"))
        return
    if what == "inf_intermediate":
        retiarii.report_intermediate_result(float("inf"))
    if what == "inf":
        retiarii.report_final_result(float("inf"))
        return
    retiarii.report_final_result(float(width))


def crash_first_attempt(model: Any, flags: str, modes: list[int]) -> None:
    """For a width in ``modes``, the first attempt kills its worker; later ones succeed."""
    width = model.fc.out_features
    flag = os.path.join(flags, str(width))
    if width in modes and not os.path.exists(flag):
        open(flag, "w").close()
        os.kill(os.getpid(), signal.SIGKILL)
    retiarii.report_final_result(float(width))


# -- classic mutators (seeds 000/002) ------------------------------------------------------------------


class MutableBase(nn.Module):
    """A plain base model whose ``act`` and ``scale`` the mutator replaces."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.act = nn.Identity()
        self.scale = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.fc(x)) * self.scale


class ActMutator(retiarii.Mutator):
    """Two decisions: the activation (modules, chosen by index) and a scale (JSON values)."""

    def mutate(self, model: Any) -> None:
        model.act = self.choice([nn.ReLU(), nn.Tanh(), nn.Sigmoid()])
        model.scale = self.choice([1, 2])


ACT_NAMES = ["ReLU", "Tanh", "Sigmoid"]


def report_structure(model: Any) -> None:
    """Report which activation and scale the trial's model has (as extra keys of the metric)."""
    name = type(model.act).__name__
    out = model(torch.ones(1, 4))
    assert out.shape == (1, 3)
    retiarii.report_final_result(
        {"default": ACT_NAMES.index(name) * 10 + model.scale, "act": name, "scale": model.scale}
    )


# -- dashboard escaping ---------------------------------------------------------------------------------

XSS_LABEL = "<img src=x onerror=alert(1)>"


@model_wrapper
class XssNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2, nn.ValueChoice([1, 2], label=XSS_LABEL))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


def report_width(model: Any) -> None:
    retiarii.report_intermediate_result(0.5)
    retiarii.report_final_result(float(model.fc.out_features))


def fit_digits_unseeded(model: Any, steps: int = 5) -> None:
    """Like ``fit_digits`` but without its own seeding: initial weights and the minibatch order
    come from the trial's seed; the final metric is the training loss at full precision."""
    X, y = load_digits_tensors()
    opt = torch.optim.SGD(model.parameters(), 0.1)
    for _ in range(steps):
        batch = torch.randint(0, 1400, (64,))
        opt.zero_grad()
        loss = F.cross_entropy(model(X[batch]), y[batch])
        loss.backward()
        opt.step()
    retiarii.report_final_result(loss.item())


def print_a_lot(model: Any, megabytes: int = 4) -> float:
    """Print ``megabytes`` MB over about a second, then finish normally."""
    print("START OF THE TRIAL", flush=True)
    for i in range(megabytes * 10):
        print(f"chunk {i} " + "z" * 100_000, flush=True)
        time.sleep(0.02)
    print("END OF THE TRIAL", flush=True)
    return 1.0


def fill_the_disk_once(model: Any, marker: str) -> float:
    """The first time (no ``marker`` yet): fill the trial's disk to the last byte, as a runaway
    checkpoint would; then report like any trial."""
    from retiarii.execution import current_trial_dir

    if not os.path.exists(marker):
        open(marker, "w").close()
        with open(os.path.join(current_trial_dir() or ".", "filler.bin"), "wb") as filler:
            try:
                while True:
                    filler.write(b"\0" * 65536)
                    filler.flush()
            except OSError:  # ENOSPC: the disk is full now
                pass
    retiarii.report_intermediate_result(0.5)
    return tiny_score(model)


def report_pid(model: Any) -> float:
    """The worker's pid as the metric: which process ran the trial."""
    return float(os.getpid())
