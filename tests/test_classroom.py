"""nbgrader round trip on the real notebooks: release, submit, autograde, feedback.

Offline and in a temporary course folder made by classroom/make_course.py;
the autograder runs notebook 04 in fast mode (classroom/nbgrader_config.py).
"""

import html
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

pytestmark = pytest.mark.slow  # nbgrader in subprocesses

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("make_course", ROOT / "classroom" / "make_course.py")
make_course = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_course)

SOLUTION = re.compile(r"^( *)### BEGIN SOLUTION\n(.*?)^ *### END SOLUTION", re.M | re.S)


def stub(indent="    "):
    """What nbgrader leaves in place of a solution region, at its indentation."""
    return f"{indent}# YOUR CODE HERE\n{indent}raise NotImplementedError()"


def nbgrader(course, *args):
    env = dict(os.environ, PYTHONPATH=str(ROOT), NST_TEACH_OFFLINE="1",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    env.pop("NST_TEACH_FAST", None)  # the course's nbgrader_config.py must set it
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and "| ERROR]" not in done.stderr, done.stderr[-3000:]


def cells_by_id(path):
    """Graded cells of a notebook by their nbgrader grade_id."""
    notebook = nbformat.read(path, as_version=4)
    return {cell.metadata["nbgrader"]["grade_id"]: cell
            for cell in notebook.cells if "nbgrader" in cell.metadata}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = make_course.make_course(tmp_path_factory.mktemp("course"))
    for name in make_course.ASSIGNMENTS:
        nbgrader(course, "generate_assignment", name)
    return course


@pytest.mark.parametrize("name", make_course.ASSIGNMENTS)
def test_the_student_version_has_no_solution_left(course, name):
    source = cells_by_id(course / "source" / name / f"{name}.ipynb")
    release = cells_by_id(course / "release" / name / f"{name}.ipynb")
    assert source.keys() == release.keys()
    solutions = [grade_id for grade_id, cell in source.items() if cell.metadata.nbgrader.solution]
    assert solutions, "every assignment has an exercise"
    for grade_id in solutions:
        answers = [region.group(2) for region in SOLUTION.finditer(source[grade_id].source)]
        given = release[grade_id].source
        assert answers and "SOLUTION" not in given
        expected = SOLUTION.sub(lambda region: stub(region.group(1)), source[grade_id].source)
        assert given == expected
        assert not any(answer.strip() in given for answer in answers)
        checks = source[grade_id + "_check"]
        assert checks.metadata.nbgrader.points == 1
        assert release[grade_id + "_check"].source == checks.source


def submit(course, student, answers):
    """Fill in the release of notebook 04 with `answers` (grade_id -> function body)."""
    name = "04_style_loss"
    notebook = nbformat.read(course / "release" / name / f"{name}.ipynb", as_version=4)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            assert stub() in cell.source
            cell.source = cell.source.replace(stub(), answers[grade_id])
    folder = course / "submitted" / student / name
    folder.mkdir(parents=True)
    nbformat.write(notebook, folder / f"{name}.ipynb")


def test_autograde_scores_a_right_and_a_wrong_answer_and_names_the_mistake(course):
    source = cells_by_id(course / "source" / "04_style_loss" / "04_style_loss.ipynb")
    right = {grade_id: SOLUTION.search(source[grade_id].source).group(2).rstrip("\n")
             for grade_id in ("gram_matrix", "style_loss")}
    layer_positions = ("    h, w = combination.shape[1:3]\n"
                       "    difference = style_gram - gram_matrix(combination)\n"
                       "    return tf.reduce_sum(tf.square(difference)) / (36.0 * (h * w) ** 2)")
    submit(course, "ada", right)
    submit(course, "bob", dict(right, style_loss=layer_positions))
    nbgrader(course, "autograde", "04_style_loss")
    nbgrader(course, "generate_feedback", "04_style_loss")

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        def score(student, grade_id):
            return gradebook.find_grade(grade_id, "04_style_loss", "04_style_loss", student).score

        ada = gradebook.find_submission("04_style_loss", "ada")
        bob = gradebook.find_submission("04_style_loss", "bob")
        assert (ada.score, ada.max_score) == (2, 2)
        assert (bob.score, bob.max_score) == (1, 2)
        assert score("bob", "gram_matrix_check") == 1 and score("bob", "style_loss_check") == 0

    def feedback(student):
        path = course / "feedback" / student / "04_style_loss" / "04_style_loss.html"
        return html.unescape(path.read_text())

    assert "✓ style_loss is correct" in feedback("ada") and "ExerciseError" not in feedback("ada")
    assert "ExerciseError" in feedback("bob")
    assert "style_loss: you used the layer's own positions h*w" in feedback("bob")
    assert "✓ gram_matrix is correct" in feedback("bob")
