"""CIFAR-10 (python version) reading, md5 verification and download.

Sources: a `cifar-10-batches-py` folder, a folder holding it, or the official archive
`cifar-10-python.tar.gz` (the file itself or a folder holding it), read in place.
The folder comes from an explicit argument, else the CIFAR10_DIR environment variable;
nothing is downloaded implicitly (`fetch_cifar10` does it on request).

Checksums: an MD5SUMS file (md5sum format, matched by file name) in the batches folder
or its parent, or beside the archive, is used when present; otherwise the official sums.
Every problem with the data raises DatasetError.
"""

import argparse
import codecs
import hashlib
import os
import pickle
import re
import sys
import tarfile
import tempfile
import urllib.request
import zlib
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import numpy as np
from numpy.typing import DTypeLike

OFFICIAL_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
OFFICIAL_MD5 = "c58f30108f718f92721af3b95e74349a"
ARCHIVE_NAME = "cifar-10-python.tar.gz"
BATCH_DIR = "cifar-10-batches-py"
ENV_VAR = "CIFAR10_DIR"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
DATA_FILES = TRAIN_FILES + (TEST_FILE,)
OFFICIAL_FILE_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
}
ROW_SIZE = 3 * 32 * 32
NUM_CLASSES = 10
CHUNK_ROWS = 1000
_READ_BYTES = 1 << 20
_MD5SUMS_LINE = re.compile(r"([0-9a-fA-F]{32}) [ *](.+)")
_MD5_CACHE: dict[tuple[str, int, int], str] = {}
_RECONSTRUCT = np.zeros(0).__reduce__()[0]
_FROMBUFFER = np.zeros(0).__reduce_ex__(5)[0]
_HELP = (
    f"CIFAR-10 (python version) is needed: put the folder {BATCH_DIR}, or the archive "
    f"{ARCHIVE_NAME}, in a folder and pass that folder as data_dir (--data-dir) or set "
    f"the environment variable {ENV_VAR} to it. Official archive: {OFFICIAL_URL} "
    f"(md5 {OFFICIAL_MD5}); `grader data fetch --dest DIR` downloads and verifies it."
)


class DatasetError(Exception):
    """The data is missing, unverified or unreadable; str() names the file, the problem and the fix."""

    def __init__(self, where: str | Path, problem: str) -> None:
        self.where = str(where)
        self.problem = problem
        super().__init__(f"CIFAR-10 data error: {where}: {problem}.\n{_HELP}")


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that builds only numpy arrays, dtypes and latin-1 bytes (no other globals)."""

    _SAFE = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
        ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
        ("numpy.core.numeric", "_frombuffer"): _FROMBUFFER,
        ("numpy._core.numeric", "_frombuffer"): _FROMBUFFER,
        ("_codecs", "encode"): codecs.encode,
    }

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self._SAFE:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")
        return self._SAFE[(module, name)]


def md5_file(path: Path) -> str:
    """Hex md5 of a file, cached in memory by (resolved path, size, mtime_ns)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _MD5_CACHE:
        digest = hashlib.md5()
        with path.open("rb") as handle:
            while chunk := handle.read(_READ_BYTES):
                digest.update(chunk)
        _MD5_CACHE[key] = digest.hexdigest()
    return _MD5_CACHE[key]


