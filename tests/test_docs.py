"""The generated reference pages are current: each equals what its generator writes now."""

from __future__ import annotations

from dip_sim.docs import PAGES, stale_pages


def test_every_generated_page_is_current():
    assert PAGES
    assert stale_pages() == [], "run make docs"


def test_bench_writes_its_figures_below_the_marker(tmp_path):
    from benchmarks.run_bench import MARKER, Figures, Stage, machine_info, write_figures

    page = tmp_path / "benchmark.md"
    prose = "# Benchmark (`make bench`)\n\nWhat the bench does, by hand.\n"
    page.write_text(f"{prose}\n{MARKER}\n\nold figures: ingest 99.9 s\n", encoding="utf-8")
    machine = machine_info()
    assert {"CPU", "cores", "RAM", "OS", "Python", "DuckDB"} <= set(machine)
    figures = Figures("2030-01-02", machine, "10M",
                      [Stage("ingest", 12.34, 20, 2.5, 4.1), Stage("quality", 5.0, None, None)],
                      (17.3, 50), "Lean reference: 3.0 s: OK.", ["Load average 0.10."],
                      "all targets met",
                      [("CSV", 3, 1_500_000, 10.0, 150_000.0, 100_000)], (11.0, 1.25),
                      "dashboard table", "all targets met")
    write_figures(figures, page)
    write_figures(figures, page)  # a second run replaces, never appends
    text = page.read_text(encoding="utf-8")
    assert text.startswith(prose) and text.count(MARKER) == 1
    assert "old figures" not in text
    assert "### 10M discharges (2030-01-02)" in text
    assert f"DuckDB {machine['DuckDB']}" in text and f"cores {machine['cores']}" in text
    assert "| ingest | 12.3 | 20.0 | 2.50 GB | 4.1 |" in text
    assert "| quality | 5.0 | – | – | – |" in text
    assert "| files to results | 17.3 | 50 | | – |" in text
    assert "Lean reference: 3.0 s: OK." in text and "Load average 0.10." in text
    assert "| CSV | 3 | 1,500,000 | 10.0 | 150,000 | 100,000 |" in text
    assert "Real extracts: 11.0 s in all, peak 1.25 GB." in text
    assert text.rstrip().endswith("dashboard table\n\nVerdict: all targets met.")
    # a run at another size, without the extras, adds its own section and keeps the others
    small = Figures("2030-01-03", machine, "1M", [Stage("ingest", 1.5, None, 0.5, 3.0)],
                    (2.0, None), "Lean reference: 0.5 s: OK.", [], "all targets met")
    write_figures(small, page)
    write_figures(small, page)
    text = page.read_text(encoding="utf-8")
    assert text.count("### 1M discharges (2030-01-03)") == 1
    assert text.index("### 1M discharges") < text.index("### 10M discharges (2030-01-02)")
    assert "| ingest | 1.5 | – | 0.50 GB | 3.0 |" in text
    assert text.count("Real extracts: 11.0 s in all") == 1


def test_the_readme_is_a_front_door():
    """At most 12,000 bytes, every relative link resolving, no tracker citations."""
    import re

    from dip_sim.docs import ROOT

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) <= 12_000
    links = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text)
    assert links and all((ROOT / link).exists() for link in links), links
    assert not re.search(r"(?i)\bissues? \d", text)


def test_no_citation_of_the_issue_tracker_in_code_tests_or_docs():
    """Code cites the rule's source or a docs page, never a tracker a reader cannot see."""
    import re

    from dip_sim.docs import ROOT

    pattern = re.compile(r"(?i)\bissues? \d+\b")
    found = []
    for folder in ("dip_sim", "pipelines", "tests", "docs", "benchmarks", "data/policy",
                   "scripts"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in {".py", ".sql", ".md", ".yaml", ".sh"} and path.is_file():
                for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                    if pattern.search(line) and "pattern = re.compile" not in line:
                        found.append(f"{path.relative_to(ROOT)}:{n}")
    assert not found, found
