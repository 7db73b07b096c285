"""The README is a front page whose links all lead somewhere, and its pictures are never older than their pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "ARCHITECTURE.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!\!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")


def anchors(path: Path) -> set[str]:
    """GitHub's ids for a Markdown file's headings."""
    out = set()
    for line in path.read_text().splitlines():
        m = re.match(r"#{1,6}\s+(.*)", line)
        if m:
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            out.add(slug)
    return out


def test_the_readme_is_a_front_page_that_links_every_doc():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 150
    for doc in sorted((ROOT / "docs").glob("*.md")):
        assert f"(docs/{doc.name})" in readme, f"the README does not link docs/{doc.name}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_resolves_to_a_file_or_a_heading(doc):
    broken = []
    for m in LINK.finditer(doc.read_text()):
        target = m.group(1) or m.group(2)
        if re.match(r"[a-z]+:", target) or target.startswith("…"):
            continue  # a web address (checked by no test: tests never need the network), or an example
        file, _, anchor = target.partition("#")
        path = (doc.parent / file).resolve() if file else doc
        if not path.exists() or (anchor and path.suffix == ".md" and anchor not in anchors(path)):
            broken.append(target)
    assert not broken, f"{doc.name}: {broken}"


def test_the_readmes_pictures_are_there_and_taken_from_the_pages_as_they_are():
    import json
    import sys

    sys.path.insert(0, str(ROOT))
    from devtools.screenshots import SHOWS, TAKEN, page_hash

    taken = json.loads(TAKEN.read_text()) if TAKEN.exists() else {}
    for picture, page in SHOWS.items():
        path = ROOT / "docs" / "images" / picture
        assert path.exists() and path.stat().st_size > 10_000, f"{picture} is missing: make screenshots"
        assert f"docs/images/{picture}" in (ROOT / "README.md").read_text()
        assert taken.get(picture) == page_hash(page), (
            f"{page} changed since {picture} was taken: make screenshots, and commit the pictures with the page"
        )
