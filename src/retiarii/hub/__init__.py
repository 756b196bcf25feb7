"""Ready-made model spaces (``retiarii.hub.pytorch``): search spaces from the literature."""