def read_md5sums(path: Path) -> dict[str, str]:
    """md5sum-format lines `<32 hex>  name` or `<32 hex> *name` -> {base name: lowercase hex}."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(path, f"cannot be read ({exc})") from None
    sums = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        match = _MD5SUMS_LINE.fullmatch(line)
        if match is None:
            raise DatasetError(path, f"line {number} is not in md5sum format: {line!r}")
        sums[PurePosixPath(match.group(2)).name] = match.group(1).lower()
    return sums


def _expected_sums(folders: Sequence[Path], official: dict[str, str]) -> tuple[dict[str, str], str]:
    """The first MD5SUMS found in folders, else the official sums -> (sums, their source)."""
    for folder in folders:
        if (folder / "MD5SUMS").is_file():
            return read_md5sums(folder / "MD5SUMS"), str(folder / "MD5SUMS")
    return official, "the official CIFAR-10 md5 sums"


def _check_md5(path: Path, sums: dict[str, str], source: str) -> None:
    """Raise DatasetError unless path exists and its md5 is the one sums gives its name."""
    if not path.is_file():
        raise DatasetError(path, "file is missing")
    if path.name not in sums:
        raise DatasetError(path, f"file is not listed in {source}")
    try:
        actual = md5_file(path)
    except OSError as exc:
        raise DatasetError(path, f"cannot be read ({exc})") from None
    if actual != sums[path.name]:
        raise DatasetError(
            path,
            f"md5 mismatch: file has {actual}, {source} says {sums[path.name]} "
            "(truncated, corrupted or not the expected data)",
        )


def _field(entry: dict, name: str, where: str) -> object:
    """entry[name] or entry[name as bytes]."""
    for key in (name, name.encode()):
        if key in entry:
            return entry[key]
    raise DatasetError(where, f"pickle has no '{name}' entry (keys: {sorted(map(repr, entry))})")


def _parse_batch(entry: object, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Pickled dict -> (data uint8 (n, 3072), labels int64 (n,)), shapes and values checked."""
    if not isinstance(entry, dict):
        raise DatasetError(where, f"pickle holds a {type(entry).__name__}, not a dict")
    data = _field(entry, "data", where)
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
            and data.shape[1] == ROW_SIZE):
        shape, dtype = getattr(data, "shape", None), getattr(data, "dtype", type(data).__name__)
        raise DatasetError(where, f"'data' has shape {shape} and dtype {dtype}; "
                                  f"expected a uint8 array of shape (rows, {ROW_SIZE})")
    try:
        labels = np.asarray(_field(entry, "labels", where), dtype=np.int64)
    except (TypeError, ValueError) as exc:
        raise DatasetError(where, f"'labels' are not integers ({exc})") from None
    if labels.shape != (len(data),):
        raise DatasetError(where, f"'labels' has shape {labels.shape}; expected ({len(data)},)")
    if labels.size and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise DatasetError(where, f"'labels' fall outside 0..{NUM_CLASSES - 1}")
    return data, labels


def _read_batch(handle: BinaryIO, where: str) -> tuple[np.ndarray, np.ndarray]:
    """One pickled batch (bytes or str keys) -> (data (n, 3072) uint8, labels (n,) int64)."""
    try:
        entry = _ArrayUnpickler(handle, encoding="bytes").load()
    except Exception as exc:  # pickle raises many types on damaged input
        raise DatasetError(where, f"not a readable pickle ({type(exc).__name__}: {exc})") from None
    return _parse_batch(entry, where)


