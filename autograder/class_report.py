"""`course report`: what an instructor looks at after grading a class.

Reads nbgrader's gradebook (per-test points) and grades.csv (status, time), and
writes into reports/<assignment>/: tests.csv (pass rate per test), three plots as
PNG (score histogram, pass rate per test, grading time per submission) and
index.html, which shows all of it on one page.
"""

from __future__ import annotations

import csv
import html
from collections import defaultdict
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from autograder.coursedir import Course, CourseError


def per_test_points(course: Course, assignment_id: str) -> dict[str, list[tuple[float, float]]]:
    """grade_id -> [(score, max_score) for every graded submission], from the gradebook."""
    points: dict[str, list[tuple[float, float]]] = defaultdict(list)
    with Gradebook(course.db_url, course.coursedir.course_id) as gb:
        try:
            submissions = gb.find_assignment(assignment_id).submissions
        except MissingEntry:
            hint = f"run `course grade {assignment_id}` first"
            raise CourseError(f"{assignment_id} is not in the gradebook: {hint}.") from None
        for submission in submissions:
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    if grade.max_score:
                        points[f"{notebook.name}/{grade.name}"].append((grade.score or 0.0, grade.max_score))
    return dict(points)


def read_grades(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise CourseError(f"{path} is missing: run `course grade` for this assignment first.")
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def write_plots(folder: Path, grades: list[dict[str, str]], rates: dict[str, float]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    scores = [float(r["score"]) for r in grades]
    top = max((float(r["max_score"]) for r in grades), default=1.0)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(scores, bins=min(20, max(5, len(scores) // 2)), range=(0, top or 1), color="#4c72b0")
    ax.set(title="Scores", xlabel=f"score (of {top:g})", ylabel="submissions")
    names.append(save(fig, folder / "score_histogram.png"))

    fig, ax = plt.subplots(figsize=(6, 0.4 * len(rates) + 1.5))
    ax.barh(list(rates), [100 * v for v in rates.values()], color="#55a868")
    ax.set(title="Pass rate per test", xlabel="% of submissions with full points", xlim=(0, 100))
    ax.invert_yaxis()
    names.append(save(fig, folder / "pass_rate.png"))

    fig, ax = plt.subplots(figsize=(6, 3.5))
    seconds = sorted(float(r.get("seconds") or 0) for r in grades)
    ax.bar(range(len(seconds)), seconds, color="#c44e52")
    ax.set(title="Grading time per submission", xlabel="submissions (sorted)", ylabel="seconds")
    names.append(save(fig, folder / "grading_time.png"))
    return names


def save(fig, path: Path) -> str:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path.name


def build_report(course: Course, assignment_id: str) -> Path:
    """Write the report files and return the path of index.html."""
    folder = course.reports_dir(assignment_id)
    grades = read_grades(folder / "grades.csv")
    points = per_test_points(course, assignment_id)
    rates = {name: sum(s >= m for s, m in pts) / len(pts) for name, pts in sorted(points.items())}
    with open(folder / "tests.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["test", "max_points", "mean_points", "pass_rate", "submissions"])
        for name, pts in sorted(points.items()):
            mean = sum(s for s, _ in pts) / len(pts)
            writer.writerow([name, f"{pts[0][1]:g}", f"{mean:.3g}", f"{rates[name]:.3f}", len(pts)])
    images = write_plots(folder, grades, rates)
    index = folder / "index.html"
    index.write_text(render_html(assignment_id, grades, points, rates, images), encoding="utf-8")
    return index


def render_html(assignment_id: str, grades: list[dict[str, str]], points, rates, images: list[str]) -> str:
    esc = html.escape
    n = len(grades)
    mean = sum(float(r["score"]) for r in grades) / n if n else 0.0
    statuses: dict[str, int] = defaultdict(int)
    for r in grades:
        statuses[r["status"]] += 1
    test_rows = "".join(
        f"<tr><td>{esc(name)}</td><td>{pts[0][1]:g}</td><td>{100 * rates[name]:.0f}%</td></tr>"
        for name, pts in sorted(points.items())
    )
    grade_rows = "".join(
        f"<tr><td>{esc(r['student_id'])}</td><td>{float(r['score']):g} / {float(r['max_score']):g}</td>"
        f"<td>{esc(r['status'])}</td><td>{esc(r['detail'])}</td></tr>"
        for r in grades
    )
    status_text = ", ".join(f"{v} {esc(k)}" for k, v in sorted(statuses.items()))
    imgs = "".join(f'<img src="{esc(name)}" alt="{esc(name)}">' for name in images)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(assignment_id)}: grading report</title>
<style>body{{font-family:sans-serif;max-width:70em;margin:2em auto}}td,th{{padding:.2em .6em;text-align:left}}
table{{border-collapse:collapse}}tr:nth-child(even){{background:#f3f3f3}}img{{max-width:32%;margin:.5%}}</style>
</head><body><h1>{esc(assignment_id)}: grading report</h1>
<p>{n} submission(s), mean score {mean:.3g}; {status_text}. Files: grades.csv, tests.csv.</p>
{imgs}
<h2>Pass rate per test</h2><table><tr><th>test</th><th>points</th><th>pass rate</th></tr>{test_rows}</table>
<h2>Submissions</h2><table><tr><th>student</th><th>score</th><th>status</th><th>detail</th></tr>{grade_rows}</table>
</body></html>
"""
