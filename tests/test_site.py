"""The course site (book/build.py): maths, widgets and outputs made static; the site from the runs.

The build from the committed full-size runs executes nothing (it only
converts), so it is checked here on every page: figures on disk, links that
lead somewhere, nothing fetched from the internet. The fast-mode build, which
executes every notebook, is checked in Chromium in tests/browser/test_site_browser.py.
"""

import base64
import html
import importlib.util
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("course_build", ROOT / "book" / "build.py")
build = importlib.util.module_from_spec(spec)
sys.modules["course_build"] = build
spec.loader.exec_module(build)

PNG = base64.b64decode(  # a 1 x 1 red PNG
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==")


def test_maths_becomes_mathml_and_code_is_left_alone():
    maths = []
    text = build.maths_to_placeholders(
        "Divide by $D = 4 N^2$, then $$x_1$$ but not `cost $5 or $6` nor\n```\necho $HOME $PATH\n```", maths)
    assert len(maths) == 2 and "`cost $5 or $6`" in text and "echo $HOME $PATH" in text
    assert maths[0].startswith("<math") and "<msup><mi>N</mi><mn>2</mn></msup>" in maths[0]
    assert 'display="block"' in maths[1] and "<msub><mi>x</mi><mn>1</mn></msub>" in maths[1]
    assert build.placeholder(0) in text and "$" not in text.replace("$5 or $6", "").replace(
        "$HOME $PATH", "")


def widget(model, buffers=(), **state):
    return {"model_name": model, "model_module": "@jupyter-widgets/controls",
            "state": {"_model_name": model, **state}, "buffers": list(buffers)}


def test_a_widget_is_drawn_from_its_saved_state(tmp_path):
    state = {
        "box": widget("HBoxModel", children=["IPY_MODEL_pic", "IPY_MODEL_menu", "IPY_MODEL_slider",
                                             "IPY_MODEL_gone"]),
        "pic": widget("ImageModel", [{"path": ["value"], "encoding": "base64",
                                      "data": base64.b64encode(PNG).decode()}], format="png"),
        "menu": widget("DropdownModel", description="style", _options_labels=["cubist", "swirls"],
                       index=1),
        "slider": widget("IntSliderModel", description="iterations", value=10),
        "gone": widget("ButtonModel", description="hidden", layout="IPY_MODEL_hide"),
        "hide": {"model_name": "LayoutModel", "state": {"display": "none"}},
    }
    figures = build.Figures(tmp_path / "nb", "nb")
    page = build.WidgetHTML(state, figures, 3).render("IPY_MODEL_box")
    (src,) = re.findall(r'<img class="course-figure" src="([^"]+)"', page)
    assert (tmp_path / src).read_bytes() == PNG
    assert "style: <b>swirls</b>" in page and "iterations: <b>10</b>" in page
    assert "hidden" not in page and 'class="course-widget row"' in page


def test_pictures_leave_the_notebook_for_files(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("plot()", outputs=[
        nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(PNG).decode(),
                                                     "text/plain": "<Figure>"}),
        nbformat.v4.new_output("display_data", data={"text/html": (
            f'<p>card</p><img src="data:image/png;base64,{base64.b64encode(PNG).decode()}">')}),
        nbformat.v4.new_output("stream", name="stdout", text="done\n")])])
    build.flatten(notebook, build.Figures(tmp_path / "nb", "nb"))
    first, second, stream = notebook.cells[0].outputs
    assert list(first.data) == ["text/html"] and "base64" not in second.data["text/html"]
    for output in (first, second):
        (src,) = re.findall(r'src="([^"]+)"', output.data["text/html"])
        assert (tmp_path / src).read_bytes() == PNG
    assert stream.text == "done\n"


def test_a_cell_changed_since_the_run_is_marked_not_given_old_output(monkeypatch, tmp_path):
    cells = [nbformat.v4.new_code_cell("a = 1"), nbformat.v4.new_markdown_cell("text"),
             nbformat.v4.new_code_cell("print(a)"), nbformat.v4.new_code_cell("a + 1")]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), tmp_path / "01_x.ipynb")
    run = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("a = 1"),
        nbformat.v4.new_code_cell("print(a)  # before", outputs=[
            nbformat.v4.new_output("stream", name="stdout", text="old\n")]),
        nbformat.v4.new_code_cell("a + 1", outputs=[
            nbformat.v4.new_output("execute_result", data={"text/plain": "2"}, execution_count=3)])])
    monkeypatch.setattr(build, "NOTEBOOKS", tmp_path)
    notebook, stale = build.with_outputs("01_x", run)
    assert stale == [2]
    assert "course-stale" in notebook.cells[2].outputs[0].data["text/html"]
    assert notebook.cells[3].outputs[0].data["text/plain"] == "2"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    output = tmp_path_factory.mktemp("site")
    manifest = build.Site(output).build(fast=False)
    return output, manifest


