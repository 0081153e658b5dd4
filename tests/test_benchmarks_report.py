"""BENCHMARKS.md is a report the benchmark scripts write: one section per benchmark, rebuilt from results/*.json."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
import _report  # noqa: E402

LINES_PER_SECTION = 30  # the report grows with the benchmarks it holds, each section short
DIARY = re.compile(r"\bsessions?\b|\bissue\s*#?\d+|work period|\blent\b|device run", re.I)


def doc_problems(text: str) -> list[str]:
    """What keeps ``text`` from being the report: too long, a benchmark missing or repeated, sections out of order,
    sections that are not benchmarks, diary wording."""
    limit = LINES_PER_SECTION * max(1, len(_report.measured()))
    problems = [f"{len(text.splitlines())} lines"] if len(text.splitlines()) > limit else []
    for bench, title in ((b, _report.SECTIONS[b]) for b in _report.measured()):
        counts = {what: text.count(what) for what in (f"<!-- {bench}:start -->", f"<!-- {bench}:end -->")}
        counts[f"## {title}"] = len(re.findall(rf"^## {re.escape(title)}$", text, re.M))
        problems += [f"{what} {n} times" for what, n in counts.items() if n != 1]
    if re.findall(r"^## (.+)$", text, re.M) != [_report.SECTIONS[b] for b in _report.measured()]:
        problems.append("the sections are not the benchmarks, once each, in order")
    problems += [f"diary wording: {m.group(0)!r}" for m in DIARY.finditer(text)]
    return problems


def test_benchmarks_md_is_a_short_report_of_one_section_per_benchmark():
    assert doc_problems(_report.DOC.read_text()) == []


@pytest.mark.parametrize("plant", [
    lambda t: t + "\n" * LINES_PER_SECTION * len(_report.SECTIONS),
    lambda t: t + "\n" + _report.block(t, "denoise").group(0) + "\n",
    lambda t: t.replace(_report.block(t, "swap").group(0), ""),
    lambda t: t + "\n## Notes on the recon benchmark\n",
    lambda t: t + "\nSession " + "12 reran this.\n",  # split, so that this file holds no such text itself
    lambda t: t + "\nThe target of issue " + "5.\n",
    lambda t: t + "\nMeasured in a shared device run.\n",
])
def test_the_report_checks_catch_a_planted_violation(plant):
    assert doc_problems(plant(_report.DOC.read_text()))


def test_benchmarks_md_is_what_the_scripts_write_from_the_results():
    """Every section equals what its script's ``section`` builds from all of its results (the doc cannot drift)."""
    assert _report.stale() == [], "run: python benchmarks/_report.py"


@pytest.fixture
def copy(tmp_path):
    """BENCHMARKS.md and the results, copied into tmp_path."""
    folder = tmp_path / "results"
    shutil.copytree(_report.RESULTS, folder, ignore=shutil.ignore_patterns("*.png"))
    doc = tmp_path / "BENCHMARKS.md"
    shutil.copyfile(_report.DOC, doc)
    return doc, folder


def test_the_drift_check_catches_a_changed_result_and_an_edited_doc(copy):
    doc, folder = copy
    result = json.loads((folder / "denoise-skips.json").read_text())
    result["gaussian"]["aekit"]["psnr"] = 30.0
    (folder / "denoise-skips.json").write_text(json.dumps(result))
    assert _report.stale(doc, folder) == ["denoise"]
    doc.write_text(doc.read_text().replace("# Benchmarks", "# Benchmark diary"))
    assert _report.stale(doc, folder) == ["denoise", "outside the sections"]


def rows(text: str, bench: str) -> list[str]:
    return [line for line in _report.block(text, bench).group(0).splitlines() if line.startswith("| [denoise")]


def test_a_rerun_of_a_variant_replaces_its_row_and_a_new_variant_adds_one(copy):
    doc, folder = copy
    before = doc.read_text()
    result = json.loads((folder / "denoise-cpu.json").read_text())
    result["gaussian"]["aekit"]["psnr"] = 23.456
    _report.write_result("denoise-cpu", result, folder)
    _report.update("denoise", doc=doc, folder=folder)
    after = doc.read_text()
    assert len(rows(after, "denoise")) == len(rows(before, "denoise"))
    assert "| 23.46 / " in after and after.count("<!-- denoise:start -->") == 1
    _report.write_result("denoise-new", result, folder)
    _report.update("denoise", doc=doc, folder=folder)
    assert len(rows(doc.read_text(), "denoise")) == len(rows(before, "denoise")) + 1
    assert doc_problems(doc.read_text()) == []
    outside = [t.replace(_report.block(t, "denoise").group(0), "") for t in (before, doc.read_text())]
    assert outside[0] == outside[1]  # the other sections are untouched


def test_a_missing_section_is_written_in_its_place(copy):
    doc, folder = copy
    text = doc.read_text()
    doc.write_text(text.replace(_report.block(text, "embed").group(0) + "\n\n", ""))
    assert _report.stale(doc, folder) == ["embed"]
    _report.update("embed", doc=doc, folder=folder)
    assert doc.read_text() == text


def test_a_new_document_starts_with_the_intro(tmp_path, copy):
    _, folder = copy
    doc = tmp_path / "new.md"
    _report.update("refine", doc=doc, folder=folder)
    _report.update("seed", doc=doc, folder=folder)
    text = doc.read_text()
    assert text.startswith("# Benchmarks") and text.index("<!-- seed:start") < text.index("<!-- refine:start")


def test_a_shown_command_leaves_out_where_files_went():
    shown = _report.command("recon_long.py", "--device cuda --out conv2 --name recon-long-b256", drop=("--out",))
    assert shown == "`python benchmarks/recon_long.py --device cuda --name recon-long-b256`"
    assert _report.command("denoise.py", "--train '{\"optimizer\": \"muon\"}'") == \
        "`python benchmarks/denoise.py --train '{\"optimizer\": \"muon\"}'`"


def test_section_titles_give_the_anchors_readme_links_to():
    assert [_report.anchor(t) for t in _report.SECTIONS.values()] == [
        "training-speed-and-quality-keras-vs-aekit", "reconstruction-error-vs-code-size",
        "denoising-aekit-vs-classical-filters", "anomaly-detection-one-class-mnist",
        "tables-anomalies-and-embeddings-on-scikit-learns-tables",
        "codes-as-features-knn-and-logistic-regression", "generation-fid-with-and-without-the-adversarial-decoder",
        "compression-aekit-files-vs-png-jpeg-webp-avif", "real-photographs-denoising-and-compression",
        "fashion-mnist-the-presets-on-another-dataset", "domain-swap-and-swap-detection",
        "detecting-autoencoder-output-does-the-detector-generalise",
        "pixel-watermark-surviving-stripped-metadata", "code-refinement-step-size-rules", "the-local-web-app-under-load"]


def test_a_benchmark_not_yet_run_has_no_section(copy):
    doc, folder = copy
    assert "photos" in _report.SECTIONS and "photos" not in _report.measured(folder / "none")
    text = _report.render(folder)
    assert all((f"<!-- {b}:start -->" in text) == bool(_report.results(b, folder)) for b in _report.SECTIONS)
