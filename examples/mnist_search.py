"""Training/evaluation function used by the MNIST demo (runs inside the trial workers)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

import retiarii
from retiarii.data import MNIST


def train_and_test(
    model: torch.nn.Module,
    mnist_root: str | None,
    train_size: int = 6000,
    test_size: int = 2000,
    epochs: int = 1,
    batch_size: int = 64,
    lr: float = 1e-3,
) -> float:
    """Train ``model`` on the first ``train_size`` MNIST images; report test accuracy per epoch."""
    torch.manual_seed(0)
    train = MNIST(mnist_root, train=True, limit=train_size)
    test = MNIST(mnist_root, train=False, limit=test_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    accuracy = 0.0
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(train))
        for start in range(0, len(train), batch_size):
            idx = order[start : start + batch_size]
            optimizer.zero_grad()
            F.cross_entropy(model(train.images[idx]), train.labels[idx]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            correct = sum(
                (model(test.images[i : i + 500]).argmax(1) == test.labels[i : i + 500]).sum().item()
                for i in range(0, len(test), 500)
            )
        accuracy = correct / len(test)
        retiarii.report_intermediate_result(accuracy)
    retiarii.report_final_result(accuracy)
    return accuracy