def internal_links(page):
    return [href for href in re.findall(r'<a[^>]+href="([^"]+)"', page)
            if not re.match(r"[a-z]+:", href)]


def test_the_site_from_the_kept_runs_has_every_notebook_with_its_figures(site):
    output, manifest = site
    assert sorted(manifest) == [f"{name}.html" for name in build.notebook_names()]
    for name, page in manifest.items():
        text = (output / name).read_text()
        sources = [re.search(r'src="([^"]+)"', tag).group(1)
                   for tag in re.findall(r'<img[^>]*class="course-figure"[^>]*>', text)]
        assert page["figures"] == len(sources) >= 1, name
        assert all((output / html.unescape(src)).is_file() for src in sources), name
        assert page["stale_cells"] == [], (
            f"{name}: code changed since its kept run: python book/build.py --run {name[:-5]}")


def test_every_internal_link_leads_to_a_page_and_its_anchor(site):
    output, _ = site
    pages = sorted(output.rglob("*.html"))
    assert {"index.html", "docs/teaching.html"} <= {p.relative_to(output).as_posix() for p in pages}
    checked = 0
    for page in pages:
        for href in internal_links(page.read_text()):
            path, _, anchor = href.partition("#")
            target = (page.parent / path).resolve() if path else page
            assert target.is_file(), f"{page.name}: broken link {href}"
            if anchor:
                assert f'id="{anchor}"' in target.read_text(), f"{page.name}: no anchor {href}"
            checked += 1
    assert checked > 30


def test_pages_fetch_nothing_from_the_internet(site):
    output, _ = site
    for page in output.rglob("*.html"):
        text = page.read_text()
        assert not re.search(r'<(script|link|img)[^>]+(src|href)="(https?:)?//', text), page.name
        assert "$" not in re.sub(r"<pre.*?</pre>|<code.*?</code>", "", text, flags=re.S) or \
            page.name.startswith("docs"), f"{page.name}: maths left as TeX"


