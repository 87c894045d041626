"""README.md and docs/*.md link only inside the repository, to files and headings that exist.

Whoever clones or installs league_api must find every page the documentation points to.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
_CODE = re.compile(r"`[^`\n]*`")
# [text](target) and ![alt](target), optionally with a "title"; and [label]: target definitions.
_INLINE = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_DEFINITION = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.M)
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def prose(page: Path) -> str:
    """The page without code: a link-like text inside code is not a link."""
    return _CODE.sub("", _FENCE.sub("", page.read_text()))


def links(page: Path) -> list[str]:
    text = prose(page)
    return _INLINE.findall(text) + _DEFINITION.findall(text)


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    slugs = set()
    for heading in _HEADING.findall(_FENCE.sub("", page.read_text())):
        text = re.sub(r"[`*]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
        slugs.add(re.sub(r"[^\w\- ]", "", text).replace(" ", "-"))
    return slugs


def test_the_pages_have_links_to_check():
    assert ROOT / "docs" / "API.md" in PAGES
    assert sum(len(links(page)) for page in PAGES) >= 10


@pytest.mark.parametrize("page", PAGES, ids=[str(page.relative_to(ROOT)) for page in PAGES])
def test_every_link_resolves_to_a_file_or_heading_in_the_repository(page):
    broken = []
    for target in links(page):
        if re.match(r"[a-z][a-z0-9+.-]*:|//", target, re.I):
            broken.append(f"{target}: leaves the repository")
            continue
        path, _, fragment = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.is_relative_to(ROOT):
            broken.append(f"{target}: outside the repository")
        elif not resolved.is_file():
            broken.append(f"{target}: no such file")
        elif fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
            broken.append(f"{target}: no such heading")
    assert broken == []


def test_the_readme_sends_readers_to_the_contract_in_the_repository():
    readme_links = links(ROOT / "README.md")
    assert "docs/API.md" in readme_links
    assert "docs/docs-page.png" in readme_links
    assert not any("shared" in target for target in readme_links)
