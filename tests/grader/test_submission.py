import zipfile

import pytest

from grader.submission import MAX_FILE_BYTES, SubmissionInputError, read


def test_folder_takes_the_course_files_shallowest_first(tmp_path):
    (tmp_path / "nndl").mkdir()
    (tmp_path / "nndl" / "optim.py").write_text("deep = 1")
    (tmp_path / "optim.py").write_text("top = 1")
    (tmp_path / "layers.py").write_text("x = 1")
    (tmp_path / "notes.txt").write_text("ignored")
    sub = read(tmp_path)
    assert sub.files == {"optim.py": b"top = 1", "layers.py": b"x = 1"}


def test_single_file_is_named_by_what_it_defines(tmp_path):
    path = tmp_path / "my_solution.py"
    path.write_text("def adam(w, dw, config=None):\n    pass\n")
    assert set(read(path).files) == {"optim.py"}


def test_zip_with_traversal_entries_keeps_only_safe_ones(tmp_path):
    archive = tmp_path / "s.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("hw/optim.py", "ok = 1")
        z.writestr("../layers.py", "evil = 1")
        z.writestr("/etc/layers.py", "evil = 1")
    sub = read(archive)
    assert sub.files == {"optim.py": b"ok = 1"}
    assert any("unsafe paths" in w for w in sub.warnings)


def test_zip_bomb_is_refused_with_a_warning(tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for i in range(80):
            z.writestr(f"d{i}/optim.py", b"\0" * (1 << 20))
    sub = read(archive)
    assert sub.files == {} and any("zip bomb" in w for w in sub.warnings)


def test_oversized_file_and_corrupt_zip_are_warnings_not_crashes(tmp_path):
    (tmp_path / "optim.py").write_bytes(b"#" * (MAX_FILE_BYTES + 10))
    assert any("larger than" in w for w in read(tmp_path).warnings)
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04 not really")
    assert any("not a readable zip" in w for w in read(bad).warnings)


def test_a_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(SubmissionInputError, match="no such file"):
        read(tmp_path / "nope")
