"""The dashboard's view of numerical labels (joint hyperparameter search)."""

from __future__ import annotations

from types import SimpleNamespace

from retiarii.dashboard.views import space_view


def test_numerical_labels_have_bounds_not_candidates() -> None:
    record = SimpleNamespace(
        search_space={
            "hidden": {"_type": "choice", "_value": [16, 32]},
            "lr": {"_type": "loguniform", "_value": [1e-4, 1e-1]},
            "drop": {"_type": "uniform", "_value": [0.0, 0.5]},
            "wd": {"_type": "quniform", "_value": [0.0, 1.0, 0.25]},
            "layers": {"_type": "randint", "_value": [1, 4]},
        },
        info={"space_size": "inf"},
    )
    view = space_view(record)  # type: ignore[arg-type]
    rows = {row["label"]: row for row in view["labels"]}
    assert view["size"] == "inf"
    assert rows["lr"]["numeric"] == {"bounds": [1e-4, 1e-1], "log": True}
    assert rows["lr"]["candidates"] is None and rows["lr"]["size"] is None
    assert rows["drop"]["numeric"]["log"] is False
    assert rows["wd"]["size"] == 5
    assert rows["layers"]["candidates"] == [1, 2, 3] and rows["layers"]["size"] == 3
    assert "numeric" not in rows["hidden"]
