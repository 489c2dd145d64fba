"""Training speed of the headline job: the reference (course API) beside PyTorch, same run.

    python benchmarks/train_speed.py [--windows 5] [--iterations 100] [--checks 2]
        [--idle 0.9] [--patience 900]

The job: FullyConnectedNet([500, 500, 500], weight_scale=0.01, use_batchnorm=True) and
Solver(update_rule='adam', learning_rate 1e-3, batch_size=100) on 49,000 rows of CIFAR shape
(random float32 data: the speed does not depend on the values): 4,900 iterations plus 11
accuracy checks (1,000 training rows and 1,000 validation rows each, batches of 100).

Each contender is a worker process holding its own data (started together, one process tree):
the reference in float32 and float64 through FullyConnectedNet + Solver as `grader train` runs
it (batchnorm-ReLU loops and Adam compiled by numba when the `fast` extra is there), in float32
also with numba switched off (numpy passes: the fallback), and PyTorch (the same Linear -
BatchNorm1d - ReLU stack, float32) with torch.optim.Adam default and fused=True. The parent
runs them alternately, one window of --iterations steps at a time, --windows rounds in a
rotating order, and takes medians and minima. The matmul floor is the job's GEMM FLOPs
(forward and backward, no input gradient for the first layer) over a float32 GEMM rate
measured in the same run (2048 x 2048 matrices); "GEMMs alone" times the job's 11 GEMMs at
their shapes, in numpy and in PyTorch (whose step is built on them). Peak memory is each
worker's peak RSS (VmHWM). On a shared machine each window first waits (up to --patience
seconds per window) until the CPUs are at least --idle idle over one second; the idle
fractions seen are printed under the table.

Prints a Markdown table: ms per iteration (median and best window), ms per accuracy check,
the whole-job projection, the ratio to fused Adam, peak RSS. The best window is the run's
figure for a quiet machine: other VMs on the host share its L3 and memory bandwidth, and
slow memory-bound work by up to half for seconds at a time, which only ever adds time.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

N_TRAIN, N_CHECK, BATCH, DIMS = 49000, 1000, 100, (3072, 500, 500, 500, 10)
JOB_ITERATIONS, JOB_CHECKS = 4900, 11
WORKERS = ('reference float32', 'reference float64', 'reference float32, no numba',
           'torch Adam', 'torch Adam fused')
SETTLE_S = 0.3   # pause between windows: a finished worker's BLAS threads stop spinning


def gemm_flops(dims: tuple[int, ...] = DIMS, n: int = BATCH) -> int:
    """Forward x @ W and backward x.T @ dout for every layer, dout @ W.T for all but the first."""
    macs = [d_in * d_out for d_in, d_out in zip(dims, dims[1:])]
    return 2 * n * (2 * sum(macs) + sum(macs[1:]))


def random_data(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """X: (rows, 3, 32, 32) float32 standard normal, y: (rows,) labels in [0, 10)."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((rows, 3, 32, 32), dtype=np.float32), rng.integers(10, size=rows)


def cpu_idle(seconds: float = 1.0) -> float:
    """Fraction of all CPU time spent idle over the next `seconds` (/proc/stat)."""
    def sample() -> tuple[int, int]:
        with open('/proc/stat') as f:
            ticks = [int(x) for x in f.readline().split()[1:]]
        return ticks[3] + ticks[4], sum(ticks)     # idle + iowait, all
    (idle0, total0), _, (idle1, total1) = sample(), time.sleep(seconds), sample()
    return (idle1 - idle0) / max(total1 - total0, 1)


def wait_for_idle(idle: float, deadline: float) -> float:
    """Waits until cpu_idle() >= idle or time.monotonic() >= deadline -> the last cpu_idle()."""
    while (seen := cpu_idle()) < idle and time.monotonic() < deadline:
        pass
    return seen


def peak_rss() -> int:
    """This process's peak resident memory in bytes (VmHWM)."""
    with open('/proc/self/status') as f:
        line = next(line for line in f if line.startswith('VmHWM:'))
    return int(line.split()[1]) * 1024


# --- contenders: each is (step, check), both without arguments ---------------------------


def reference_job(dtype: type, numba: bool = True) -> tuple:
    """The course-API path: FullyConnectedNet + Solver(update_rule='adam'), as reference.train;
    numba=False: as if numba were not installed."""
    from reference import fast
    from reference.fc_net import FullyConnectedNet
    if not numba:
        fast._numba_kernels = lambda: None
    from reference.solver import Solver

    (X, y), (X_val, y_val) = random_data(N_TRAIN, 0), random_data(N_CHECK, 1)
    np.random.seed(0)
    model = FullyConnectedNet(list(DIMS[1:-1]), weight_scale=0.01, use_batchnorm=True, dtype=dtype)
    solver = Solver(model, {'X_train': X, 'y_train': y, 'X_val': X_val, 'y_val': y_val},
                    update_rule='adam', optim_config={'learning_rate': 1e-3}, lr_decay=0.9,
                    batch_size=BATCH, num_epochs=10, verbose=False)
    return solver._step, solver._check_and_keep_best


