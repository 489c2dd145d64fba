"""Reading a submission: a folder, a .zip of one, or a single file, into memory.

Only the course's files are taken (optim.py, layers.py, layer_utils.py, fc_net.py, one
notebook), each at most MAX_FILE_BYTES. Zip entries that would escape the folder, and
archives whose contents would inflate past MAX_ZIP_BYTES, are refused.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

MODULES = ("optim.py", "layers.py", "layer_utils.py", "fc_net.py")
MAX_FILE_BYTES = 1 << 20
MAX_ZIP_BYTES = 64 << 20
MAX_DEPTH = 4


class SubmissionInputError(Exception):
    """A path that is not a submission at all; the message names it and says why."""


class _Unreadable(Exception):
    """One file or archive that cannot be taken: the submission is graded without it."""


@dataclass
class Submission:
    name: str
    files: dict[str, bytes] = field(default_factory=dict)   # "optim.py" -> source bytes
    notebook: tuple[str, bytes] | None = None                # (file name, bytes)
    warnings: list[str] = field(default_factory=list)


def read(path: Path) -> Submission:
    path = Path(path)
    if not path.exists():
        raise SubmissionInputError(f"{path}: no such file or folder")
    if path.is_dir():
        entries = {p.relative_to(path).as_posix(): p for p in _walk(path)}
        submission = _collect(path.name, entries, lambda p: _read_capped(p))
    elif path.suffix == ".zip" or zipfile.is_zipfile(path):
        try:
            submission = _read_zip(path)
        except _Unreadable as e:
            submission = Submission(path.stem, warnings=[str(e)])
    elif path.suffix in (".py", ".ipynb"):
        submission = _collect(path.stem, {_course_name(path): path}, lambda p: _read_capped(p))
    else:
        raise SubmissionInputError(f"{path}: expected a folder, a .zip, a .py or an .ipynb file")
    if not submission.files and submission.notebook is None:
        submission.warnings.append(f"{path}: holds none of {', '.join(MODULES)} or a notebook")
    return submission


def _course_name(path: Path) -> str:
    """A lone .py file's course name: its own, or guessed from the functions it defines."""
    if path.suffix != ".py" or path.name in MODULES:
        return path.name
    head = path.read_bytes()[:MAX_FILE_BYTES]
    return "optim.py" if b"def adam" in head else "layers.py" if b"def affine_forward" in head else path.name


def _walk(root: Path, depth: int = 0):
    for p in sorted(root.iterdir()):
        if p.name.startswith((".", "__MACOSX")) or p.is_symlink():
            continue
        if p.is_dir() and depth < MAX_DEPTH:
            yield from _walk(p, depth + 1)
        elif p.is_file():
            yield p


def _read_capped(path: Path) -> bytes:
    with open(path, "rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise _Unreadable(f"{path.name}: larger than {MAX_FILE_BYTES >> 20} MB; not graded")
    return data


def _collect(name: str, entries: dict, read_entry) -> Submission:
    """Pick the course files from `entries` (relative posix path -> handle), shallowest first."""
    submission = Submission(name)
    by_depth = sorted(entries, key=lambda rel: (rel.count("/"), rel))
    for rel in by_depth:
        base = PurePosixPath(rel).name
        try:
            if base in MODULES and base not in submission.files:
                submission.files[base] = read_entry(entries[rel])
            elif base.endswith(".ipynb") and ".ipynb_checkpoints" not in rel:
                if submission.notebook is None:
                    submission.notebook = (base, read_entry(entries[rel]))
                else:
                    submission.warnings.append(f"more than one notebook; graded {submission.notebook[0]}, ignored {rel}")
        except _Unreadable as e:
            submission.warnings.append(str(e))
    return submission


def _read_zip(path: Path) -> Submission:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise _Unreadable(f"{path.name}: not a readable zip archive ({e})") from None
    with archive:
        infos, refused = {}, []
        for info in archive.infolist():
            parts = PurePosixPath(info.filename.replace("\\", "/")).parts
            if info.filename.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
                refused.append(info.filename)
            elif not info.is_dir() and not info.filename.startswith("__MACOSX"):
                infos[PurePosixPath(*parts).as_posix()] = info
        wanted = [i for rel, i in infos.items() if PurePosixPath(rel).name in MODULES or rel.endswith(".ipynb")]
        if sum(i.file_size for i in wanted) > MAX_ZIP_BYTES:
            raise _Unreadable(f"{path.name}: its course files would inflate to more than "
                              f"{MAX_ZIP_BYTES >> 20} MB (a zip bomb?); nothing graded")
        submission = _collect(path.stem, infos, lambda info: _read_zip_entry(archive, info, path))
    if refused:
        submission.warnings.append(f"{path.name}: ignored {len(refused)} entries with unsafe paths "
                                   f"(absolute or '..'): {', '.join(refused[:3])}")
    return submission


def _read_zip_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> bytes:
    try:
        with archive.open(info) as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as e:
        raise _Unreadable(f"{path.name}: cannot read {info.filename} ({e}); not graded") from None
    if len(data) > MAX_FILE_BYTES:
        raise _Unreadable(f"{path.name}: {info.filename} inflates to more than {MAX_FILE_BYTES >> 20} MB; not graded")
    return data
