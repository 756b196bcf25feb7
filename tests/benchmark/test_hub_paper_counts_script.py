"""``benchmarks/hub_paper_counts.py``: the authors' own counts behind the hub's two known gaps."""

from __future__ import annotations

import pytest

from .conftest import load_script


def test_authors_counts_agree_with_ours_where_the_networks_agree(
    capsys: pytest.CaptureFixture[str],
) -> None:
    script = load_script("hub_paper_counts.py", "hub_paper_counts_script")
    # ENAS's network without its extra 1x1 conv is NDS's: same count; AutoFormer's rule = torch's
    assert script.main() == 0
    out = capsys.readouterr().out
    assert "cifar10_micro_final.sh: 3.894M, with aux head 4.389M" in out
    assert "AutoFormer's rule: 5.868M" in out


def test_enas_arc_reads_an_nds_sample() -> None:
    script = load_script("hub_paper_counts.py", "hub_paper_counts_script")
    sample = {f"normal/{kind}_{n}_{j}": ([n - 1] if kind == "input" else "skip_connect")
              for n in range(2, 7) for j in range(2) for kind in ("input", "op")}  # fmt: skip
    assert script.enas_arc_of_sample(sample, "normal")[:4] == [1, 4, 1, 4]
