"""The course as a static website: every notebook with its figures, readable without running it.

    python book/build.py                      # the students' site, _build/course/, from book/runs/
    python book/build.py --teacher            # the teacher's, _build/course-teacher/: with the answers
    python book/build.py --fast               # runs every notebook in fast mode first (CI does this)
    python book/build.py --run 04_style_loss  # runs notebooks at full size into book/runs/ (or: --run all)
    python book/build.py -o DIR               # the site goes into DIR instead
    python book/build.py --docs               # docs/teaching.md's times and memory from book/runs/

Open _build/course/index.html in a browser; the folder can be copied to any web
server as it is (plain HTML and pictures, nothing fetched from the internet).

Notebooks are committed without outputs, so the site takes them from
book/runs/: one executed copy of each notebook at full size, its pictures
saved as files beside it (book/runs/<notebook>/) rather than inside it. A
code cell shows the output of the run whose cell had the same source; a cell
changed since its notebook's run shows a note instead, and the build says
which notebook to re-run. Widgets (the playground, progress bars) are drawn
as plain HTML from the state they had at the end of the run.

Two sites come from the same runs. The students' site shows each exercise
as nbgrader's student version does: the answer between the solution markers
replaced by ``raise NotImplementedError()`` (nbgrader's own `ClearSolutions`),
the check cell kept. The teacher's site (``--teacher``) shows the answers.
Neither shows nbval's ``# NBVAL_...`` markers, which are for the tests.

``--docs`` rewrites the tables of docs/teaching.md that come from the kept
runs (times and memory), between its ``<!-- runs: ... -->`` markers, and the
class's sizing that follows from them (classroom/kubernetes/sizing.py).

See docs/teaching.md ("The course as a website").
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
import os
import re
import runpy
import shutil
import sys
import threading
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
DOCS = ROOT / "docs"
RUNS = ROOT / "book" / "runs"
TEMPLATES = ROOT / "book" / "templates"
OUTPUT = ROOT / "_build" / "course"
TEACHER_OUTPUT = ROOT / "_build" / "course-teacher"
TEACHING = DOCS / "teaching.md"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
IMAGE_TYPES = {"image/png": "png", "image/jpeg": "jpg"}
INDEX_BANNER = ('<div class="course-banner">The nst-teach course as a website: each notebook '
                "below with the text, code, output and figures of one run. To run the notebooks "
                "yourself, get the repository and open <code>notebooks/</code> in Jupyter.</div>")
TEACHER_BANNER = ('<div class="course-banner">The teacher\'s edition: the exercises show their '
                  "answers. Students get the edition without them.</div>")
TEST_MARKER = re.compile(r"^[ \t]*# NBVAL_\w+[ \t]*\n?", re.M)
PNG_KEPT_UP_TO = 120_000  # bytes: larger PNGs of photo-like pictures are stored as JPEG
DATA_URI = re.compile(r"""src=(["'])data:image/(png|jpeg);base64,([A-Za-z0-9+/=\s]+)\1""")


def notebook_names():
    """The course notebooks, in order: ['01_setup', ...]."""
    return sorted(path.stem for path in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


# --- running a notebook -------------------------------------------------------------------------

def execute(name, fast):
    """Run notebooks/<name>.ipynb top to bottom in a fresh kernel, in the notebooks folder.

    Returns the executed notebook, widget state included, the seconds it took,
    and the kernel's largest resident memory in bytes (sampled every second).
    """
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    env = {**os.environ, "NST_TEACH_FAST": "1" if fast else "0", "NST_TEACH_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    client = NotebookClient(notebook, timeout=600 if fast else None, kernel_name="python3",
                            store_widget_state=True,
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    with PeakMemory() as memory:
        start = time.perf_counter()
        client.execute(env=env)
        seconds = time.perf_counter() - start
    return notebook, seconds, memory.peak


class PeakMemory(threading.Thread):
    """The largest resident memory of this process's children (the kernel), sampled every second."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak, self.done = 0, threading.Event()

    def run(self):
        import psutil

        while not self.done.wait(1.0):
            total = 0
            for child in psutil.Process().children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *error):
        self.done.set()
        self.join()


class Figures:
    """Writes a notebook's pictures as files into `folder`; returns their paths for <img src>.

    PNGs stay PNGs while small (plots); larger ones (photos) become JPEGs at
    quality 85 when that is smaller, to keep the committed runs a few MB.
    """

    def __init__(self, folder, prefix):
        self.folder, self.prefix, self.count = Path(folder), prefix, 0
        self.folder.mkdir(parents=True, exist_ok=True)

    def save(self, data, kind, cell):
        from PIL import Image

        self.count += 1
        if kind == "png" and len(data) > PNG_KEPT_UP_TO:
            picture = Image.open(io.BytesIO(data))
            if picture.mode in ("RGBA", "LA", "P"):
                picture = picture.convert("RGBA")
                flat = Image.new("RGB", picture.size, "white")
                flat.paste(picture, mask=picture.getchannel("A"))
                picture = flat
            jpeg = io.BytesIO()
            picture.convert("RGB").save(jpeg, "JPEG", quality=85, optimize=True)
            if jpeg.tell() < len(data):
                data, kind = jpeg.getvalue(), "jpg"
        name = f"cell{cell:02d}-{self.count}.{kind}"
        (self.folder / name).write_bytes(data)
        return f"{self.prefix}/{name}"


def image_html(src):
    return f'<img class="course-figure" src="{html.escape(src)}" alt="">'


def externalise_data_uris(text, figures, cell):
    """<img src="data:image/png;base64,..."> inside HTML -> a file and its path."""
    def replace(match):
        kind = "png" if match.group(2) == "png" else "jpg"
        src = figures.save(base64.b64decode(match.group(3)), kind, cell)
        return f'src="{html.escape(src)}"'

    return DATA_URI.sub(replace, text)


def flatten(notebook, figures):
    """Pictures to files and widgets to plain HTML: the notebook no longer needs a kernel or JS."""
    state = notebook.metadata.pop("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            cell.outputs = [flat_output(output, state, figures, index) for output in cell.outputs]
    return notebook


def flat_output(output, state, figures, cell):
    if output.output_type not in ("display_data", "execute_result"):
        return output
    data = output.get("data", {})
    if WIDGET_VIEW in data:
        body = WidgetHTML(state, figures, cell).render(data[WIDGET_VIEW]["model_id"])
    elif any(kind in data for kind in IMAGE_TYPES):
        kind = next(kind for kind in IMAGE_TYPES if kind in data)
        body = image_html(figures.save(base64.b64decode(data[kind]), IMAGE_TYPES[kind], cell))
    elif "text/html" in data:
        body = externalise_data_uris("".join(data["text/html"]), figures, cell)
    else:
        return output
    return nbformat.v4.new_output("display_data", data={"text/html": body})


class WidgetHTML:
    """A widget, drawn as plain HTML from its saved state: what it showed when the run ended."""

    BOXES = ("HBoxModel", "VBoxModel", "BoxModel", "GridBoxModel")

    def __init__(self, state, figures, cell):
        self.state, self.figures, self.cell = state, figures, cell

    def render(self, model_id):
        model = self.state.get(str(model_id).removeprefix("IPY_MODEL_"))
        if model is None:
            return ""
        values = dict(model["state"])
        for buffer in model.get("buffers", []):
            values[buffer["path"][0]] = base64.b64decode(buffer["data"])
        if self.hidden(values):
            return ""
        if model["model_name"] in self.BOXES:
            row = " row" if model["model_name"] == "HBoxModel" else ""
            return f'<div class="course-widget{row}">{self.children(values)}</div>'
        name = model["model_name"].removesuffix("Model")
        return getattr(self, f"draw_{name}", self.draw_control)(values)

    def hidden(self, values):
        layout = self.state.get(str(values.get("layout", "")).removeprefix("IPY_MODEL_"), {})
        return layout.get("state", {}).get("display") == "none"

    def children(self, values):
        return "".join(self.render(child) for child in values.get("children", []))

    def draw_Accordion(self, values):
        titles = values.get("titles") or []
        parts = [f'<details class="course-widget" open><summary>{html.escape(title or "")}</summary>'
                 f'{self.render(child)}</details>'
                 for child, title in zip(values.get("children", []), [*titles, *[""] * 99])]
        return "".join(parts)

    draw_Tab = draw_Accordion

    def draw_Image(self, values):
        picture = values.get("value") or b""
        if not picture:
            return ""
        kind = "jpg" if values.get("format") in ("jpeg", "jpg") else "png"
        return image_html(self.figures.save(picture, kind, self.cell))

    def draw_HTML(self, values):
        label = self.label(values)
        return label + externalise_data_uris(values.get("value", ""), self.figures, self.cell)

    draw_HTMLMath = draw_HTML

    def draw_Label(self, values):
        return f"<span>{html.escape(str(values.get('value', '')))}</span>"

    def draw_Button(self, values):
        return f"<button disabled>{html.escape(values.get('description', ''))}</button>"

    draw_FileUpload = draw_Button

    def draw_Output(self, values):
        parts = []
        for output in values.get("outputs", []):
            output = nbformat.from_dict(output)
            if output.output_type == "stream":
                parts.append(f"<pre>{html.escape(''.join(output.text))}</pre>")
                continue
            data = output.get("data", {})
            if WIDGET_VIEW in data:
                parts.append(self.render(data[WIDGET_VIEW]["model_id"]))
            elif any(kind in data for kind in IMAGE_TYPES):
                kind = next(kind for kind in IMAGE_TYPES if kind in data)
                parts.append(image_html(self.figures.save(base64.b64decode(data[kind]),
                                                          IMAGE_TYPES[kind], self.cell)))
            elif "text/html" in data:
                parts.append(externalise_data_uris("".join(data["text/html"]), self.figures,
                                                   self.cell))
            elif "text/plain" in data:
                parts.append(f"<pre>{html.escape(''.join(data['text/plain']))}</pre>")
        return "".join(parts)

    def draw_FloatProgress(self, values):
        return (f'{self.label(values)}<progress value="{values.get("value", 0)}" '
                f'max="{values.get("max", 100)}"></progress>')

    draw_IntProgress = draw_FloatProgress

    def draw_control(self, values):
        """Sliders, menus, check boxes, text: their label and value as text."""
        if "_options_labels" in values:
            labels, index = values["_options_labels"], values.get("index")
            chosen = ([labels[i] for i in index] if isinstance(index, list)
                      else [labels[index]] if isinstance(index, int) else [])
            value = ", ".join(chosen)
        elif "value" in values:
            value = values["value"]
        else:
            return ""
        return f'<span class="course-control">{self.label(values)}<b>{html.escape(str(value))}</b></span>'

    @staticmethod
    def label(values):
        description = values.get("description")
        return f"{html.escape(description)}: " if description else ""


def store_run(name, fast=False):
    """Run one notebook (at full size unless `fast`) and keep it in book/runs/, pictures beside it."""
    import platform

    notebook, seconds, memory = execute(name, fast)
    shutil.rmtree(RUNS / name, ignore_errors=True)
    flatten(notebook, Figures(RUNS / name, name))
    notebook.metadata["course_run"] = {
        "fast": fast, "date": time.strftime("%Y-%m-%d"), "seconds": round(seconds),
        "kernel_peak_memory_mb": round(memory / 2**20),
        "cpus": os.cpu_count(), "machine": platform.processor() or platform.machine(),
        "load_average_after": round(os.getloadavg()[0], 1),
    }
    nbformat.write(notebook, RUNS / f"{name}.ipynb")
    pictures = list((RUNS / name).iterdir())
    print(f"{name}: {seconds:.0f} s {'in fast mode' if fast else 'at full size'}, "
          f"kernel {memory / 2**20:.0f} MB at most; {len(pictures)} pictures, {sum(p.stat().st_size for p in pictures) / 1e6:.2f} MB")
    return seconds


# --- the site -----------------------------------------------------------------------------------

def shared_note(run):
    """What a kept run's banner says of the machine's load: the seconds on a busy machine run long."""
    load, cpus = run.get("load_average_after"), run.get("cpus")
    if isinstance(load, (int, float)) and isinstance(cpus, int) and load > cpus:
        return (f", shared with other work (load average {load:g} at the end), so the seconds "
                "printed on this page are longer than on a free machine")
    return ""


def figure_count(notebook):
    """How many pictures a flattened notebook's outputs show."""
    return sum(output.get("data", {}).get("text/html", "").count('class="course-figure"')
               for cell in notebook.cells for output in cell.get("outputs", []))


def with_outputs(name, run):
    """The notebook as it is now, with each code cell's outputs from `run` (same source).

    Returns the notebook and the indices of the code cells the run has no output for.
    """
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    done = [cell for cell in run.cells if cell.cell_type == "code"]
    stale, position = [], 0
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        match = next((i for i in range(position, len(done)) if done[i].source == cell.source), None)
        if match is None:
            stale.append(index)
            cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": (
                '<p class="course-stale">This cell changed after the notebook\'s kept run, '
                "so its output is not shown. Run the notebook to see it.</p>")})]
        else:
            cell.outputs, cell.execution_count = done[match].outputs, done[match].execution_count
            position = match + 1
    notebook.metadata["course_run"] = run.metadata.get("course_run", {})
    return notebook, stale