def _load_folder(batches: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """Verified batches of a cifar-10-batches-py folder, in DATA_FILES order."""
    sums, source = _expected_sums([batches, batches.parent], OFFICIAL_FILE_MD5)
    for name in DATA_FILES:
        _check_md5(batches / name, sums, source)
    loaded = []
    for name in DATA_FILES:
        try:
            with (batches / name).open("rb") as handle:
                loaded.append(_read_batch(handle, str(batches / name)))
        except OSError as exc:
            raise DatasetError(batches / name, f"cannot be read ({exc})") from None
    return loaded


def _load_archive(archive: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """Verified batches of a cifar-10-python.tar.gz, read in place, in DATA_FILES order."""
    sums, source = _expected_sums([archive.parent], {archive.name: OFFICIAL_MD5})
    _check_md5(archive, sums, source)
    found = {}
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                member_path = PurePosixPath(member.name)
                if member.isfile() and member_path.parent.name == BATCH_DIR \
                        and member_path.name in DATA_FILES:
                    with tar.extractfile(member) as handle:
                        found[member_path.name] = _read_batch(handle, f"{archive}:{member.name}")
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise DatasetError(archive, f"not a readable tar archive ({type(exc).__name__}: {exc})") from None
    missing = [name for name in DATA_FILES if name not in found]
    if missing:
        raise DatasetError(archive, f"archive has no member {BATCH_DIR}/{missing[0]}")
    return [found[name] for name in DATA_FILES]


def locate(root: Path) -> Path:
    """A data root -> the cifar-10-batches-py folder or the archive file to read.

    Order: root itself if a file or a batches folder, root/cifar-10-batches-py,
    root/cifar-10-python.tar.gz.
    """
    if not root.exists():
        raise DatasetError(root, "does not exist")
    if root.is_file() or root.name == BATCH_DIR or (root / TRAIN_FILES[0]).exists():
        return root
    if (root / BATCH_DIR).is_dir():
        return root / BATCH_DIR
    if (root / ARCHIVE_NAME).is_file():
        return root / ARCHIVE_NAME
    raise DatasetError(root, f"no {BATCH_DIR} folder or {ARCHIVE_NAME} archive found here")


def load_CIFAR10(root: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Verified CIFAR-10 -> (X_train, y_train, X_test, y_test).

    X: uint8 (N, 3, 32, 32) (channels R, G, B); y: int64 (N,). N is 50,000 and 10,000
    for the official data (any row counts are accepted).
    """
    source = locate(Path(root))
    batches = _load_archive(source) if source.is_file() else _load_folder(source)
    x_train = np.concatenate([data for data, _ in batches[:-1]]).reshape(-1, 3, 32, 32)
    y_train = np.concatenate([labels for _, labels in batches[:-1]])
    x_test, y_test = batches[-1]
    return x_train, y_train, x_test.reshape(-1, 3, 32, 32), y_test


def resolve_data_dir(data_dir: str | Path | None) -> Path:
    """data_dir if given, else $CIFAR10_DIR; DatasetError if neither."""
    if data_dir is not None:
        return Path(data_dir)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    raise DatasetError("(no data folder)", f"no data_dir was given and {ENV_VAR} is not set")


def _to_float(images: np.ndarray, mean: np.ndarray | None, dtype: DTypeLike) -> np.ndarray:
    """uint8 (N, 3, 32, 32) -> dtype (N, 3, 32, 32), minus mean (float64), CHUNK_ROWS at a time."""
    out = np.empty(images.shape, dtype=dtype)
    for start in range(0, len(images), CHUNK_ROWS):
        block = images[start:start + CHUNK_ROWS].astype(np.float64)
        if mean is not None:
            block -= mean
        out[start:start + CHUNK_ROWS] = block
    return out


def get_CIFAR10_data(
    num_training: int = 49000,
    num_validation: int = 1000,
    num_test: int | None = 1000,
    subtract_mean: bool = True,
    data_dir: str | Path | None = None,
    dtype: DTypeLike = np.float64,
) -> dict[str, np.ndarray]:
    """Course splits -> {X_train, y_train, X_val, y_val, X_test, y_test}.

    X_*: dtype (N, 3, 32, 32); y_*: int64 (N,). Train = first num_training training rows,
    val = the next num_validation, test = first num_test test rows (all when None); the
    training mean image (float64) is subtracted from all three when subtract_mean.
    """
    x_train, y_train, x_test, y_test = load_CIFAR10(resolve_data_dir(data_dir))
    num_test = len(x_test) if num_test is None else num_test
    if num_training + num_validation > len(x_train) or num_test > len(x_test):
        raise ValueError(
            f"asked for {num_training}+{num_validation} training and {num_test} test rows; "
            f"the data has {len(x_train)} and {len(x_test)}"
        )
    train = slice(0, num_training)
    val = slice(num_training, num_training + num_validation)
    mean = x_train[train].mean(axis=0, dtype=np.float64) if subtract_mean else None
    return {
        "X_train": _to_float(x_train[train], mean, dtype), "y_train": y_train[train],
        "X_val": _to_float(x_train[val], mean, dtype), "y_val": y_train[val],
        "X_test": _to_float(x_test[:num_test], mean, dtype), "y_test": y_test[:num_test],
    }


def _download(url: str, out: BinaryIO) -> str:
    """Copy url into out -> hex md5 of the bytes; DatasetError on any transfer failure."""
    digest = hashlib.md5()
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            while chunk := response.read(_READ_BYTES):
                digest.update(chunk)
                out.write(chunk)
    except (OSError, ValueError) as exc:
        raise DatasetError(url, f"download failed ({exc})") from None
    return digest.hexdigest()


def fetch_cifar10(dest: Path, url: str = OFFICIAL_URL, md5: str = OFFICIAL_MD5) -> Path:
    """Download url to dest/cifar-10-python.tar.gz (via a temporary .part file), md5-verified.

    An existing file with the right md5 is kept. On failure no partial file remains.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / ARCHIVE_NAME
    if target.is_file() and md5_file(target) == md5:
        return target
    handle, part = tempfile.mkstemp(prefix=f"{ARCHIVE_NAME}.", suffix=".part", dir=dest)
    try:
        with os.fdopen(handle, "wb") as out:
            actual = _download(url, out)
        if actual != md5:
            raise DatasetError(url, f"md5 mismatch: downloaded {actual}, expected {md5}")
        os.replace(part, target)
    except BaseException:
        Path(part).unlink(missing_ok=True)
        raise
    return target


def fetch_main(argv: Sequence[str] | None = None) -> int:
    """`grader data fetch [--dest DIR] [--url URL]` -> exit code (0 ok, 1 failed)."""
    parser = argparse.ArgumentParser(
        prog="grader data fetch", description=f"Download and md5-verify {ARCHIVE_NAME}.")
    parser.add_argument("--dest", type=Path, default=Path(os.environ.get(ENV_VAR) or "data"),
                        help=f"folder to put the archive in (default: ${ENV_VAR} or ./data)")
    parser.add_argument("--url", default=OFFICIAL_URL, help="where to download from")
    args = parser.parse_args(argv)
    try:
        path = fetch_cifar10(args.dest, args.url)
    except DatasetError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{path} verified (md5 {OFFICIAL_MD5}); use --data-dir {args.dest} or {ENV_VAR}={args.dest}")
    return 0
