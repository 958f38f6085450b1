"""Every generated reference page, written from the code's declarations: ``make docs``.

``python -m dip_sim.docs`` writes each page of :data:`PAGES`; ``--check`` writes nothing and
lists the pages that are out of date (exit code 1), as the test does. A page is added with one
line: its path under the project root and ``"module:function"``, a function taking no argument
and returning the page's text.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (page, generator): the generator is named, not imported, so that adding a page is one line
PAGES: tuple[tuple[str, str], ...] = (
    ("docs/input_fields.md", "dip_sim.ingest.fields_doc:input_fields_markdown"),
    ("docs/parameters.md", "dip_sim.policy.docs:parameters_markdown"),
    ("docs/stages.md", "dip_sim.pipeline.docs:stages_markdown"),
    ("docs/tables.md", "dip_sim.contract:tables_markdown"),
)


def render(generator: str) -> str:
    """The text of a page from its generator's ``"module:function"``."""
    module, function = generator.split(":")
    return getattr(importlib.import_module(module), function)()


def stale_pages(root: Path = ROOT) -> list[str]:
    """The pages whose committed text differs from what their generator writes (or missing)."""
    stale = []
    for page, generator in PAGES:
        path = root / page
        if not path.is_file() or path.read_text(encoding="utf-8") != render(generator):
            stale.append(page)
    return stale


def write_pages(root: Path = ROOT) -> list[str]:
    """Write every page; the pages whose text changed."""
    changed = []
    for page, generator in PAGES:
        path, text = root / page, render(generator)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(page)
    return changed


def main(argv: list[str] | None = None) -> int:
    """Write the pages, or (``--check``) list those out of date and exit 1 if any."""
    args = sys.argv[1:] if argv is None else argv
    if "--check" in args:
        stale = stale_pages()
        for page in stale:
            print(f"{page}: out of date (run make docs)")
        if not stale:
            print(f"{len(PAGES)} generated pages current")
        return 1 if stale else 0
    changed = write_pages()
    for page in changed:
        print(f"written {page}")
    print(f"{len(PAGES)} generated pages, {len(changed)} changed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