def without_solutions(notebook):
    """The students' version of an exercise: as nbgrader's `ClearSolutions` leaves it.

    Each answer between the solution markers becomes ``raise NotImplementedError()``;
    the check cells stay, without the "is correct" their run printed for the answer.
    """
    from nbgrader import utils
    from nbgrader.preprocessors import ClearSolutions

    notebook, _ = ClearSolutions().preprocess(notebook, {})
    for cell in notebook.cells:
        if cell.cell_type == "code" and (utils.is_solution(cell) or utils.is_grade(cell)):
            cell.outputs = []
    return notebook


def without_test_markers(notebook):
    """Code cells without nbval's ``# NBVAL_CHECK_OUTPUT`` lines: they are for the tests."""
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.source = TEST_MARKER.sub("", cell.source)
    return notebook


class Site:
    """Pages for the notebooks (from their runs), the notebooks' README (the index) and docs/*.md.

    `teacher`: the exercises keep their answers; otherwise they are the students' versions.
    """

    def __init__(self, output, teacher=False):
        self.output, self.teacher = Path(output), teacher
        self.pages = {}  # repository path -> site path, for links
        for name in notebook_names():
            self.pages[f"notebooks/{name}.ipynb"] = f"{name}.html"
        self.pages["notebooks/README.md"] = "index.html"
        for doc in sorted(DOCS.glob("*.md")):
            self.pages[f"docs/{doc.name}"] = f"docs/{doc.stem}.html"
        self.manifest = {}

    def build(self, fast):
        if self.output.exists() and any(self.output.iterdir()):
            if not (self.output / "manifest.json").exists():
                raise FileExistsError(f"{self.output} has files and is not a course site: "
                                      "give an empty or new folder")
            shutil.rmtree(self.output)
        self.output.mkdir(parents=True, exist_ok=True)
        for name in notebook_names():
            if fast:
                run, seconds, _ = execute(name, fast=True)
                flatten(run, Figures(self.output / name, name))
                run.metadata["course_run"] = {"fast": True, "seconds": round(seconds)}
            else:
                run = self.stored_run(name)
                if (RUNS / name).is_dir():
                    shutil.copytree(RUNS / name, self.output / name)
            notebook, stale = with_outputs(name, run)
            notebook = without_test_markers(notebook if self.teacher else without_solutions(notebook))
            self.write_page(f"notebooks/{name}.ipynb", notebook, banner=self.banner(name, notebook))
            self.manifest[f"{name}.html"] = {"figures": figure_count(notebook), "stale_cells": stale}
            if stale:
                print(f"warning: {name}: {len(stale)} code cell(s) changed since its kept run; "
                      f"re-run it: python book/build.py --run {name}", file=sys.stderr)
        for source in self.pages:
            if source.endswith(".md"):
                self.write_markdown_page(source)
        (self.output / "manifest.json").write_text(json.dumps(self.manifest, indent=1))
        return self.manifest

    @staticmethod
    def stored_run(name):
        path = RUNS / f"{name}.ipynb"
        if not path.exists():
            raise FileNotFoundError(f"no run of {name} in {RUNS}: make it with "
                                    f"`python book/build.py --run {name}`, or build with --fast")
        return nbformat.read(path, as_version=4)

    def banner(self, name, notebook):
        run = notebook.metadata.get("course_run", {})
        if run.get("fast"):
            how = "in fast mode (NST_TEACH_FAST=1: small pictures, few iterations)"
        else:
            how = (f"at full size on {run.get('date', '?')}, in {duration(run.get('seconds', 0))} "
                   f"on {run.get('cpus', '?')} CPU cores{shared_note(run)}")
        return ((TEACHER_BANNER if self.teacher else "") +
                f'<div class="course-banner">This page is notebook <code>{name}.ipynb</code> as it '
                f"ran {how}. To run it yourself, open <code>notebooks/{name}.ipynb</code> from the "
                "repository in Jupyter.</div>")

    def write_markdown_page(self, source):
        text = (ROOT / source).read_text()
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)])
        notebook.metadata["title"] = next(
            (line.lstrip("# ").strip() for line in text.splitlines() if line.startswith("#")),
            Path(source).stem)
        banner = INDEX_BANNER if self.pages[source] == "index.html" else ""
        if self.teacher and banner:
            banner = TEACHER_BANNER + banner
        self.write_page(source, notebook, banner=banner)

    def write_page(self, source, notebook, banner=""):
        from nbconvert import HTMLExporter

        target = self.pages[source]
        depth = "../" * target.count("/")
        maths = []
        for cell in notebook.cells:
            if cell.cell_type == "markdown":
                cell.source = self.relink(maths_to_placeholders(cell.source, maths), source)
        if "title" not in notebook.metadata:
            heading = next((c.source for c in notebook.cells if c.cell_type == "markdown"), "")
            notebook.metadata["title"] = heading.splitlines()[0].lstrip("# ") if heading else source
        exporter = HTMLExporter(template_name="course", extra_template_basedirs=[str(TEMPLATES)])
        page, _ = exporter.from_notebook_node(notebook, resources={
            "course_nav": self.nav(source, depth), "course_banner": banner})
        for index, mathml in enumerate(maths):
            page = page.replace(placeholder(index), mathml)
        (self.output / target).parent.mkdir(parents=True, exist_ok=True)
        (self.output / target).write_text(page)

    def relink(self, markdown, source):
        """Links to notebooks and docs -> their pages; pictures beside a doc are copied along."""
        folder = Path(source).parent

        def replace(match):
            text, href = match.group(1), match.group(2)
            if re.match(r"[a-z]+:|#", href):
                return match.group(0)
            path, _, anchor = href.partition("#")
            repo_path = os.path.normpath(folder / path).replace(os.sep, "/")
            if repo_path in self.pages:
                site_path = self.pages[repo_path]
            elif (ROOT / repo_path).is_file() and repo_path.startswith(("docs/", "notebooks/")):
                site_path = repo_path.removeprefix("notebooks/")
                (self.output / site_path).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(ROOT / repo_path, self.output / site_path)
            else:
                raise ValueError(f"{source} links to {href!r}, which the course site does not "
                                 "have: link to a notebook, a page in docs/ or a picture there")
            here = self.pages[source]
            relative = os.path.relpath(site_path, os.path.dirname(here) or ".").replace(os.sep, "/")
            return f"{text}({relative}{'#' + anchor if anchor else ''})"

        return re.sub(r"(!?\[[^\]]*\])\(([^)\s]+)\)", replace, markdown)

    def nav(self, source, depth):
        names = notebook_names()
        links = [f'<a href="{depth}index.html">Contents</a>']
        current = Path(source).stem
        if current in names:
            at = names.index(current)
            if at > 0:
                links.append(f'<a href="{names[at - 1]}.html">&larr; {names[at - 1]}</a>')
            if at + 1 < len(names):
                links.append(f'<a href="{names[at + 1]}.html">{names[at + 1]} &rarr;</a>')
        links += ['<span class="spacer"></span>',
                  f'<a href="{depth}docs/teaching.html">Teacher\'s guide</a>']
        return f'<nav class="course-nav">{"".join(links)}</nav>'


