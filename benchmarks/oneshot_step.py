"""Time per search step of each one-shot trainer vs the same step written by hand in PyTorch.

For every algorithm, the trainer (``retiarii.oneshot.pytorch``) and a hand-written supernet
(``HandSupernet``: the same candidate modules in plain ``ModuleList``s, the same initial weights)
run the same math on the same batches, side by side in one process, interleaved (A B B A ...):

* darts / darts_unrolled / gumbel_darts: an architecture step on a validation batch (Adam on
  alpha, backward into alpha only; second order: virtual SGD step + finite-difference Hessian)
  and a weight step on a training batch (backward into the weights only, grad clip 5, SGD);
* enas: per batch, a weight step on a controller-sampled path and a REINFORCE controller sample
  on a validation batch (LSTM controller, reward = accuracy, update every 20 samples);
* proxyless: an architecture step with two gated paths per choice and a weight step on one path;
* spos: a weight step on a uniformly sampled path;
* darts_kernels: first-order DARTS on ``KernelSpace`` (4 convolutions whose kernel size, 3 or 5,
  is a value choice), against the hand-written mixed zero-padded kernels;
* proxyless_kernels: ProxylessNAS on ``KernelSpace``: an architecture step with the two kernels
  of every convolution behind binary gates (``(g3 * pad(centre 3x3 of W) + g5 * W)``) and a
  weight step on one sampled kernel, against the same written by hand.

The trainer side is ``trainer.train_epoch`` over in-memory batches (so it includes everything a
real epoch does per step: device moves, metrics, meters); the hand side computes the same
per-step metrics (accuracy and ``loss.item()``). Both sides are reseeded alike before every timed
epoch (and the hand-written ENAS controller starts from the trainer's controller weights), so the
sampling algorithms run the same paths on both sides. Reported: the median over ``--repeats`` of the
per-step time of each side and of their ratio (goal: <= 1.05).

Usage: python benchmarks/oneshot_step.py [--steps 10] [--repeats 15] [--only darts,spos]
"""

from __future__ import annotations

import argparse
import copy
import math
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn as tnn
import torch.nn.functional as F

import retiarii.nn.pytorch as nn
from retiarii import model_wrapper
from retiarii.oneshot.pytorch import (
    DartsTrainer,
    EnasTrainer,
    GumbelDartsTrainer,
    ProxylessTrainer,
    SinglePathTrainer,
)

try:
    from _common import machine_line, write_results
    from oneshot_common import (
        NODES,
        BenchSpace,
        C,
        HandSupernet,
        accuracy,
        batches,
        dataset,
        threads,
    )
except ImportError:  # run as a module
    from benchmarks._common import machine_line, write_results
    from benchmarks.oneshot_common import (
        NODES,
        BenchSpace,
        C,
        HandSupernet,
        accuracy,
        batches,
        dataset,
        threads,
    )

N_OPS = 4
LR, MOMENTUM, DECAY = 0.025, 0.9, 3e-4


def weight_optimizer(params: Any) -> torch.optim.SGD:
    return torch.optim.SGD(params, lr=LR, momentum=MOMENTUM, weight_decay=DECAY)


