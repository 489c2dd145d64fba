"""`grader`: the command line. Each subcommand is a thin shell over a module."""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path


DELEGATED = {   # subcommands with their own argument parser: command -> (module, function)
    "train": ("reference.train", "main"),
    "notebook": ("grader.notebook", "main"),
    "batch": ("grader.batch", "batch_main"),
    "gradescope": ("grader.gradescope", "gradescope_main"),
    "data fetch": ("reference.data", "fetch_main"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    for words in (1, 2):
        if " ".join(argv[:words]) in DELEGATED:
            module, function = DELEGATED[" ".join(argv[:words])]
            return getattr(importlib.import_module(module), function)(argv[words:])
    parser = argparse.ArgumentParser(prog="grader", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    grade = commands.add_parser("grade", help="grade a submission against the reference and write reports")
    grade.add_argument("path", type=Path, help="a folder, a .zip of one, or a single .py file")
    grade.add_argument("-o", "--out", type=Path, required=True, help="folder for report.json, results.json, report.md")
    grade.add_argument("--data-dir", type=Path, help="CIFAR-10 for a notebook submission (default: $CIFAR10_DIR)")
    _common(grade)

    check = commands.add_parser("check", help="the student's self-check: public checks only")
    check.add_argument("path", type=Path)
    _common(check)

    for name, help_text in (("train", "the homework's training jobs on CIFAR-10"),
                            ("data", "`grader data fetch`: download the official CIFAR-10 archive, md5-verified"),
                            ("notebook", "execute a notebook against the reference (or a submission's nndl files)"),
                            ("batch", "grade every submission under a folder: reports, gradebook.csv, summary.html"),
                            ("gradescope", "`grader gradescope build`: a Gradescope autograder archive")):
        commands.add_parser(name, help=help_text)

    args = parser.parse_args(argv)
    return _grade(args, public_only=args.command == "check")


def _common(parser: argparse.ArgumentParser) -> None:
    from grader.profiles import PROFILES
    parser.add_argument("--rubric", type=Path, help="a rubric TOML file (default: the packaged one)")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="ucla-w21")


def _grade(args: argparse.Namespace, public_only: bool) -> int:
    from grader import report, rubric, submission
    from grader.grade import grade
    from grader.profiles import PROFILES
    try:
        chosen = rubric.load(args.rubric)
        sub = submission.read(args.path)
    except (rubric.RubricError, submission.SubmissionInputError) as e:
        print(f"grader: {e}", file=sys.stderr)
        return 2
    result = (grade(sub, chosen, PROFILES[args.profile], public_only=True) if public_only else
              grade(sub, chosen, PROFILES[args.profile], data_dir=args.data_dir, notebook_out=args.out / "notebook"))
    if public_only:
        print(report.markdown(result))
        print(report.table(result))
        return 0 if all(c.status == "passed" for c in result.checks) else 1
    report.write_reports(result, args.out)
    print(report.table(result))
    print(f"reports written to {args.out}/ (report.json, results.json, report.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
