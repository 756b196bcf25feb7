"""The experiment dashboard: a read-only web view over an experiment's store.

Served while an experiment runs (``exp.run(config, port)``) and by ``retiarii view DIR`` for any
finished or running experiment; it binds to 127.0.0.1 unless told otherwise. It reads only the
experiment directory: the store (opened read-only, so it follows a running experiment through
SQLite's WAL) and the trial logs the store points to. Pages: an overview, a sortable and
filterable trial table, a page per trial, charts over all trials and, for one-shot experiments,
training curves and architecture probabilities. It needs the ``dashboard`` extra (FastAPI,
uvicorn, plotly); ``plotly.min.js`` is served from the installed ``plotly`` package, so nothing
is fetched from the internet.

One-shot series
---------------
A one-shot trainer publishes its progress through ``ExperimentStore.add_series(name, value,
step=None, epoch=None)``; the dashboard's *One-shot* page plots these names:

=========================  ===================================  ====================================
name                       value (one point per step or epoch)  shown as
=========================  ===================================  ====================================
``loss``                   a number                             "Loss" chart, one line per series
``loss/<split>``           a number (e.g. ``loss/train``,       the same chart
                           ``loss/val``)
``metric/<name>``          a number (e.g. ``metric/accuracy``)  "Metrics" chart, one line each
``arch_prob/<label>``      ``{candidate: probability}``         one chart per label: each
                                                                candidate's probability over time
``arch/selected``          a sample ``{label: value}``          the latest as "current architecture"
anything else              a number / other JSON                a line chart / its latest value
=========================  ===================================  ====================================

* The x axis is ``epoch`` when every point of a series has one, else ``step``. Give ``epoch``
  for per-epoch series; ``step`` is assigned (0, 1, ...) when omitted.
* ``<label>`` is the label as in a sample; candidate keys are strings: the candidate's name for
  a ``LayerChoice`` given as a dict, else its index or value written as JSON (``"0"``, ``"3"``,
  ``"max_pool"``). For an ``InputChoice`` use the input index. Probabilities need not sum to 1.
* Everything is plain JSON: no tensors (call ``.item()`` / ``.tolist()`` first).

Example (in a trainer, once per epoch)::

    store.add_series("loss/train", float(loss), epoch=epoch)
    store.add_series("metric/accuracy", float(acc), epoch=epoch)
    for label, probs in alphas.items():  # probs: a 1-d tensor of softmax weights
        store.add_series(f"arch_prob/{label}", {str(i): float(p) for i, p in enumerate(probs)},
                         epoch=epoch)
    store.add_series("arch/selected", trainer.export(), epoch=epoch)

Everything else the dashboard shows comes from the store's experiment, trial and intermediate
tables; see :mod:`retiarii.dashboard.app` for the JSON API.
"""

from __future__ import annotations

from .process import DashboardProcess
from .server import DashboardServer, serve_dashboard

__all__ = ["DashboardProcess", "DashboardServer", "serve_dashboard"]