def duration(seconds):
    """'73 seconds', '24 minutes': how long a run took, as the banner of its page says it."""
    return f"{seconds:.0f} seconds" if seconds < 90 else f"{round(seconds / 60)} minutes"


def placeholder(index):
    return f"COURSEMATH{index:04d}X"


def maths_to_placeholders(markdown, maths):
    """$...$ and $$...$$ outside code -> placeholders; `maths` gets their MathML.

    The page is offline, so no MathJax: Chromium and Firefox draw MathML themselves.
    """
    from latex2mathml.converter import convert

    def replace(match):
        display = match.group(1) is not None
        latex = match.group(1) if display else match.group(2)
        maths.append(convert(latex.strip(), display="block" if display else "inline"))
        return placeholder(len(maths) - 1)

    parts = re.split(r"(```.*?```|`[^`\n]*`)", markdown, flags=re.S)
    return "".join(part if part.startswith("`") else
                   re.sub(r"\$\$(.+?)\$\$|\$([^$\n]+?)\$", replace, part, flags=re.S)
                   for part in parts)


# --- the teacher's guide's numbers, from the kept runs -----------------------------------------

LESSONS = (  # (lesson, its notebooks as the guide names them, their files, exercises)
    ("1. The set-up and the network", "01 set-up check, 02 images and VGG",
     ("01_setup", "02_images_and_vgg"), "none"),
    ("2. What the losses measure", "03 content loss, 04 style loss",
     ("03_content_loss", "04_style_loss"), "content loss; Gram matrix; the book's style loss"),
    ("3. Smoothness and the optimiser", "05 total variation, 06 optimisation",
     ("05_total_variation", "06_optimisation"), "total-variation loss; the Evaluator"),
    ("4. Playing", "07 playground", ("07_playground",), "free experiments"),
    ("5. (optional) Beyond the book",
     "08 fast style transfer, 09 beyond the book, 10 beyond the Gram matrix",
     ("08_fast_style_transfer", "09_beyond_the_book", "10_beyond_the_gram_matrix"),
     "the sliced distance (10)"),
)
RUN_NUMBERS = re.compile(r"(<!-- runs: ([\w ]+?) -->)(.*?)(<!-- runs: end -->)", re.S)


