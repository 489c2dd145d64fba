"""reference.data on tiny CIFAR-10-shaped pickles and archives built in tmp_path."""

import collections
import hashlib
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest

from reference import data
from reference.data import DatasetError

SHARED = Path(__file__).parents[2].parent / "shared" / "data" / "cifar-10-jpeg-lossy"
ROWS = 4  # rows per batch: 20 training rows, 4 test rows


@pytest.fixture(autouse=True)
def clean_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """No md5 cache carried between tests, no CIFAR10_DIR from the caller."""
    monkeypatch.setattr(data, "_MD5_CACHE", {})
    monkeypatch.delenv(data.ENV_VAR, raising=False)


def make_batches(seed: int = 0) -> dict[str, tuple[np.ndarray, list[int]]]:
    """{file name: (uint8 (ROWS, 3072), labels list)} for the six data files."""
    rng = np.random.default_rng(seed)
    return {name: (rng.integers(0, 256, (ROWS, data.ROW_SIZE), dtype=np.uint8),
                   rng.integers(0, 10, ROWS).tolist())
            for name in data.DATA_FILES}


def batch_bytes(array: np.ndarray, labels: list, str_keys: bool) -> bytes:
    """A pickled batch: py2-style bytes keys (protocol 2) or str keys (protocol 4)."""
    if str_keys:
        return pickle.dumps({"data": array, "labels": labels}, protocol=4)
    return pickle.dumps({b"batch_label": b"tiny", b"data": array, b"labels": labels}, protocol=2)


def write_md5sums(folder: Path, files: list[Path]) -> None:
    """folder/MD5SUMS in md5sum format for files."""
    lines = [f"{hashlib.md5(f.read_bytes()).hexdigest()}  {f.name}\n" for f in files]
    (folder / "MD5SUMS").write_text("".join(lines))


def write_folder(root: Path, batches: dict, str_keys: bool = False, md5sums: bool = True) -> Path:
    """root/cifar-10-batches-py with the batches (and its MD5SUMS) -> that folder."""
    folder = root / data.BATCH_DIR
    folder.mkdir(parents=True)
    for name, (array, labels) in batches.items():
        (folder / name).write_bytes(batch_bytes(array, labels, str_keys))
    if md5sums:
        write_md5sums(folder, [folder / name for name in batches])
    return folder


