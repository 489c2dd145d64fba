"""The headline job's accuracy in PyTorch, written apart from the reference: what a correct
implementation reaches on the data at hand, seed by seed.

    python benchmarks/accuracy_oracle.py [--data-dir DIR] [--dtype float32|float64] [--seeds 0 1 2]

The course's job and semantics (API.md): [500, 500, 500] affine - batchnorm - ReLU, weights
0.01 * randn, batchnorm momentum 0.9 with the biased batch variance in the running statistics,
eps 1e-5; softmax loss; Adam 1e-3 (torch.optim.Adam's formula is optim.adam's); minibatches of
100 drawn with replacement; 4,900 iterations; learning rate x 0.9 after each epoch; validation
accuracy at iteration 0 and after every epoch, the best parameters and running statistics kept.
Prints, per seed: the best validation accuracy, and the test accuracy of the kept model on the
course's 1,000 test rows and on all 10,000. Needs torch (the test extra does not install it).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from reference.data import get_CIFAR10_data

DIMS, BATCH, EPOCHS, ITERATIONS_PER_EPOCH = (3072, 500, 500, 500, 10), 100, 10, 490


def init_params(rng: np.random.RandomState, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """W{i}: (D_i, D_i+1) 0.01 * randn, b{i} zeros; gamma{i} ones, beta{i} zeros for hidden layers."""
    params = {}
    for i, (d_in, d_out) in enumerate(zip(DIMS, DIMS[1:])):
        params[f"W{i}"] = torch.tensor(0.01 * rng.randn(d_in, d_out), dtype=dtype)
        params[f"b{i}"] = torch.zeros(d_out, dtype=dtype)
        if i < len(DIMS) - 2:
            params[f"gamma{i}"], params[f"beta{i}"] = torch.ones(d_out, dtype=dtype), torch.zeros(d_out, dtype=dtype)
    return {k: v.requires_grad_() for k, v in params.items()}


def forward(params: dict, running: list[list[torch.Tensor]], x: torch.Tensor, train: bool) -> torch.Tensor:
    """scores (N, 10); in train mode running[i] = [mean, var] <- 0.9 * running + 0.1 * batch (biased var)."""
    h = x
    for i, stats in enumerate(running):
        a = h @ params[f"W{i}"] + params[f"b{i}"]
        if train:
            mean = a.mean(0)
            var = ((a - mean) ** 2).mean(0)
            with torch.no_grad():
                stats[0].mul_(0.9).add_(0.1 * mean)
                stats[1].mul_(0.9).add_(0.1 * var)
        else:
            mean, var = stats
        h = torch.relu(params[f"gamma{i}"] * (a - mean) / torch.sqrt(var + 1e-5) + params[f"beta{i}"])
    last = len(running)
    return h @ params[f"W{last}"] + params[f"b{last}"]


def accuracy(params: dict, running: list, x: torch.Tensor, y: np.ndarray) -> float:
    with torch.no_grad():
        scores = torch.cat([forward(params, running, x[i:i + BATCH], False) for i in range(0, len(x), BATCH)])
    return float((scores.argmax(1).numpy() == y).mean())


def train(data: dict, seed: int, dtype: torch.dtype) -> tuple[float, float, float]:
    """-> best validation accuracy, test accuracy on the first 1,000 test rows and on all of them."""
    rng = np.random.RandomState(seed)
    as_rows = {k: torch.from_numpy(data[k].reshape(len(data[k]), -1)).to(dtype) for k in ("X_train", "X_val", "X_test")}
    y_train = torch.from_numpy(data["y_train"])
    params = init_params(rng, dtype)
    running = [[torch.zeros(d, dtype=dtype), torch.zeros(d, dtype=dtype)] for d in DIMS[1:-1]]
    optimizer = torch.optim.Adam(params.values(), lr=1e-3)
    best, kept = -1.0, None
    for epoch in range(EPOCHS + 1):
        val = accuracy(params, running, as_rows["X_val"], data["y_val"])
        if val > best:
            best = val
            kept = ({k: p.detach().clone() for k, p in params.items()}, [[s.clone() for s in st] for st in running])
        if epoch == EPOCHS:
            break
        for _ in range(ITERATIONS_PER_EPOCH):
            batch = torch.from_numpy(rng.choice(len(y_train), BATCH))
            loss = torch.nn.functional.cross_entropy(forward(params, running, as_rows["X_train"][batch], True), y_train[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        for group in optimizer.param_groups:
            group["lr"] *= 0.9
    with torch.no_grad():
        for k, p in kept[0].items():
            params[k].copy_(p)
    running = kept[1]
    x_test, y_test = as_rows["X_test"], data["y_test"]
    return best, accuracy(params, running, x_test[:1000], y_test[:1000]), accuracy(params, running, x_test, y_test)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None, help="CIFAR-10 folder or archive (default: $CIFAR10_DIR)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    torch.set_num_threads(2)
    data = get_CIFAR10_data(num_test=None, data_dir=args.data_dir, dtype=np.float32)
    for seed in args.seeds:
        start = time.monotonic()
        val, test_1k, test_all = train(data, seed, getattr(torch, args.dtype))
        print(f"torch {args.dtype} seed {seed}: val {val:.3f}, test {test_1k:.3f} on 1,000 rows, "
              f"{test_all:.4f} on all ({time.monotonic() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