class Hand:
    """A hand-written supernet step: subclasses write ``forward`` and ``step`` in plain PyTorch."""

    def __init__(self, space: BenchSpace) -> None:
        self.net = HandSupernet(space)
        self.weights = [p for p in self.net.parameters() if p.requires_grad]
        self.w_opt = weight_optimizer(self.weights)

    def cells(
        self,
        x: torch.Tensor,
        edge: Callable[[int, Any], Any],
        pick: Callable[[int, list[Any]], Any],
    ) -> Any:
        net = self.net
        states = [net.stem(x)]
        for i in range(len(net.edges)):
            h = states[-1] if i == 0 else pick(i - 1, [states[-1], states[-2]])
            states.append(edge(i, h))
        return net.head(states[-1].mean((2, 3)))

    def weight_step(
        self, x: torch.Tensor, y: torch.Tensor, inputs: bool = True, clip: float = 5.0
    ) -> Any:
        self.w_opt.zero_grad()
        logits = self.forward(x)
        loss = F.cross_entropy(logits, y)
        if inputs:
            torch.autograd.backward(loss, inputs=self.weights)
        else:
            loss.backward()
        if clip > 0:
            tnn.utils.clip_grad_norm_(self.weights, clip)
        self.w_opt.step()
        return logits, loss

    def forward(self, x: torch.Tensor) -> Any:
        raise NotImplementedError

    def epoch(self, train: list[Any], valid: list[Any]) -> None:
        loss_sum = acc_sum = 0.0
        for trn, val in zip(train, valid):
            logits, loss = self.step(trn, val)
            acc_sum += accuracy(logits, trn[1])["acc"]
            loss_sum += loss.item()

    def step(self, trn: Any, val: Any) -> Any:
        raise NotImplementedError


# -- DARTS ---------------------------------------------------------------------------------------
def mix(outputs: list[Any], w: torch.Tensor) -> Any:
    ws = w.unbind()
    out = outputs[0] * ws[0]
    for o, wi in zip(outputs[1:], ws[1:]):
        out = out + o * wi
    return out


class HandDarts(Hand):
    def __init__(
        self,
        space: BenchSpace,
        alphas: list[torch.Tensor],
        unrolled: bool = False,
        tau: float | None = None,
    ) -> None:
        super().__init__(space)
        self.alphas = [tnn.Parameter(a.detach().clone()) for a in alphas]
        self.a_opt = torch.optim.Adam(self.alphas, 3e-4, betas=(0.5, 0.999), weight_decay=1e-3)
        self.unrolled = unrolled
        self.tau = tau
        self.noise: list[Any] = [0.0] * len(self.alphas)
        n = len(self.net.edges)
        self.edge_alphas, self.input_alphas = self.alphas[:n], self.alphas[n:]

    def weights_of(self, j: int) -> torch.Tensor:
        a = self.alphas[j]
        if self.tau is None:
            return F.softmax(a, -1)
        return F.softmax((a + self.noise[j]) / self.tau, -1)

    def forward(self, x: torch.Tensor) -> Any:
        if self.tau is not None:
            self.noise = [
                -torch.log(-torch.log(torch.rand_like(a).clamp_(1e-10, 1.0))) for a in self.alphas
            ]
        n = len(self.net.edges)
        return self.cells(
            x,
            lambda i, h: mix([op(h) for op in self.net.edges[i]], self.weights_of(i)),
            lambda j, hs: mix(hs, self.weights_of(n + j)),
        )

    def step(self, trn: Any, val: Any) -> Any:
        self.a_opt.zero_grad()
        if self.unrolled:
            self.unrolled_backward(trn, val)
        else:
            loss = F.cross_entropy(self.forward(val[0]), val[1])
            torch.autograd.backward(loss, inputs=self.alphas)
        self.a_opt.step()
        return self.weight_step(*trn)

    def unrolled_backward(self, trn: Any, val: Any) -> None:
        w = self.weights
        backup = [p.detach().clone() for p in w]
        grads = torch.autograd.grad(
            F.cross_entropy(self.forward(trn[0]), trn[1]), w, allow_unused=True
        )
        with torch.no_grad():
            for p, g in zip(w, grads):
                if g is None:
                    continue
                d = g + DECAY * p
                buf = self.w_opt.state.get(p, {}).get("momentum_buffer")
                if buf is not None:
                    d = d + MOMENTUM * buf
                p.sub_(LR * d)
        grads = torch.autograd.grad(
            F.cross_entropy(self.forward(val[0]), val[1]), [*w, *self.alphas], allow_unused=True
        )
        dw, dalpha = grads[: len(w)], grads[len(w) :]
        v = [None if g is None else LR * g for g in dw]
        with torch.no_grad():
            for p, b in zip(w, backup):
                p.copy_(b)
        eps = 0.01 / float(torch.cat([g.reshape(-1) for g in v if g is not None]).norm())
        sides = []
        for coef in (eps, -2 * eps):
            with torch.no_grad():
                for p, g in zip(w, v):
                    if g is not None:
                        p.add_(g, alpha=coef)
            sides.append(
                torch.autograd.grad(
                    F.cross_entropy(self.forward(trn[0]), trn[1]), self.alphas, allow_unused=True
                )
            )
        with torch.no_grad():
            for p, b in zip(w, backup):
                p.copy_(b)
        for a, da, pos, neg in zip(self.alphas, dalpha, *sides):
            a.grad = da - (pos - neg) / (2 * eps)


