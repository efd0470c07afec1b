"""nbgrader configuration of the course (read by nbgrader and by the `course` command)."""

import os

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file

c.CourseDirectory.course_id = "difftf"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
# Assignment sources live in the repository's assignments/ folder, beside this one.
c.CourseDirectory.source_directory = os.path.join("..", "assignments")

# TensorFlow cells take far longer than nbgrader's 30 s default: a whole training run
# may sit in one cell. Per-cell limit in seconds.
c.Execute.timeout = 300
# Student versions get this stub where a solution region was.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
# Released notebooks are written by nbgrader; the released files stay writable.
c.ClearSolutions.enforce_metadata = True

# The exchange (formgrader's Release/Collect, the students' Assignments tab) inside the course
# folder, instead of /usr/local/share/nbgrader/exchange, which a normal user cannot create.
c.Exchange.root = os.path.join(c.CourseDirectory.root, "exchange")
