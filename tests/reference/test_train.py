"""reference.train: short runs of main() on tiny synthetic CIFAR-10 pickles."""

import hashlib
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from reference import data, train

ROWS = 60  # rows per batch: 300 training rows, 60 test rows
TIMINGS = {"wall_time_s", "iterations_per_s"}
PLOTS = ["headline_loss.png", "headline_accuracy.png", "compare_loss.png",
         "compare_train_acc.png", "compare_val_acc.png"]


@pytest.fixture
def tiny_cifar(tmp_path: Path) -> Path:
    """tmp_path/cifar-10-batches-py: six random uint8 batches of ROWS rows, with MD5SUMS."""
    folder = tmp_path / data.BATCH_DIR
    folder.mkdir()
    rng = np.random.default_rng(1)
    lines = []
    for name in data.DATA_FILES:
        batch = {b"data": rng.integers(0, 256, (ROWS, data.ROW_SIZE), dtype=np.uint8),
                 b"labels": rng.integers(0, 10, ROWS).tolist()}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
        lines.append(f"{hashlib.md5((folder / name).read_bytes()).hexdigest()}  {name}\n")
    (folder / "MD5SUMS").write_text("".join(lines))
    return folder


def run(data_dir: Path, out: Path, *extra: str) -> dict:
    """main() on data_dir, 1 epoch of 200 rows (2 iterations), 50 val, 40 test -> metrics.json."""
    argv = ["--data-dir", str(data_dir), "--epochs", "1", "--num-train", "200",
            "--num-val", "50", "--num-test", "40", "--out", str(out), *extra]
    assert train.main(argv) == 0
    return json.loads((out / "metrics.json").read_text())


def without_timings(value: object) -> object:
    """value with every TIMINGS key dropped, recursively."""
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k not in TIMINGS}
    return value


def test_short_run_writes_metrics_and_plots(tiny_cifar: Path, tmp_path: Path, capsys) -> None:
    metrics = run(tiny_cifar, tmp_path / "out", "--job", "all")
    headline = metrics["headline"]
    assert headline["config"]["num_train"] == 200 and headline["config"]["num_epochs"] == 1
    assert headline["iterations"] == len(headline["loss_history"]) == 2
    assert len(headline["train_acc_history"]) == len(headline["val_acc_history"]) == 2
    for key in ("final_val_acc", "final_test_acc", "best_val_acc"):
        assert 0 <= headline[key] <= 1
    assert headline["seed"] == 0 and headline["iterations_per_s"] > 0
    rules = metrics["compare"]["rules"]
    assert list(rules) == list(train.COMPARE["learning_rates"])
    assert all(len(record["loss_history"]) == 2 for record in rules.values())
    for name in PLOTS:
        assert (tmp_path / "out" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    captured = capsys.readouterr()
    assert "(Iteration 1 / 2) loss:" in captured.out and "(Epoch 1 / 1) train acc:" in captured.out
    assert "[headline] iteration 2/2 (100%)" in captured.err


def test_same_seed_same_metrics(tiny_cifar: Path, tmp_path: Path) -> None:
    first = run(tiny_cifar, tmp_path / "a", "--job", "all", "--seed", "3")
    second = run(tiny_cifar, tmp_path / "b", "--job", "all", "--seed", "3")
    other = run(tiny_cifar, tmp_path / "c", "--job", "all", "--seed", "4")
    assert without_timings(first) == without_timings(second)
    assert first["headline"]["loss_history"] != other["headline"]["loss_history"]


def test_single_job_writes_only_its_record(tiny_cifar: Path, tmp_path: Path) -> None:
    metrics = run(tiny_cifar, tmp_path / "out", "--job", "compare")
    assert "headline" not in metrics and metrics["compare"]["config"]["num_train"] == 200
    assert not (tmp_path / "out" / "headline_loss.png").exists()


def test_data_problem_exits_2(tmp_path: Path, capsys) -> None:
    assert train.main(["--data-dir", str(tmp_path / "absent"), "--out", str(tmp_path)]) == 2
    assert data.ENV_VAR in capsys.readouterr().err