def kept_runs():
    """{notebook: its kept run's metadata (seconds, memory, load...)}, from book/runs/.

    A notebook without a kept run yet is left out (its tables say "not run yet").
    """
    return {name: nbformat.read(RUNS / f"{name}.ipynb", as_version=4).metadata["course_run"]
            for name in notebook_names() if (RUNS / f"{name}.ipynb").exists()}


def run_numbers(runs):
    """The texts docs/teaching.md shows between its `<!-- runs: NAME -->` markers.

    A notebook whose kept run is a fast-mode one has no full-size figures: it says so.
    """
    full = {name: run for name, run in runs.items() if not run.get("fast")}
    minutes = {name: run["seconds"] / 60 for name, run in full.items()}
    names = list(runs)
    unknown = "fast-mode run only"
    lessons = ["| lesson | notebooks | exercises | run, full size |", "| --- | --- | --- | --- |"]
    for lesson, titles, notebooks, exercises in LESSONS:
        lessons.append(f"| {lesson} | {titles} | {exercises} | " + " + ".join(
            f"{minutes[n]:.1f} min" if n in minutes else unknown if n in runs else "not run yet"
            for n in notebooks) + " |")
    cell = lambda n, text: text if n in full else unknown  # noqa: E731
    table = ["| notebook | " + " | ".join(name[:2] for name in names) + " |",
             "| --- |" + " --- |" * len(names),
             "| run, full size | " + " | ".join(cell(n, f"{minutes.get(n, 0):.1f} min") for n in names) + " |",
             "| kernel memory, full size | " + " | ".join(cell(n, f"{runs[n]['kernel_peak_memory_mb'] / 1024:.1f} GB")
                                                      for n in names) + " |",
             "| load average at the end | " + " | ".join(
                 cell(n, f"{runs[n].get('load_average_after', 0):g}") for n in names) + " |",
             "| run on | " + " | ".join(runs[n].get("date", "") for n in names) + " |"]
    # by the GB the table shows, ties to the later notebook: as classroom/kubernetes/sizing.py reads it
    largest = max(full, key=lambda n: (round(full[n]["kernel_peak_memory_mb"] / 1024, 1), n))
    together = [n for n in names[2:6]]
    return {
        "lesson plan": "\n" + "\n".join(lessons) + "\n",
        "notebooks": "\n" + "\n".join(table) + "\n",
        "03 to 06": (f"{sum(minutes[n] for n in together):.0f} minutes" if all(n in minutes for n in together)
                     else "not known: " + ", ".join(n[:2] for n in together if n not in minutes)
                     + " have fast-mode runs only"),
        "largest kernel": f"notebook {largest[:2]}'s, reached "
                          f"{full[largest]['kernel_peak_memory_mb'] / 1024:.1f} GB",
    }


