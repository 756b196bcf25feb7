"""Loaders for the datasets used by examples, tests and benchmarks (no downloads, ever)."""

from __future__ import annotations

from .mnist import MNIST, default_mnist_root, load_mnist_arrays, read_idx

__all__ = ["MNIST", "default_mnist_root", "load_mnist_arrays", "read_idx"]
