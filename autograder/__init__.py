"""The course's grading engine and its ``course`` command line.

Grading is a pipeline of small steps, one module each:

collect -> prepare -> execute -> score -> record -> report

``collect`` finds submissions, ``prepare`` runs nbgrader's own sanitizing
preprocessors (restoring locked and test cells from the gradebook), ``execute`` runs
one bounded kernel per submission, ``score`` applies nbgrader's grading rule to the
executed cells outside the student's kernel, ``record`` is the one writer to the
gradebook, and ``report`` writes the CSV and prints the summary.
"""

import sys

__version__ = "0.3.0"

# Start-up time: jsonschema (imported by nbformat and nbgrader) builds 38 parsers for
# its optional IRI format checks from the rfc3987_syntax package, about 2 s of CPU in
# every grader process. The notebook schema uses no IRI format, so the grader declines
# that optional import (jsonschema then simply has no IRI checker). Only when nothing
# has imported either module yet; kernels and JupyterLab are other processes.
if "jsonschema" not in sys.modules and "rfc3987_syntax" not in sys.modules:
    sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]
