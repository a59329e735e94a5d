"""Every link of README.md and docs/*.md resolves inside the repository: the file or folder
exists, and a `#anchor` names a heading of the page it points to (GitHub's heading ids).
Web links are not followed (no network)."""

import re
from pathlib import Path

from tests.helpers import REPO

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def pages(root: Path = REPO) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def _without_code_blocks(text: str) -> str:
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def links(page: Path) -> list[str]:
    """Link targets outside code: brackets in a code block or an inline code span are not links."""
    return LINK.findall(re.sub(r"`[^`\n]*`", "", _without_code_blocks(page.read_text())))


def anchors(page: Path) -> set[str]:
    """GitHub's ids of a page's headings: lower case, punctuation dropped, spaces as hyphens,
    `-1`, `-2` ... on repeats."""
    seen: dict[str, int] = {}
    ids = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", _without_code_blocks(page.read_text()), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        ids.add(slug if count == 0 else f"{slug}-{count}")
    return ids


def broken_links(page: Path, root: Path = REPO) -> list[str]:
    broken = []
    for target in links(page):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...: not followed
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.is_relative_to(root.resolve()):
            broken.append(f"{target}: outside the repository")
        elif not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and (resolved.suffix != ".md" or anchor not in anchors(resolved)):
            broken.append(f"{target}: no heading #{anchor} in {resolved.name}")
    return [f"{page.relative_to(root)}: {b}" for b in broken]


def test_every_link_of_the_readme_and_docs_resolves():
    assert len(pages()) >= 10 and sum(len(links(p)) for p in pages()) >= 50
    assert [b for p in pages() for b in broken_links(p)] == []


def test_a_missing_file_a_missing_heading_and_a_way_out_are_each_found(tmp_path):
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "other.md").write_text("# Other\n## Drift gate: stop rates\n## Drift gate: stop rates\n")
    (root / "README.md").write_text(
        "# A `code` heading, here\n"
        "[ok](docs/other.md#drift-gate-stop-rates-1) [ok](#a-code-heading-here) [ok](docs/)\n"
        "[a](docs/other.md#no-such-heading) [b](docs/missing.md) [c](../outside.md)\n"
        "`[in code](nowhere.md)` [web](https://example.org/x.md)\n```\n[block](nowhere.md)\n```\n"
    )
    assert anchors(root / "docs" / "other.md") == {"other", "drift-gate-stop-rates", "drift-gate-stop-rates-1"}
    assert [p.name for p in pages(root)] == ["README.md", "other.md"]
    assert broken_links(root / "README.md", root) == [
        "README.md: docs/other.md#no-such-heading: no heading #no-such-heading in other.md",
        "README.md: docs/missing.md: no such file",
        "README.md: ../outside.md: outside the repository",
    ]
    assert broken_links(root / "docs" / "other.md", root) == []
