"""A smoke test of ``benchmarks/joint_search.py`` at tiny settings."""

from __future__ import annotations

import pytest

from .conftest import load_script


@pytest.mark.slow
def test_script_compares_arch_only_and_joint_search(capsys: pytest.CaptureFixture[str]) -> None:
    script = load_script("joint_search.py", "joint_search_script")
    argv = ["--seeds", "1", "--budget", "3", "--strategies", "Random", "TPE", "--no-write"]
    assert script.main(argv) == 0
    out = capsys.readouterr().out
    for row in ("| Random | arch-only lr=1e-3 |", "| Random | joint |", "| TPE | joint |"):
        assert row in out
    assert "Random, vs arch-only lr=1e-2: val" in out