# -- sampling: SPOS, ENAS --------------------------------------------------------------------------
class HandPath(Hand):
    def __init__(self, space: BenchSpace) -> None:
        super().__init__(space)
        self.rng = random.Random(0)
        self.path = [0] * len(self.net.edges)
        self.picks = [0] * (len(self.net.edges) - 1)

    def forward(self, x: torch.Tensor) -> Any:
        return self.cells(
            x, lambda i, h: self.net.edges[i][self.path[i]](h), lambda j, hs: hs[self.picks[j]]
        )


class HandSpos(HandPath):
    def step(self, trn: Any, val: Any) -> Any:
        self.path = [self.rng.randrange(self.net.n_ops) for _ in self.path]
        self.picks = [self.rng.sample(range(2), 1)[0] for _ in self.picks]  # as InputChoice draws
        return self.weight_step(*trn, inputs=False, clip=0.0)


class HandEnas(HandPath):
    """An ENAS controller (one LSTM cell) written out, with NNI's defaults; its initial weights
    are copied from ``controller`` so that both sides sample the same paths."""

    def __init__(self, space: BenchSpace, controller: tnn.Module) -> None:
        super().__init__(space)
        sizes = [self.net.n_ops] * len(self.net.edges) + [2] * len(self.picks)
        self.lstm = tnn.LSTMCell(64, 64, bias=False)
        self.g_emb = tnn.Parameter(torch.randn(1, 64) * 0.1)
        self.soft = tnn.ModuleList(tnn.Linear(64, n, bias=False) for n in sizes)
        self.emb = tnn.ModuleList(tnn.Embedding(n, 64) for n in sizes)
        with torch.no_grad():
            self.lstm.load_state_dict(controller.lstm[0].state_dict())
            self.g_emb.copy_(controller.g_emb)
            self.soft.load_state_dict(controller.soft.state_dict())
            self.emb.load_state_dict(controller.embedding.state_dict())
        params = [
            *self.lstm.parameters(),
            self.g_emb,
            *self.soft.parameters(),
            *self.emb.parameters(),
        ]
        self.c_opt = torch.optim.Adam(params, lr=3.5e-4)
        self.c_params = params
        self.baseline: float | None = None
        self.count = 0

    def sample(self) -> tuple[list[int], torch.Tensor, torch.Tensor]:
        x, h, c = self.g_emb, torch.zeros(1, 64), torch.zeros(1, 64)
        out, log_prob, entropy = [], torch.zeros(()), torch.zeros(())
        for soft, emb in zip(self.soft, self.emb):
            h, c = self.lstm(x, (h, c))
            logit = 1.5 * torch.tanh(soft(h).view(-1))
            logp = F.log_softmax(logit, -1)
            k = int(torch.multinomial(logp.exp(), 1))
            log_prob = log_prob + logp[k]
            entropy = entropy - (logp.exp() * logp).sum().detach()
            out.append(k)
            x = emb(torch.tensor([k]))
        return out, log_prob, entropy

    def apply(self, decisions: list[int]) -> None:
        n = len(self.path)
        self.path, self.picks = decisions[:n], decisions[n:]

    def epoch(self, train: list[Any], valid: list[Any]) -> None:
        loss_sum = acc_sum = reward_sum = 0.0
        for step, (trn, (x, y)) in enumerate(zip(train, valid)):
            self.net.train()
            with torch.no_grad():
                self.apply(self.sample()[0])
            logits, loss = self.weight_step(*trn, inputs=False)
            acc_sum += accuracy(logits, trn[1])["acc"]
            loss_sum += loss.item()
            decisions, log_prob, entropy = self.sample()
            self.apply(decisions)
            self.net.eval()
            with torch.no_grad():
                logits = self.forward(x)
            self.net.train()
            reward = accuracy(logits, y)["acc"] + 1e-4 * float(entropy)
            self.baseline = reward if self.baseline is None else self.baseline
            self.baseline = self.baseline * 0.999 + reward * 0.001
            torch.autograd.backward(-log_prob * (reward - self.baseline) / 20, inputs=self.c_params)
            if (step + 1) % 20 == 0:
                tnn.utils.clip_grad_norm_(self.c_params, 5.0)
                self.c_opt.step()
                self.c_opt.zero_grad()
            reward_sum += reward