def with_run_numbers(text, runs=None):
    """`text` (docs/teaching.md) with the kept runs' numbers between its markers."""
    numbers = run_numbers(runs or kept_runs())

    def replace(match):
        if match.group(2) not in numbers:
            raise ValueError(f"docs/teaching.md asks for run numbers {match.group(2)!r}; "
                             f"book/build.py makes {', '.join(numbers)}")
        return match.group(1) + numbers[match.group(2)] + match.group(4)

    return RUN_NUMBERS.sub(replace, text)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python book/build.py", description=__doc__.split("\n")[0])
    parser.add_argument("--fast", action="store_true",
                        help="run every notebook in fast mode and build from those runs "
                             "(with --run: keep fast-mode runs in book/runs/)")
    parser.add_argument("--run", nargs="+", metavar="NOTEBOOK",
                        help="first run these notebooks at full size and keep them in book/runs/ "
                             "('all': every one), then build from book/runs/")
    parser.add_argument("--teacher", action="store_true",
                        help="the teacher's site, with the exercises' answers "
                             f"(default folder {TEACHER_OUTPUT})")
    parser.add_argument("--docs", action="store_true",
                        help="also write the kept runs' times and memory into docs/teaching.md")
    parser.add_argument("-o", "--output", help=f"default {OUTPUT}")
    args = parser.parse_args(argv)
    for name in (notebook_names() if args.run == ["all"] else args.run or []):
        if name.removesuffix(".ipynb") not in notebook_names():
            parser.error(f"no notebook {name!r}; choose from {', '.join(notebook_names())} or all")
        store_run(name.removesuffix(".ipynb"), fast=args.fast)
    if args.docs:
        TEACHING.write_text(with_run_numbers(TEACHING.read_text()))
        sizing = runpy.run_path(str(ROOT / "classroom" / "kubernetes" / "sizing.py"))
        sizing["write"]()  # the class's sizing follows the kept runs' memory and times
        print(f"{TEACHING.relative_to(ROOT)}: the kept runs' numbers and the sizing written "
              "(classroom/kubernetes/config.yaml must match: tests/test_kubernetes.py checks it)")
    args.output = args.output or str(TEACHER_OUTPUT if args.teacher else OUTPUT)
    manifest = Site(args.output, teacher=args.teacher).build(fast=args.fast and not args.run)
    figures = sum(page["figures"] for page in manifest.values())
    print(f"The course site: {Path(args.output) / 'index.html'} "
          f"({len(manifest)} notebook pages, {figures} figures)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
