"""nbgrader's settings for a course made by make_course.py (see docs/teaching.md)."""

import os

c = get_config()  # noqa: F821 (nbgrader provides it)

c.CourseDirectory.course_id = "nst-teach"

# Grade in fast mode: the checks do not depend on the image size, and the
# notebooks at full size take minutes each on a laptop, per student.
# Run with NST_TEACH_FAST=0 to grade at full size.
os.environ.setdefault("NST_TEACH_FAST", "1")

# Seconds per cell. nbgrader's default, 30, is too short for a style transfer
# on a busy CPU; a cell that runs out of time scores zero.
c.Execute.timeout = 600