# -- Proxyless -------------------------------------------------------------------------------------
class HandProxyless(Hand):
    def __init__(self, space: BenchSpace, alphas: list[torch.Tensor]) -> None:
        super().__init__(space)
        self.alphas = [tnn.Parameter(a.detach().clone()) for a in alphas]
        self.a_opt = torch.optim.Adam(self.alphas, lr=1e-3, betas=(0.0, 0.999), eps=1e-8)
        self.rng = random.Random(0)
        self.state: list[Any] = [None] * len(self.alphas)

    def forward(self, x: torch.Tensor) -> Any:
        n = len(self.net.edges)

        def edge(i: int, h: Any) -> Any:
            state = self.state[i]
            ops = self.net.edges[i]
            if isinstance(state, int):
                return ops[state](h)
            (a, b), (ga, gb) = state
            return ops[a](h) * ga + ops[b](h) * gb

        def pick(j: int, hs: list[Any]) -> Any:
            state = self.state[n + j]
            if isinstance(state, int):
                return hs[state]
            (a, b), (ga, gb) = state
            return hs[a] * ga + hs[b] * gb

        return self.cells(x, edge, pick)

    def sample_one(self) -> None:
        for j, alpha in enumerate(self.alphas):
            probs = F.softmax(alpha.detach(), -1).tolist()
            self.state[j] = self.rng.choices(range(len(probs)), weights=probs)[0]

    def sample_two(self) -> None:
        for j, alpha in enumerate(self.alphas):
            probs = F.softmax(alpha.detach(), -1).tolist()
            n = len(probs)
            a = self.rng.choices(range(n), weights=probs)[0]
            rest = [i for i in range(n) if i != a]
            b = self.rng.choices(rest, weights=[probs[i] for i in rest])[0]
            p = F.softmax(alpha[[a, b]], -1)
            hard = torch.tensor(
                [1.0, 0.0] if self.rng.random() < float(p[0].detach()) else [0.0, 1.0]
            )
            self.state[j] = ((a, b), (hard - p.detach() + p).unbind())

    def step(self, trn: Any, val: Any) -> Any:
        self.sample_two()
        self.a_opt.zero_grad()
        loss = F.cross_entropy(self.forward(val[0]), val[1])
        torch.autograd.backward(loss, inputs=self.alphas)
        pairs = [s[0] for s in self.state]
        old = [alpha.detach()[list(p)].clone() for alpha, p in zip(self.alphas, pairs)]
        self.a_opt.step()
        with torch.no_grad():
            for alpha, p, before in zip(self.alphas, pairs, old):
                index = list(p)
                alpha[index] -= torch.logsumexp(alpha[index], 0) - torch.logsumexp(before, 0)
        self.sample_one()
        return self.weight_step(*trn, clip=0.0)


