"""The homework's training jobs: the headline run and the optimizer comparison.

python -m reference.train [--job headline|compare|all] [--data-dir DIR] [--seed 0]
    [--epochs E] [--num-train N] [--num-val N] [--num-test N] [--out OUTDIR]

Writes OUTDIR/metrics.json ({job: record}, replaced on each run) and PNG plots:
headline_loss.png, headline_accuracy.png, compare_loss.png, compare_train_acc.png,
compare_val_acc.png. The Solver's verbose lines go to stdout, progress lines to stderr.
"""

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from reference.data import DatasetError, get_CIFAR10_data, resolve_data_dir
from reference.fc_net import FullyConnectedNet
from reference.solver import Solver

HEADLINE = {
    "hidden_dims": [500, 500, 500], "weight_scale": 0.01, "use_batchnorm": True,
    "update_rule": "adam", "optim_config": {"learning_rate": 1e-3}, "lr_decay": 0.9,
    "batch_size": 100, "num_epochs": 10, "num_train": 49000,
}
COMPARE = {
    "hidden_dims": [100] * 5, "weight_scale": 5e-2, "batch_size": 100, "num_epochs": 5,
    "num_train": 4000,
    "learning_rates": {"sgd": 1e-2, "sgd_momentum": 1e-2, "sgd_nesterov_momentum": 1e-2,
                       "rmsprop": 2e-4, "adam": 1e-3},
}
PRINT_EVERY = 100
PROGRESS_EVERY = 100


def _clock(seconds: float) -> str:
    """Seconds -> 'H:MM:SS'."""
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def attach_progress(model: FullyConnectedNet, label: str, total: int) -> None:
    """Wrap model.loss: every PROGRESS_EVERY-th training call (y given) and the last one
    write `[label] iteration i/total (p%), r it/s, ETA H:MM:SS` to stderr."""
    loss, start, done = model.loss, time.perf_counter(), [0]

    def counted(X: np.ndarray, y: np.ndarray | None = None):
        out = loss(X, y)
        if y is not None:
            done[0] += 1
            if done[0] % PROGRESS_EVERY == 0 or done[0] == total:
                rate = done[0] / (time.perf_counter() - start)
                print(f"[{label}] iteration {done[0]}/{total} ({100 * done[0] / total:.0f}%), "
                      f"{rate:.1f} it/s, ETA {_clock((total - done[0]) / rate)}", file=sys.stderr)
        return out

    model.loss = counted


def _number(value: float) -> float | None:
    """JSON-safe float: None for NaN and infinities."""
    value = float(value)
    return value if math.isfinite(value) else None


