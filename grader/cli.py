"""`grader`: the command line. Each subcommand is a thin shell over a module."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
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

    train = commands.add_parser("train", help="the homework's training jobs on CIFAR-10 (see --help)",
                                add_help=False)
    train.add_argument("rest", nargs=argparse.REMAINDER)

    data = commands.add_parser("data", help="the CIFAR-10 data")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    fetch = data_commands.add_parser("fetch", help="download the official archive and verify its md5",
                                     add_help=False)
    fetch.add_argument("rest", nargs=argparse.REMAINDER)

    for name, help_text in (("notebook", "execute a notebook against the reference (or a submission's nndl files)"),
                            ("batch", "grade every submission under a folder: reports, gradebook.csv, summary.html"),
                            ("gradescope", "build a Gradescope autograder archive")):
        commands.add_parser(name, help=help_text, add_help=False).add_argument("rest", nargs=argparse.REMAINDER)

    args = parser.parse_args(argv)
    if args.command == "notebook":
        from grader.notebook import main as notebook_main
        return notebook_main(args.rest)
    if args.command == "batch":
        from grader.batch import batch_main
        return batch_main(args.rest)
    if args.command == "gradescope":
        from grader.gradescope import gradescope_main
        return gradescope_main(args.rest)
    if args.command == "train":
        from reference.train import main as train_main
        return train_main(args.rest)
    if args.command == "data":
        from reference.data import fetch_main
        return fetch_main(args.rest)
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
