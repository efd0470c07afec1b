"""The course's grading engine and its ``course`` command line.

Grading is a pipeline of small steps, one module each:

collect -> prepare -> execute -> score -> record -> report

``collect`` finds submissions, ``prepare`` runs nbgrader's own sanitizing
preprocessors (restoring locked and test cells from the gradebook), ``execute`` runs
one bounded kernel per submission, ``score`` applies nbgrader's grading rule to the
executed cells outside the student's kernel, ``record`` is the one writer to the
gradebook, and ``report`` writes the CSV and prints the summary.
"""

__version__ = "0.1.0"
