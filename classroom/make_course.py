"""Make an nbgrader course folder from the course notebooks.

    python classroom/make_course.py COURSE_FOLDER

copies the notebooks with graded exercises into COURSE_FOLDER/source/, one
assignment per notebook, named like the notebook, and adds nbgrader_config.py.
Then, in COURSE_FOLDER: `nbgrader generate_assignment 04_style_loss` makes the
student version (release/), `nbgrader autograde 04_style_loss` scores what is
in submitted/, `nbgrader generate_feedback 04_style_loss` writes feedback/.
Run it again after updating nst-teach to refresh the sources.
See docs/teaching.md.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOTEBOOKS = HERE.parent / "notebooks"
ASSIGNMENTS = ("03_content_loss", "04_style_loss", "05_total_variation", "06_optimisation",
               "10_beyond_the_gram_matrix")


def make_course(folder, assignments=ASSIGNMENTS):
    """Copy each assignment's notebook into `folder`/source/<name>/; return the folder."""
    folder = Path(folder)
    for name in assignments:
        notebook = NOTEBOOKS / f"{name}.ipynb"
        if not notebook.exists():
            raise FileNotFoundError(f"no notebook {notebook}; choose from {', '.join(ASSIGNMENTS)}")
        (folder / "source" / name).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(notebook, folder / "source" / name / notebook.name)
    shutil.copyfile(HERE / "nbgrader_config.py", folder / "nbgrader_config.py")
    return folder


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    course = make_course(sys.argv[1])
    print(f"Course in {course}: cd there and run nbgrader generate_assignment {ASSIGNMENTS[0]}")