def page_text(page):
    """What a page shows as text: tags (and the syntax highlighting's spans) removed."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def solution_lines(name):
    """The lines of notebooks/<name>.ipynb's answers (between nbgrader's solution markers)
    that the notebook does not also show outside them (``self.loss_value = None``)."""
    notebook = nbformat.read(build.NOTEBOOKS / f"{name}.ipynb", as_version=4)
    answers, given = [], set()
    for cell in notebook.cells:
        inside = False
        for line in cell.source.splitlines():
            if "### END SOLUTION" in line:
                inside = False
            elif inside and line.strip():
                answers.append(line.strip())
            elif not inside:
                given.add(line.strip())
            inside = inside or "### BEGIN SOLUTION" in line
    return [line for line in answers if line not in given]


@pytest.fixture(scope="module")
def teacher_site(tmp_path_factory):
    output = tmp_path_factory.mktemp("teacher")
    build.Site(output, teacher=True).build(fast=False)
    return output


def test_the_students_site_has_no_answer_and_the_teachers_has_them(site, teacher_site):
    output, _ = site
    exercises = [name for name in build.notebook_names() if solution_lines(name)]
    assert exercises[:4] == ["03_content_loss", "04_style_loss", "05_total_variation", "06_optimisation"]
    for name in exercises:
        students = page_text((output / f"{name}.html").read_text())
        teachers = page_text((teacher_site / f"{name}.html").read_text())
        for line in solution_lines(name):
            assert line not in students, f"{name}: the students' page shows the answer line {line!r}"
            assert line in teachers, f"{name}: the teacher's page lacks the answer line {line!r}"
        assert re.search(r"# YOUR CODE HERE\s+raise NotImplementedError\(\)", students), name  # the stub
        assert "checks.check_" in students, f"{name}: the check cell must stay"
        assert "is correct" not in students and "is correct" in teachers, name  # no ✓ under a stub
        assert "YOUR CODE HERE" not in teachers and "teacher's edition" in teachers, name


def test_no_page_shows_the_tests_markers(site, teacher_site):
    output, _ = site
    sources = "".join((build.NOTEBOOKS / f"{name}.ipynb").read_text() for name in build.notebook_names())
    assert "NBVAL_CHECK_OUTPUT" in sources  # there are markers to hide
    for page in [*output.glob("*.html"), *teacher_site.glob("*.html")]:
        assert "NBVAL_" not in page_text(page.read_text()), page.name


def test_a_run_s_duration_reads_as_a_person_would_say_it():
    assert [build.duration(s) for s in (73, 89, 90, 100, 604, 1409)] == [
        "73 seconds", "89 seconds", "2 minutes", "2 minutes", "10 minutes", "23 minutes"]


def test_a_banner_says_when_the_kept_run_shared_its_machine():
    assert "shared with other work (load average 5.5" in build.shared_note({"cpus": 2, "load_average_after": 5.5})
    assert build.shared_note({"cpus": 2, "load_average_after": 1.2}) == ""  # a free machine: nothing to say
    assert build.shared_note({}) == ""  # an old run without the figures


def test_a_marked_cell_is_compared_with_its_kept_run_in_fast_mode():
    """nbval compares a `# NBVAL_CHECK_OUTPUT` cell's fast-mode output with the kept run's."""
    from types import SimpleNamespace

    spec = importlib.util.spec_from_file_location("notebooks_conftest", ROOT / "notebooks" / "conftest.py")
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    marked = [(name, cell) for name in build.notebook_names()
              for cell in nbformat.read(build.NOTEBOOKS / f"{name}.ipynb", as_version=4).cells
              if cell.cell_type == "code" and "# NBVAL_CHECK_OUTPUT" in cell.source]
    assert {name for name, _ in marked} >= {"01_setup", "02_images_and_vgg"}
    for name, cell in marked:
        item = SimpleNamespace(cell=cell, path=build.NOTEBOOKS / f"{name}.ipynb")
        conftest.compare_with_kept_run(item)
        kept = next(c for c in build.Site.stored_run(name).cells if c.get("source") == cell.source)
        assert cell.outputs == kept.outputs and cell.outputs and cell.execution_count, name
    unmarked = SimpleNamespace(cell=nbformat.v4.new_code_cell("print(1)"), path=Path("01_setup.ipynb"))
    conftest.compare_with_kept_run(unmarked)
    assert unmarked.cell.outputs == [] and unmarked.cell.execution_count is None


def test_the_teachers_guide_has_the_kept_runs_times_and_memory():
    text = build.TEACHING.read_text()
    assert build.with_run_numbers(text) == text, "stale: run python book/build.py --docs"
    assert text.count("<!-- runs: end -->") == len(build.run_numbers(build.kept_runs())) == 4


def test_the_guide_s_numbers_are_computed_from_the_runs():
    names = build.notebook_names()
    runs = {name: {"seconds": 60 * (i + 1), "kernel_peak_memory_mb": 1024 * (i + 1),
                   "load_average_after": 2.5, "date": "2026-12-03"} for i, name in enumerate(names)}
    numbers = build.run_numbers(runs)
    assert "| 3. Smoothness and the optimiser | 05 total variation, 06 optimisation | " \
           "total-variation loss; the Evaluator | 5.0 min + 6.0 min |" in numbers["lesson plan"]
    assert "| kernel memory, full size | 1.0 GB | 2.0 GB |" in numbers["notebooks"]
    assert numbers["03 to 06"] == "18 minutes"  # 3 + 4 + 5 + 6
    assert numbers["largest kernel"] == f"notebook {names[-1][:2]}'s, reached {len(names)}.0 GB"
    del runs[names[-1]]  # a notebook without a kept run yet
    assert "not run yet" in build.run_numbers(runs)["lesson plan"]
    text = "a <!-- runs: 03 to 06 -->old<!-- runs: end --> b"
    assert build.with_run_numbers(text, runs) == "a <!-- runs: 03 to 06 -->18 minutes<!-- runs: end --> b"
    with pytest.raises(ValueError, match="makes"):
        build.with_run_numbers("<!-- runs: nonsense -->x<!-- runs: end -->", runs)