# -- value choices: kernel sizes mixed as zero-padded kernels ----------------------------------------
@model_wrapper
class KernelSpace(nn.Module):
    """A stem and ``NODES`` convolutions whose kernel sizes (3 or 5) are value choices."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, C, 3, padding=1)
        kernels = [nn.ValueChoice([3, 5], label=f"k{i}") for i in range(NODES)]
        self.convs = nn.ModuleList(nn.Conv2d(C, C, k, padding=k // 2) for k in kernels)
        self.head = nn.Linear(C, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for conv in self.convs:
            x = F.relu(conv(x))
        return self.head(x.mean((2, 3)))


class HandKernels(Hand):
    """First-order DARTS on ``KernelSpace`` written by hand: each convolution runs once with
    ``p3 * pad(centre 3x3 of W) + p5 * W``."""

    def __init__(self, space: KernelSpace, alphas: list[torch.Tensor]) -> None:
        space = copy.deepcopy(space)
        self.stem, self.head = space.stem, space.head
        self.convs = [(c.weight, c.bias) for c in space.convs]
        self.weights = [p for p in space.parameters() if p.requires_grad]
        self.w_opt = weight_optimizer(self.weights)
        self.alphas = [tnn.Parameter(a.detach().clone()) for a in alphas]
        self.a_opt = torch.optim.Adam(self.alphas, 3e-4, betas=(0.5, 0.999), weight_decay=1e-3)
        self.centre = torch.zeros(1, 1, 5, 5)
        self.centre[..., 1:4, 1:4] = 1.0
        self.net = space

    def forward(self, x: torch.Tensor) -> Any:
        x = self.stem(x)
        for (w, b), a in zip(self.convs, self.alphas):
            p = F.softmax(a, -1)
            x = F.relu(F.conv2d(x, (p[0] * self.centre + p[1]) * w, b, padding=2))
        return self.head(x.mean((2, 3)))

    def step(self, trn: Any, val: Any) -> Any:
        self.a_opt.zero_grad()
        loss = F.cross_entropy(self.forward(val[0]), val[1])
        torch.autograd.backward(loss, inputs=self.alphas)
        self.a_opt.step()
        return self.weight_step(*trn)


class HandProxylessKernels(HandKernels):
    """ProxylessNAS on ``KernelSpace`` written by hand: the architecture step convolves with
    ``g3 * pad(centre 3x3 of W) + g5 * W`` and adds the bias once (``g3 + g5`` is always 1, so
    mixing the bias adds nothing, not even a gradient), gates ``g`` binary with a straight-through gradient; the weight step
    convolves with the sampled kernel only."""

    sample_one = HandProxyless.sample_one
    sample_two = HandProxyless.sample_two
    step = HandProxyless.step

    def __init__(self, space: KernelSpace, alphas: list[torch.Tensor]) -> None:
        super().__init__(space, alphas)
        self.a_opt = torch.optim.Adam(self.alphas, lr=1e-3, betas=(0.0, 0.999), eps=1e-8)
        self.rng = random.Random(0)
        self.state: list[Any] = [None] * len(self.alphas)

    def forward(self, x: torch.Tensor) -> Any:
        x = self.stem(x)
        for (w, b), state in zip(self.convs, self.state):
            if isinstance(state, int):  # one kernel: 3x3 (the centre) or 5x5
                x = F.relu(F.conv2d(x, w[..., 1:4, 1:4] if state == 0 else w, b, padding=1 + state))
                continue
            (a, _), (ga, gb) = state
            g3, g5 = (ga, gb) if a == 0 else (gb, ga)
            x = F.relu(F.conv2d(x, (g3 * self.centre + g5) * w, b, padding=2))
        return self.head(x.mean((2, 3)))


# -- the pairs ---------------------------------------------------------------------------------------
def build(
    name: str, train: list[Any], valid: list[Any]
) -> tuple[Callable[[], Any], Callable[[], Any], Callable[[int], None]]:
    """The trainer's epoch, the hand-written epoch, and ``reseed(r)``: the same seeds for both
    sides (torch's and each side's own ``random.Random``), so that the sampling algorithms draw
    the same paths on both sides."""
    torch.manual_seed(0)
    space = BenchSpace(N_OPS)
    hand_space = copy.deepcopy(space)  # the same initial weights, copied before the replacement
    opt = weight_optimizer(space.parameters())
    loss = F.cross_entropy
    if name in ("darts", "darts_unrolled", "gumbel_darts"):
        cls = GumbelDartsTrainer if name == "gumbel_darts" else DartsTrainer
        kwargs: dict[str, Any] = {"unrolled": True} if name == "darts_unrolled" else {}
        trainer: Any = cls(space, loss, accuracy, opt, 1, dataset(), batch_size=32, **kwargs)
        alphas = list(trainer.arch_parameters().values())
        hand: Hand = HandDarts(
            hand_space,
            alphas,
            unrolled=name == "darts_unrolled",
            tau=1.0 if name == "gumbel_darts" else None,
        )
    elif name in ("darts_kernels", "proxyless_kernels"):
        space = KernelSpace()
        hand_space = copy.deepcopy(space)
        opt = weight_optimizer(space.parameters())
        proxyless = name == "proxyless_kernels"
        trainer_class = ProxylessTrainer if proxyless else DartsTrainer
        trainer = trainer_class(space, loss, accuracy, opt, 1, dataset(), batch_size=32)
        hand_class = HandProxylessKernels if proxyless else HandKernels
        hand = hand_class(hand_space, list(trainer.arch_parameters().values()))
    elif name == "enas":
        trainer = EnasTrainer(
            space,
            loss,
            accuracy,
            lambda o, t: accuracy(o, t)["acc"],
            opt,
            1,
            dataset(),
            batch_size=32,
        )
        hand = HandEnas(hand_space, trainer.controller)
    elif name == "proxyless":
        trainer = ProxylessTrainer(space, loss, accuracy, opt, 1, dataset(), batch_size=32)
        hand = HandProxyless(hand_space, list(trainer.arch_parameters().values()))
    elif name == "spos":
        trainer = SinglePathTrainer(space, loss, accuracy, opt, 1, dataset(), batch_size=32)
        hand = HandSpos(hand_space)
    else:
        raise ValueError(name)
    trainer.train_loader, trainer.valid_loader = train, valid
    trainer.model.train()
    hand.net.train()

    def reseed(r: int) -> None:
        torch.manual_seed(r)
        for side in (trainer.algorithm, hand):
            if hasattr(side, "rng"):
                side.rng = random.Random(r)

    return (lambda: trainer.train_epoch(0)), (lambda: hand.epoch(train, valid)), reseed


def check_same_math(train: list[Any], valid: list[Any]) -> float:
    """First-order DARTS, one step each from the same weights: the losses must agree."""
    torch.manual_seed(0)
    space = BenchSpace(N_OPS)
    hand_space = copy.deepcopy(space)
    trainer = DartsTrainer(
        space,
        F.cross_entropy,
        accuracy,
        weight_optimizer(space.parameters()),
        1,
        dataset(),
        batch_size=32,
    )
    hand = HandDarts(hand_space, list(trainer.arch_parameters().values()))
    a = trainer.search_step(train[0], valid[0])
    _, b = hand.step(train[0], valid[0])
    a = trainer.search_step(train[1], valid[1])
    _, b = hand.step(train[1], valid[1])
    return abs(a.item() - b.item())


def check_same_math_proxyless_kernels(train: list[Any], valid: list[Any]) -> float:
    """ProxylessNAS on value-choice kernels, two steps each from the same weights and seeds: the
    losses and the architecture parameters must agree."""
    torch.manual_seed(0)
    space = KernelSpace()
    hand_space = copy.deepcopy(space)
    opt = weight_optimizer(space.parameters())
    trainer = ProxylessTrainer(space, F.cross_entropy, accuracy, opt, 1, dataset(), batch_size=32)
    hand = HandProxylessKernels(hand_space, list(trainer.arch_parameters().values()))
    trainer.algorithm.rng = random.Random(5)  # type: ignore[attr-defined]
    hand.rng = random.Random(5)
    gap = 0.0
    for i in range(2):
        a = trainer.search_step(train[i], valid[i])
        _, b = hand.step(train[i], valid[i])
        gap = max(gap, abs(a.item() - b.item()))
    for x, y in zip(trainer.arch_parameters().values(), hand.alphas):
        gap = max(gap, float((x.detach() - y.detach()).abs().max()))
    return gap


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=10, help="steps per timed epoch")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument(
        "--only",
        default="darts,darts_unrolled,gumbel_darts,darts_kernels,enas,proxyless,proxyless_kernels,spos",
    )
    args = parser.parse_args()
    n_threads = threads()
    train, valid = batches(args.steps, seed=1), batches(args.steps, seed=2)
    gap = check_same_math(train, valid)
    print(f"same math check (DARTS, 2 steps): |loss difference| = {gap:.2e}")
    assert gap < 1e-4, gap
    gap_pk = check_same_math_proxyless_kernels(train, valid)
    print(f"same math check (Proxyless on value-choice kernels, 2 steps): {gap_pk:.2e}")
    assert gap_pk < 1e-4, gap_pk
    rows: list[dict[str, object]] = []
    for name in args.only.split(","):
        framework, hand, reseed = build(name, train, valid)
        for fn in (framework, hand):  # warm-up
            reseed(0)
            fn()
        times: dict[str, list[float]] = {"retiarii": [], "hand": []}
        ratios = []
        for r in range(args.repeats):
            order = [("retiarii", framework), ("hand", hand)]
            if r % 2:
                order.reverse()
            got = {}
            for side, fn in order:
                reseed(r + 1)
                start = time.perf_counter()
                fn()
                got[side] = (time.perf_counter() - start) / args.steps
                times[side].append(got[side])
            ratios.append(got["retiarii"] / got["hand"])
        q = statistics.quantiles(ratios, n=4)
        row = {
            "algorithm": name,
            "retiarii_ms_per_step": round(statistics.median(times["retiarii"]) * 1e3, 2),
            "hand_ms_per_step": round(statistics.median(times["hand"]) * 1e3, 2),
            "ratio_median": round(statistics.median(ratios), 3),
            "ratio_q1": round(q[0], 3),
            "ratio_q3": round(q[2], 3),
        }
        rows.append(row)
        print(row, flush=True)
    header = "| algorithm | retiarii ms/step | hand-written ms/step | ratio (median) | ratio IQR |\n|---|---|---|---|---|\n"
    lines = "".join(
        f"| {r['algorithm']} | {r['retiarii_ms_per_step']} | {r['hand_ms_per_step']} | "
        f"**{r['ratio_median']}** | {r['ratio_q1']}-{r['ratio_q3']} |\n"
        for r in rows
    )
    geo = math.exp(statistics.mean(math.log(float(r["ratio_median"])) for r in rows))  # type: ignore[arg-type]
    markdown = (
        "# One-shot search step: retiarii trainers vs hand-written PyTorch\n\n"
        f"Machine: {machine_line()}; {n_threads} intra-op thread(s). Supernet: `BenchSpace` "
        f"({N_OPS} ops per edge, 4 edges, 3 input choices, C=16, 16x16 inputs, batch 32). "
        f"{args.steps} steps per timed epoch, median of {args.repeats} interleaved repeats. "
        f"Same-math checks: DARTS losses after 2 steps differ by {gap:.1e}; Proxyless on "
        f"value-choice kernels, losses and alphas after 2 steps by {gap_pk:.1e}.\n\n"
        + header
        + lines
        + f"\nGeometric mean of the ratios: {geo:.3f} (goal: <= 1.05).\n\n"
        "`python benchmarks/oneshot_step.py` reproduces this table.\n"
    )
    csv_path, md_path = write_results("oneshot_step", rows, markdown)
    print(markdown)
    print(f"written: {csv_path}, {md_path}")


if __name__ == "__main__":
    main()
