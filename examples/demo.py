"""retiarii demo: a model space in plain PyTorch, its search space, and frozen architectures.

Run with `bash scripts/demo.sh` (sets up .venv first). Uses MNIST from ../shared/data/mnist
(or --mnist PATH / $RETIARII_MNIST).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mnist_space import MnistNet  # noqa: E402

from retiarii import ModelSpace, fixed_arch  # noqa: E402
from retiarii.data import MNIST  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", default=None, help="folder with the MNIST idx files")
    parser.add_argument("--samples", type=int, default=3)
    args = parser.parse_args()

    space = ModelSpace(MnistNet())
    print(f"model space: {space}")
    print("search space (ss-gen JSON):")
    print(json.dumps(space.to_json(), indent=2))
    print(f"size: {space.size} architectures\n")

    data = MNIST(args.mnist, train=False, limit=256)
    x, y = data.images[:256], data.labels[:256]
    for seed in range(args.samples):
        sample = space.random(seed=seed)
        with fixed_arch(sample, verbose=False):
            model = MnistNet()
        params = sum(p.numel() for p in model.parameters())
        with torch.no_grad():
            loss = torch.nn.functional.cross_entropy(model(x), y).item()
        print(f"sample {seed}: {json.dumps(sample)}")
        print(f"  -> {type(model).__name__} with {params:,} parameters, untrained loss on 256 MNIST test images {loss:.3f}")


if __name__ == "__main__":
    main()
