"""The README is a front door to docs/: every relative link in them leads to a file, every page
of docs/ is reachable from the README, and the README stays short."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_LINK = re.compile(r"\[[^\]]+\]\(([^)\s]+)\)")


def _relative_links(page: Path) -> list[str]:
    return [
        target.split("#", 1)[0]
        for target in _LINK.findall(page.read_text())
        if not re.match(r"[a-z]+:", target)
    ]


def test_every_relative_link_leads_to_a_file() -> None:
    broken = [
        f"{page.relative_to(ROOT)} -> {target or '#...'}"
        for page in PAGES
        for target in _relative_links(page)
        if not target or not (page.parent / target).exists()  # no anchors: pages move
    ]
    assert not broken, broken


def test_every_docs_page_is_linked_from_the_readme() -> None:
    linked = {(ROOT / target).resolve() for target in _relative_links(ROOT / "README.md")}
    missing = [p.name for p in PAGES[1:] if p.resolve() not in linked]
    assert not missing, missing


def test_the_readme_is_a_front_door() -> None:
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250
