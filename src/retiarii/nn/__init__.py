"""PyTorch model spaces live in :mod:`retiarii.nn.pytorch`."""
