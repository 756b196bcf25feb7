"""The documentation site builds (``mkdocs build --strict``) and its code blocks run as written.

Each page's ``python`` blocks are joined, in order, into one script that runs in a fresh
interpreter (as a reader would paste them into a file), with ``RETIARII_HOME`` in a temporary
directory. A block may be skipped only with a visible reason on the line before it:
``<!-- docs-test: skip (why) -->``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
NB201 = ROOT.parent / "shared" / "data" / "nb201" / "nb201.csv.gz"
_BLOCK = re.compile(
    r"(<!-- docs-test: skip \((?P<why>.+?)\) -->\n)?```python\n(?P<code>.*?)```", re.S
)


def _page_blocks(page: Path) -> tuple[list[str], list[str]]:
    run, skipped = [], []
    for match in _BLOCK.finditer(page.read_text()):
        (skipped if match["why"] else run).append(match["why"] or match["code"])
    return run, skipped


PAGES = sorted(p for p in DOCS.glob("*.md") if _page_blocks(p)[0])


def test_every_page_with_code_is_run_and_skips_are_few() -> None:
    assert {p.name for p in PAGES} >= {"index.md", "quickstart.md", "multi-trial.md"}
    skipped = [why for page in DOCS.glob("*.md") for why in _page_blocks(page)[1]]
    assert len(skipped) <= 1, skipped  # every skip names its reason (the Ray cluster set-up)


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_code_blocks_of_the_page_run(page: Path, tmp_path: Path) -> None:
    code, _ = _page_blocks(page)
    script = tmp_path / f"{page.stem.replace('-', '_')}_page.py"
    script.write_text("\n\n".join(code))
    env = {**os.environ, "RETIARII_HOME": str(tmp_path / "home")}
    if NB201.is_file():
        env["RETIARII_NB201"] = str(NB201)
    elif "NasBench201Benchmark" in script.read_text():
        pytest.skip("the NAS-Bench-201 table is not in ../shared/data/nb201")
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"{page.name}:\n{done.stderr[-4000:]}"


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert (tmp_path / "site" / "index.html").is_file()
    assert (tmp_path / "site" / "reference" / "index.html").is_file()