def torch_job(fused: bool) -> tuple:
    """The same network in PyTorch (float32), its loss read back each step as the Solver does;
    a check scores 1,000 training and 1,000 validation rows in eval mode and keeps a copy of
    the parameters, as the Solver's check does."""
    import torch
    from torch import nn

    (X, y), (X_val, y_val) = random_data(N_TRAIN, 0), random_data(N_CHECK, 1)
    X, y = torch.from_numpy(X).reshape(N_TRAIN, -1), torch.from_numpy(y)
    X_val, y_val = torch.from_numpy(X_val).reshape(N_CHECK, -1), torch.from_numpy(y_val)
    torch.manual_seed(0)
    layers = []
    for d_in, d_out in zip(DIMS[:-2], DIMS[1:-1]):
        layers += [nn.Linear(d_in, d_out), nn.BatchNorm1d(d_out), nn.ReLU()]
    net = nn.Sequential(*layers, nn.Linear(DIMS[-2], DIMS[-1]))
    for layer in net:
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, std=0.01)
            nn.init.zeros_(layer.bias)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, fused=fused or None)

    def step() -> None:
        rows = torch.randint(N_TRAIN, (BATCH,))
        loss = nn.functional.cross_entropy(net(X[rows]), y[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss.item()

    def accuracy(X: torch.Tensor, y: torch.Tensor) -> float:
        with torch.no_grad():
            pred = torch.cat([net(X[i:i + BATCH]).argmax(1) for i in range(0, len(X), BATCH)])
        return (pred == y).float().mean().item()

    def check() -> None:
        net.eval()
        rows = torch.randint(N_TRAIN, (N_CHECK,))
        accuracy(X[rows], y[rows]), accuracy(X_val, y_val)
        {k: v.clone() for k, v in net.state_dict().items()}
        net.train()

    return step, check


def gemm_rates(library: str = 'numpy') -> tuple[float, float]:
    """-> (float32 GFLOP/s of a 2048 x 2048 matmul (best of 3), ms of the job's 11 GEMMs
    at their shapes (median of 20)), in numpy or, library='torch', in PyTorch."""
    rng = np.random.default_rng(2)
    as_operand = np.asarray
    if library == 'torch':
        import torch
        as_operand = torch.from_numpy
    A, B = (as_operand(rng.standard_normal((2048, 2048), dtype=np.float32)) for _ in range(2))
    square = min(timed(lambda: A @ B) for _ in range(3))
    pairs = []   # (x, w, dout) per layer
    for d_in, d_out in zip(DIMS, DIMS[1:]):
        pairs.append(tuple(as_operand(rng.standard_normal(s, dtype=np.float32))
                           for s in ((BATCH, d_in), (d_in, d_out), (BATCH, d_out))))

    def job_gemms() -> None:
        for i, (x, w, dout) in enumerate(pairs):
            x @ w, x.T @ dout
            if i:
                dout @ w.T

    return 2 * 2048**3 / square / 1e9, statistics.median(timed(job_gemms) for _ in range(20)) * 1e3


def timed(f) -> float:
    """Seconds one call of f takes."""
    start = time.perf_counter()
    f()
    return time.perf_counter() - start


# --- worker and parent ---------------------------------------------------------------------


def worker(job: str) -> None:
    """Answers JSON requests on stdin, one per line: {"steps": n} -> seconds for n steps,
    {"check": n} -> seconds for n checks, {"gemm": 1} -> gemm_rates() in the worker's library,
    {"rss": 1} -> bytes."""
    jobs = {'reference float32': lambda: reference_job(np.float32),
            'reference float32, no numba': lambda: reference_job(np.float32, numba=False),
            'reference float64': lambda: reference_job(np.float64),
            'torch Adam': lambda: torch_job(fused=False),
            'torch Adam fused': lambda: torch_job(fused=True)}
    step, check = jobs[job]()
    for _ in range(3):
        step()
    print(json.dumps('ready'), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if 'steps' in request:
            answer = timed(lambda: [step() for _ in range(request['steps'])])
        elif 'check' in request:
            answer = timed(lambda: [check() for _ in range(request['check'])])
        elif 'gemm' in request:
            answer = gemm_rates('torch' if job.startswith('torch') else 'numpy')
        else:
            answer = peak_rss()
        print(json.dumps(answer), flush=True)


class Worker:
    """A worker process and its request/answer pipe."""

    def __init__(self, name: str):
        self.name = name
        self.process = subprocess.Popen([sys.executable, __file__, '--worker', name],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, **request) -> object:
        self.process.stdin.write(json.dumps(request) + '\n')
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


def measure(windows: int, iterations: int, checks: int, idle: float, patience: float) -> dict:
    """Alternating windows -> {name: {'ms': [...], 'check_ms': [...], 'rss': bytes}},
    'gemm' and 'torch gemm': [(GFLOP/s, job GEMMs ms)] in numpy and in PyTorch,
    'idle': [idle fraction before each window]."""
    workers = [Worker(name) for name in WORKERS]
    for w in workers:
        assert json.loads(w.process.stdout.readline()) == 'ready'
    results = {w.name: {'ms': [], 'check_ms': []} for w in workers}
    results.update({'gemm': [], 'torch gemm': [], 'idle': []})
    for window in range(windows):
        deadline = time.monotonic() + patience
        for w in workers[window % len(workers):] + workers[:window % len(workers)]:
            time.sleep(SETTLE_S)
            results['idle'].append(wait_for_idle(idle, deadline))
            results[w.name]['ms'].append(w.ask(steps=iterations) / iterations * 1e3)
            results[w.name]['check_ms'].append(w.ask(check=checks) / checks * 1e3)
        time.sleep(SETTLE_S)
        results['idle'].append(wait_for_idle(idle, deadline))
        results['gemm'].append(workers[0].ask(gemm=1))
        results['torch gemm'].append(workers[WORKERS.index('torch Adam fused')].ask(gemm=1))
        print(f'window {window + 1}/{windows} done', file=sys.stderr)
    for w in workers:
        results[w.name]['rss'] = w.ask(rss=1)
        w.close()
    return results


def table(results: dict) -> str:
    """The Markdown table and the ratios below it."""
    med = {name: (statistics.median(results[name]['ms']), statistics.median(results[name]['check_ms']))
           for name in WORKERS}
    best = {name: min(results[name]['ms']) for name in WORKERS}
    rate = statistics.median(g[0] for g in results['gemm'])
    gemms_ms = statistics.median(g[1] for g in results['gemm'])
    floor_ms = gemm_flops() / rate / 1e6
    fused_ms = med['torch Adam fused'][0]

    def job_s(ms: float, check_ms: float) -> float:
        return (JOB_ITERATIONS * ms + JOB_CHECKS * check_ms) / 1e3

    lines = ['| | ms / iteration | best window | ms / accuracy check | whole job (s) | vs torch fused Adam | peak RSS (MiB) |',
             '|---|---:|---:|---:|---:|---:|---:|']
    for name in WORKERS:
        ms, check_ms = med[name]
        lines.append(f'| {name} | {ms:.1f} | {best[name]:.1f} | {check_ms:.0f} | {job_s(ms, check_ms):.0f} | '
                     f'{ms / fused_ms:.2f} | {results[name]["rss"] / 2**20:.0f} |')
    lines.append(f'| the job\'s 11 GEMMs alone | {gemms_ms:.1f} | {min(g[1] for g in results["gemm"]):.1f} | | '
                 f'{JOB_ITERATIONS * gemms_ms / 1e3:.0f} | {gemms_ms / fused_ms:.2f} | |')
    torch_gemms = [g[1] for g in results['torch gemm']]
    lines.append(f'| the same GEMMs in PyTorch | {statistics.median(torch_gemms):.1f} | {min(torch_gemms):.1f} | | '
                 f'{JOB_ITERATIONS * statistics.median(torch_gemms) / 1e3:.0f} | '
                 f'{statistics.median(torch_gemms) / fused_ms:.2f} | |')
    lines.append(f'| matmul floor: {gemm_flops() / 1e6:.0f} MFLOP at {rate:.0f} GFLOP/s | {floor_ms:.1f} | | | '
                 f'{JOB_ITERATIONS * floor_ms / 1e3:.0f} | {floor_ms / fused_ms:.2f} | |')
    lines.append('')
    f32, f64 = med['reference float32'][0], med['reference float64'][0]
    best_f32 = best['reference float32']
    lines.append(f'reference float32: {f32 / fused_ms:.2f} x torch fused Adam ({best_f32 / best["torch Adam fused"]:.2f} '
                 f'best window against best window), {f32 / floor_ms:.2f} x the matmul floor '
                 f'({best_f32 / floor_ms:.2f} best), {f32 / gemms_ms:.2f} x the GEMMs alone; '
                 f'float64 / float32: {f64 / f32:.2f}; '
                 f'without numba / with numba: {med["reference float32, no numba"][0] / f32:.2f}.')
    lines += [
              f'Medians of {len(results["gemm"])} alternating windows of each; CPU idle before them '
              f'(of {os.cpu_count()} cores): median {statistics.median(results["idle"]):.0%}, '
              f'lowest {min(results["idle"]):.0%}.']
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--windows', type=int, default=5)
    parser.add_argument('--iterations', type=int, default=100, help='steps per window')
    parser.add_argument('--checks', type=int, default=2, help='accuracy checks per window')
    parser.add_argument('--idle', type=float, default=0.9, help='CPU idle fraction to wait for')
    parser.add_argument('--patience', type=float, default=900, help='seconds per window to wait for it')
    parser.add_argument('--worker', choices=WORKERS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker)
        return 0
    print(table(measure(args.windows, args.iterations, args.checks, args.idle, args.patience)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
