"""The documentation names only files that exist, its links land, and the README stays short."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FOLDERS = ("app", "bench", "bot", "docs", "handlers", "locales", "surveys", "tests", "webhook")
ROOT_FILE = re.compile(r"^(Makefile|Procfile|[\w-]+\.(toml|cfg))$")
CODE = re.compile(r"```.*?```|`[^`\n]+`", re.DOTALL)
LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#+ (.+)$", re.MULTILINE)
PATTERN = re.compile(r"[<>{}*…]|\.\.\.")  # `locales/<locale>/...`: a shape, not a file
README_LINES = 250


def named_paths(page: str) -> set[str]:
    """Repository paths written in the page's code, stripped of the punctuation around them."""
    found = set()
    for code in CODE.findall(page):
        for word in code.strip("`").split():
            word = word.strip("()[],;\"'").rstrip(".:")
            if PATTERN.search(word):
                continue
            if word.split("/", 1)[0] in FOLDERS and "/" in word or ROOT_FILE.match(word):
                found.add(word)
    return found


def anchors(page: str) -> set[str]:
    """The anchors GitHub gives the page's headings."""
    without_code = CODE.sub("", page)
    return {
        re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
        for title in HEADING.findall(without_code)
    }


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_path_a_page_names_exists(page: Path):
    missing = [p for p in named_paths(page.read_text(encoding="utf-8")) if not (ROOT / p).exists()]
    assert not missing, f"{page.name} names what is not in the repository: {sorted(missing)}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_between_pages_lands(page: Path):
    broken = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if target.startswith(("http://", "https://")):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(target)
        elif anchor and anchor not in anchors(linked.read_text(encoding="utf-8")):
            broken.append(target)
    assert not broken, f"{page.name} links to what is not there: {broken}"


def test_the_readme_stays_a_front_door():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= README_LINES, f"README.md has {lines} lines; move detail into docs/"
