"""The generated reference pages are current: each equals what its generator writes now."""

from __future__ import annotations

from dip_sim.docs import PAGES, stale_pages


def test_every_generated_page_is_current():
    assert PAGES
    assert stale_pages() == [], "run make docs"