def write_archive(root: Path, batches: dict, str_keys: bool = False, md5sums: bool = True) -> Path:
    """root/cifar-10-python.tar.gz holding cifar-10-batches-py/<file> (and root/MD5SUMS) -> archive."""
    root.mkdir(parents=True, exist_ok=True)
    archive = root / data.ARCHIVE_NAME
    with tarfile.open(archive, "w:gz") as tar:
        for name, (array, labels) in reversed(batches.items()):
            payload = batch_bytes(array, labels, str_keys)
            info = tarfile.TarInfo(f"{data.BATCH_DIR}/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    if md5sums:
        write_md5sums(root, [archive])
    return archive


def expected_arrays(batches: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What load_CIFAR10 must return for batches."""
    train = [batches[name] for name in data.TRAIN_FILES]
    x_test, y_test = batches[data.TEST_FILE]
    return (np.concatenate([a for a, _ in train]).reshape(-1, 3, 32, 32),
            np.concatenate([l for _, l in train]), x_test.reshape(-1, 3, 32, 32), np.array(y_test))


def assert_loaded(loaded: tuple, batches: dict) -> None:
    """loaded equals expected_arrays(batches) in values, shapes and dtypes."""
    for got, want in zip(loaded, expected_arrays(batches), strict=True):
        np.testing.assert_array_equal(got, want)
    assert loaded[0].dtype == np.uint8 and loaded[1].dtype == np.int64
    assert loaded[0].shape == (5 * ROWS, 3, 32, 32) and loaded[2].shape == (ROWS, 3, 32, 32)


def assert_clear_error(error: DatasetError, *fragments: str) -> None:
    """The message names each fragment and says where data goes, CIFAR10_DIR and the URL."""
    message = str(error)
    for fragment in (*fragments, data.ENV_VAR, data.OFFICIAL_URL, data.BATCH_DIR):
        assert fragment in message


@pytest.mark.parametrize("str_keys", [False, True])
def test_folder_with_md5sums_loads(tmp_path: Path, str_keys: bool) -> None:
    batches = make_batches()
    folder = write_folder(tmp_path, batches, str_keys=str_keys)
    assert_loaded(data.load_CIFAR10(folder), batches)
    assert_loaded(data.load_CIFAR10(tmp_path), batches)


def test_md5sums_in_parent_folder_is_used(tmp_path: Path) -> None:
    batches = make_batches()
    folder = write_folder(tmp_path, batches, md5sums=False)
    write_md5sums(tmp_path, [folder / name for name in batches])
    assert_loaded(data.load_CIFAR10(folder), batches)


def test_without_md5sums_the_official_sums_apply(tmp_path: Path, monkeypatch) -> None:
    batches = make_batches()
    folder = write_folder(tmp_path, batches, md5sums=False)
    with pytest.raises(DatasetError) as error:
        data.load_CIFAR10(folder)
    assert_clear_error(error.value, str(folder / "data_batch_1"), "md5 mismatch",
                       data.OFFICIAL_FILE_MD5["data_batch_1"], "official")
    tiny_sums = {name: hashlib.md5((folder / name).read_bytes()).hexdigest() for name in batches}
    monkeypatch.setattr(data, "OFFICIAL_FILE_MD5", tiny_sums)
    assert_loaded(data.load_CIFAR10(folder), batches)


def test_wrong_md5_names_the_file(tmp_path: Path) -> None:
    folder = write_folder(tmp_path, make_batches())
    text = (folder / "MD5SUMS").read_text().replace(
        hashlib.md5((folder / "data_batch_3").read_bytes()).hexdigest(), "0" * 32)
    (folder / "MD5SUMS").write_text(text)
    with pytest.raises(DatasetError) as error:
        data.load_CIFAR10(folder)
    assert_clear_error(error.value, "data_batch_3", "md5 mismatch", "0" * 32, "MD5SUMS")


def test_missing_file(tmp_path: Path) -> None:
    folder = write_folder(tmp_path, make_batches())
    (folder / "test_batch").unlink()
    with pytest.raises(DatasetError) as error:
        data.load_CIFAR10(folder)
    assert_clear_error(error.value, str(folder / "test_batch"), "missing")


def test_file_not_listed_in_md5sums(tmp_path: Path) -> None:
    folder = write_folder(tmp_path, make_batches())
    text = "".join(l for l in (folder / "MD5SUMS").read_text().splitlines(True) if "_5" not in l)
    (folder / "MD5SUMS").write_text(text)
    with pytest.raises(DatasetError) as error:
        data.load_CIFAR10(folder)
    assert_clear_error(error.value, "data_batch_5", "not listed")


def test_malformed_md5sums(tmp_path: Path) -> None:
    folder = write_folder(tmp_path, make_batches())
    (folder / "MD5SUMS").write_text("not a checksum line\n")
    with pytest.raises(DatasetError) as error:
        data.load_CIFAR10(folder)
    assert_clear_error(error.value, "MD5SUMS", "line 1")


def test_truncated_pickle(tmp_path: Path) -> None:
    batches = make_batches()
    folder = write_folder(tmp_path, batches)
    path = folder / "data_batch_2"
    path.write_bytes(path.read_bytes()[:500])
    write_md5sums(folder, [folder / name for name in batches])
    with pytest.raises(DatasetError) as error:
        data.load_CIFAR10(folder)
    assert_clear_error(error.value, str(path), "not a readable pickle")
    assert error.value.__suppress_context__


@pytest.mark.parametrize("array, labels, problem", [
    (np.zeros((ROWS, 100), np.uint8), [0] * ROWS, "expected a uint8 array of shape"),
    (np.zeros((ROWS, data.ROW_SIZE), np.float32), [0] * ROWS, "expected a uint8 array of shape"),
    (np.zeros((ROWS, data.ROW_SIZE), np.uint8), [0] * (ROWS - 1), "'labels' has shape"),
    (np.zeros((ROWS, data.ROW_SIZE), np.uint8), [10] * ROWS, "outside 0..9"),
])
def test_wrong_shape_or_values(tmp_path: Path, array, labels, problem: str) -> None:
    batches = {**make_batches(), "data_batch_4": (array, labels)}
    folder = write_folder(tmp_path, batches)
    with pytest.raises(DatasetError) as error:
        data.load_CIFAR10(folder)
    assert_clear_error(error.value, "data_batch_4", problem)


def test_pickle_with_other_globals_is_refused(tmp_path: Path) -> None:
    batches = make_batches()
    folder = write_folder(tmp_path, batches)
    (folder / "data_batch_1").write_bytes(pickle.dumps(collections.OrderedDict(data=1)))
    write_md5sums(folder, [folder / name for name in batches])
    with pytest.raises(DatasetError) as error:
        data.load_CIFAR10(folder)
    assert_clear_error(error.value, "data_batch_1", "OrderedDict is not allowed")


@pytest.mark.parametrize("str_keys", [False, True])
def test_archive_read_in_place(tmp_path: Path, str_keys: bool) -> None:
    batches = make_batches()
    archive = write_archive(tmp_path, batches, str_keys=str_keys)
    assert_loaded(data.load_CIFAR10(archive), batches)
    assert_loaded(data.load_CIFAR10(tmp_path), batches)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["MD5SUMS", data.ARCHIVE_NAME]


def test_archive_without_md5sums_needs_the_official_md5(tmp_path: Path) -> None:
    archive = write_archive(tmp_path, make_batches(), md5sums=False)
    with pytest.raises(DatasetError) as error:
        data.load_CIFAR10(archive)
    assert_clear_error(error.value, str(archive), "md5 mismatch", data.OFFICIAL_MD5)


@pytest.mark.parametrize("damage", ["truncate", "not_gzip"])
def test_corrupt_archive(tmp_path: Path, damage: str) -> None:
    archive = write_archive(tmp_path, make_batches())
    raw = archive.read_bytes()
    archive.write_bytes(raw[: len(raw) // 2] if damage == "truncate" else b"not an archive" * 100)
    write_md5sums(tmp_path, [archive])
    with pytest.raises(DatasetError) as error:
        data.load_CIFAR10(archive)
    assert_clear_error(error.value, str(archive), "not a readable")


def test_archive_missing_member(tmp_path: Path) -> None:
    batches = make_batches()
    del batches["data_batch_2"]
    archive = write_archive(tmp_path, batches)
    with pytest.raises(DatasetError) as error:
        data.load_CIFAR10(archive)
    assert_clear_error(error.value, str(archive), "no member cifar-10-batches-py/data_batch_2")


def test_empty_or_absent_root(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as error:
        data.load_CIFAR10(tmp_path)
    assert_clear_error(error.value, str(tmp_path), "no cifar-10-batches-py folder")
    with pytest.raises(DatasetError) as error:
        data.load_CIFAR10(tmp_path / "absent")
    assert_clear_error(error.value, "does not exist")


def test_cifar10_dir_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DatasetError) as error:
        data.get_CIFAR10_data(num_training=12, num_validation=4, num_test=3)
    assert_clear_error(error.value, "not set")
    batches = make_batches()
    write_folder(tmp_path, batches)
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path))
    splits = data.get_CIFAR10_data(num_training=12, num_validation=4, num_test=3)
    np.testing.assert_array_equal(splits["y_test"], batches["test_batch"][1][:3])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_splits_and_mean_by_hand(tmp_path: Path, dtype: type) -> None:
    batches = make_batches()
    write_folder(tmp_path, batches)
    x_train, y_train, x_test, y_test = expected_arrays(batches)
    x_train, x_test = x_train.astype(np.float64), x_test.astype(np.float64)
    mean = x_train[:13].sum(axis=0) / 13
    splits = data.get_CIFAR10_data(13, 5, 2, data_dir=tmp_path, dtype=dtype)
    want = {"X_train": x_train[:13] - mean, "y_train": y_train[:13],
            "X_val": x_train[13:18] - mean, "y_val": y_train[13:18],
            "X_test": x_test[:2] - mean, "y_test": y_test[:2]}
    assert splits.keys() == want.keys()
    for key, value in want.items():
        expected = value.astype(dtype) if key.startswith("X") else value
        assert splits[key].dtype == expected.dtype
        np.testing.assert_array_equal(splits[key], expected)


def test_no_mean_subtraction(tmp_path: Path) -> None:
    batches = make_batches()
    write_folder(tmp_path, batches)
    splits = data.get_CIFAR10_data(10, 10, 4, subtract_mean=False, data_dir=tmp_path)
    np.testing.assert_array_equal(splits["X_val"], expected_arrays(batches)[0][10:20])


def test_asking_for_more_rows_than_the_data_has(tmp_path: Path) -> None:
    write_folder(tmp_path, make_batches())
    with pytest.raises(ValueError, match="asked for 49000"):
        data.get_CIFAR10_data(data_dir=tmp_path)


def test_fetch_over_file_url(tmp_path: Path) -> None:
    source = write_archive(tmp_path / "mirror", make_batches(), md5sums=False)
    md5 = hashlib.md5(source.read_bytes()).hexdigest()
    dest = tmp_path / "dest"
    path = data.fetch_cifar10(dest, source.as_uri(), md5)
    assert path == dest / data.ARCHIVE_NAME and path.read_bytes() == source.read_bytes()
    assert [p.name for p in dest.iterdir()] == [data.ARCHIVE_NAME]
    assert data.fetch_cifar10(dest, (tmp_path / "gone").as_uri(), md5) == path


def test_fetch_wrong_md5_leaves_nothing(tmp_path: Path) -> None:
    source = write_archive(tmp_path / "mirror", make_batches(), md5sums=False)
    dest = tmp_path / "dest"
    with pytest.raises(DatasetError) as error:
        data.fetch_cifar10(dest, source.as_uri(), "0" * 32)
    assert_clear_error(error.value, source.as_uri(), "md5 mismatch")
    assert list(dest.iterdir()) == []


def test_fetch_main_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    source = write_archive(tmp_path / "mirror", make_batches(), md5sums=False)
    dest = tmp_path / "dest"
    assert data.fetch_main(["--dest", str(dest), "--url", source.as_uri()]) == 1
    assert "md5 mismatch" in capsys.readouterr().err and list(dest.iterdir()) == []
    assert data.fetch_main(["--dest", str(dest), "--url", (tmp_path / "gone").as_uri()]) == 1
    assert "download failed" in capsys.readouterr().err and list(dest.iterdir()) == []


def test_md5_cache_follows_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(b"a")
    first = data.md5_file(path)
    path.write_bytes(b"bb")
    assert data.md5_file(path) == hashlib.md5(b"bb").hexdigest() != first
    assert len(data._MD5_CACHE) == 2


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared CIFAR-10 stand-in not present")
def test_shared_data() -> None:
    x_train, y_train, x_test, y_test = data.load_CIFAR10(SHARED / data.BATCH_DIR)
    assert (x_train.shape, x_train.dtype) == ((50000, 3, 32, 32), np.uint8)
    assert (x_test.shape, x_test.dtype) == ((10000, 3, 32, 32), np.uint8)
    assert np.bincount(y_train).tolist() == [5000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
    del x_train, x_test
    splits = data.get_CIFAR10_data(data_dir=SHARED, dtype=np.float32)
    shapes = {key: value.shape for key, value in splits.items()}
    assert shapes == {"X_train": (49000, 3, 32, 32), "y_train": (49000,),
                      "X_val": (1000, 3, 32, 32), "y_val": (1000,),
                      "X_test": (1000, 3, 32, 32), "y_test": (1000,)}
    assert all(splits[k].dtype == np.float32 for k in ("X_train", "X_val", "X_test"))
    assert abs(float(splits["X_train"].mean(dtype=np.float64))) < 1e-4
    assert np.bincount(splits["y_test"], minlength=10).min() >= 80