def train_model(model: FullyConnectedNet, data: dict[str, np.ndarray], label: str,
                seed: int, **solver_args) -> tuple[Solver, dict]:
    """Solver(model, data, **solver_args), np.random.seed(seed), train -> (solver, record).

    record: loss_history (per iteration), train_acc_history / val_acc_history (epoch 0..E),
    best_val_acc, iterations, wall_time_s, iterations_per_s.
    """
    iterations = solver_args["num_epochs"] * max(len(data["X_train"]) // solver_args["batch_size"], 1)
    attach_progress(model, label, iterations)
    solver = Solver(model, data, **solver_args)
    np.random.seed(seed)
    start = time.perf_counter()
    solver.train()
    wall = time.perf_counter() - start
    return solver, {
        "loss_history": [_number(loss) for loss in solver.loss_history],
        "train_acc_history": [_number(acc) for acc in solver.train_acc_history],
        "val_acc_history": [_number(acc) for acc in solver.val_acc_history],
        "best_val_acc": _number(solver.best_val_acc),
        "iterations": iterations,
        "wall_time_s": wall,
        "iterations_per_s": iterations / wall,
    }


def _build(config: dict, seed: int) -> FullyConnectedNet:
    """Seeded float32 FullyConnectedNet from config's hidden_dims, weight_scale, use_batchnorm."""
    np.random.seed(seed)
    return FullyConnectedNet(config["hidden_dims"], weight_scale=config["weight_scale"],
                             use_batchnorm=config.get("use_batchnorm", False),
                             dtype=np.float32, seed=seed)


def run_headline(data: dict[str, np.ndarray], seed: int, epochs: int | None) -> dict:
    """Headline job on all of data -> record (+ final_val_acc, final_test_acc, seed, config)."""
    config = {**HEADLINE, "num_epochs": epochs or HEADLINE["num_epochs"],
              "num_train": len(data["X_train"]), "dtype": "float32"}
    solver, record = train_model(
        _build(config, seed), data, "headline", seed,
        update_rule=config["update_rule"], optim_config=dict(config["optim_config"]),
        lr_decay=config["lr_decay"], batch_size=config["batch_size"],
        num_epochs=config["num_epochs"], print_every=PRINT_EVERY, verbose=True)
    record["final_val_acc"] = solver.check_accuracy(data["X_val"], data["y_val"])
    record["final_test_acc"] = solver.check_accuracy(data["X_test"], data["y_test"])
    print(f"headline: val acc {record['final_val_acc']:.4f}, test acc {record['final_test_acc']:.4f}, "
          f"best val acc {record['best_val_acc']:.4f}; {record['iterations_per_s']:.1f} it/s, "
          f"{_clock(record['wall_time_s'])}")
    return {"seed": seed, "config": config, **record}


def run_compare(data: dict[str, np.ndarray], seed: int, epochs: int | None,
                num_train: int | None) -> dict:
    """Optimizer comparison on the first num_train (default 4000) rows -> {seed, config, rules: {rule: record}}."""
    rows = min(num_train or COMPARE["num_train"], len(data["X_train"]))
    config = {**COMPARE, "num_epochs": epochs or COMPARE["num_epochs"], "num_train": rows,
              "dtype": "float32"}
    small = {"X_train": data["X_train"][:rows], "y_train": data["y_train"][:rows],
             "X_val": data["X_val"], "y_val": data["y_val"]}
    rules = {}
    for rule, learning_rate in config["learning_rates"].items():
        print(f"running with {rule} (learning rate {learning_rate:g})")
        _, rules[rule] = train_model(
            _build(config, seed), small, f"compare/{rule}", seed, update_rule=rule,
            optim_config={"learning_rate": learning_rate}, batch_size=config["batch_size"],
            num_epochs=config["num_epochs"], print_every=PRINT_EVERY, verbose=True)
        print(f"{rule}: best val acc {rules[rule]['best_val_acc']:.4f}")
    return {"seed": seed, "config": config, "rules": rules}


def save_plot(path: Path, title: str, xlabel: str, ylabel: str,
              series: dict[str, list], style: str) -> None:
    """One PNG (Agg) with one line per series entry {label: y values}, x = index."""
    figure = Figure(figsize=(9, 5))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for label, values in series.items():
        axes.plot(np.asarray(values, dtype=float), style, label=label, markersize=3)
    axes.set(title=title, xlabel=xlabel, ylabel=ylabel)
    axes.legend()
    figure.savefig(path, dpi=100)


def plot_headline(record: dict, out: Path) -> None:
    """headline_loss.png (loss by iteration), headline_accuracy.png (train/val by epoch)."""
    save_plot(out / "headline_loss.png", "Headline: training loss", "iteration", "loss",
              {"training loss": record["loss_history"]}, "-")
    save_plot(out / "headline_accuracy.png", "Headline: accuracy", "epoch", "accuracy",
              {"train": record["train_acc_history"], "val": record["val_acc_history"]}, "o-")


def plot_compare(record: dict, out: Path) -> None:
    """compare_loss.png, compare_train_acc.png, compare_val_acc.png: one line per rule."""
    for key, name, title, xlabel, ylabel, style in (
            ("loss_history", "compare_loss.png", "Training loss", "iteration", "loss", "o"),
            ("train_acc_history", "compare_train_acc.png", "Training accuracy", "epoch",
             "accuracy", "o-"),
            ("val_acc_history", "compare_val_acc.png", "Validation accuracy", "epoch",
             "accuracy", "o-")):
        series = {rule: rule_record[key] for rule, rule_record in record["rules"].items()}
        save_plot(out / name, title, xlabel, ylabel, series, style)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command line -> options (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m reference.train",
                                     description="Headline training run and optimizer comparison.")
    parser.add_argument("--job", choices=["headline", "compare", "all"], default="headline")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="CIFAR-10 folder or archive (default: $CIFAR10_DIR)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs per job (default: 10 headline, 5 compare)")
    parser.add_argument("--num-train", type=int, default=None,
                        help="training rows per job (default: 49000 headline, 4000 compare)")
    parser.add_argument("--num-val", type=int, default=1000)
    parser.add_argument("--num-test", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=Path("out/train"))
    return parser.parse_args(argv)


def _write_json(path: Path, obj: dict) -> None:
    """Strict JSON (no NaN), indented."""
    path.write_text(json.dumps(obj, indent=2, allow_nan=False) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected jobs -> exit code (0 ok, 2 data problem)."""
    args = parse_args(argv)
    try:
        data = get_CIFAR10_data(num_training=args.num_train or HEADLINE["num_train"],
                                num_validation=args.num_val, num_test=args.num_test,
                                data_dir=args.data_dir, dtype=np.float32)
    except (DatasetError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    metrics = {"data_dir": str(resolve_data_dir(args.data_dir))}
    if args.job in ("headline", "all"):
        metrics["headline"] = run_headline(data, args.seed, args.epochs)
        plot_headline(metrics["headline"], args.out)
        _write_json(args.out / "metrics.json", metrics)
    if args.job in ("compare", "all"):
        metrics["compare"] = run_compare(data, args.seed, args.epochs, args.num_train)
        plot_compare(metrics["compare"], args.out)
        _write_json(args.out / "metrics.json", metrics)
    return 0


if __name__ == "__main__":
    sys.exit(main())
