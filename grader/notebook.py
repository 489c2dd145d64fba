"""Running a homework notebook in isolation, reading what it printed, and checking its model.

`run_notebook` executes a notebook with nbclient in a scratch folder laid out like the course:

    nndl/      layers, layer_utils, fc_net, optim   (the reference's, the submission's on top)
    cs231n/    solver, gradient_check, data_utils    (the reference's solver, gradient_check, data)
    fast.py in both, when no submission file is overlaid (the reference's fast training path)

The reference sources are copied with their `reference.X` imports rewritten to these names.
The kernel is started by grader/kernel.py (own process group, resource limits, minimal
environment, no access to the installed `reference` and `grader` packages) and nothing it
started survives the run. A grader cell appended to the notebook saves the trained model
(`best_model`, else `model`); the grader re-evaluates it in its own process with the
reference forward pass (test mode) on the test split.

OUTDIR receives:
    executed.ipynb   the notebook with its outputs (and the appended cell)
    summary.json     NotebookRun as JSON (see its docstring)
    cellNN_K.png     the K-th image/png output of cell NN (1-based)
    model.npz        the saved model: param/<name>, bn/<i>/running_mean, bn/<i>/running_var
    kernel.log       the kernel's stderr, when it wrote any

`grader notebook NOTEBOOK [--nndl DIR] [--data-dir D] -o OUTDIR` is `main`.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import numpy as np

from grader import kernel
from grader.report import CheckResult
from grader.rubric import Rubric

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
COURSE_MODULES = {          # reference module -> course module
    "layers": "nndl.layers", "layer_utils": "nndl.layer_utils", "fc_net": "nndl.fc_net",
    "optim": "nndl.optim", "solver": "cs231n.solver", "gradient_check": "cs231n.gradient_check",
    "data": "cs231n.data_utils",
}
NNDL_FILES = ("layers.py", "layer_utils.py", "fc_net.py", "optim.py")
ACCURACY_BAR = 0.55          # the homework's target test accuracy
AGREEMENT = 0.01             # printed vs re-evaluated test accuracy (on the notebook's rows)
OUTPUT_CHARS = 64 << 20      # outputs kept from one notebook; the rest is dropped
MAX_MODEL_BYTES = 256 << 20  # uncompressed size of a saved model
SAVE_SECONDS = 120           # the appended cell's time limit
STARTUP_SECONDS = 60
KERNEL_NAME = "nndl-sandbox"
SAVE_TAG = "nndl-grader"
MODEL_FILE = "nndl_grader_model.npz"
PRINTED = re.compile(r"^\s*(Validation|Test) set accuracy:\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$",
                     re.MULTILINE)
CELL_LINE = re.compile(r"Cell In\s*\[\d*\],\s*line (\d+)")
BACKWARD_CALL = re.compile(r"(?<![\w.])(?<!def )([a-z]\w*_backward)\(([^()]*)\)")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class Split(NamedTuple):
    """get_CIFAR10_data's sizes: the re-evaluation must preprocess as the notebook did."""
    num_training: int = 49000
    num_validation: int = 1000
    num_test: int = 1000


class ModelError(Exception):
    """The saved model cannot be re-evaluated; the message says why."""


@dataclass
class CellError:
    """An exception raised by a cell. cell: 1-based position among all the notebook's cells
    (markdown included); line: 1-based line in that cell, when the traceback names it."""
    cell: int
    line: int | None
    ename: str
    evalue: str


@dataclass
class NotebookRun:
    """What running a notebook gave; summary.json is this as JSON (int keys become strings).

    ok            every code cell ran without error within the limits
    outdir        the output folder; images, executed and model are file names inside it
    run_id        the token (kernel.RUN_VAR) in the environment of every kernel process
    failure       None, "invalid" (not JSON or not a notebook), "start" (the kernel did not
                  start), "error" (a cell raised: see error), "timeout", "kernel_died", or
                  "leftovers" (processes survived SIGKILL)
    reason        one sentence naming the failure ("" when ok)
    cells_run     code cells that finished, of code_cells
    seconds       wall time of the whole run; cell_seconds: cell number -> seconds
    printed       "validation" / "test" -> the last `Validation|Test set accuracy: X` printed
    reevaluated_test      the saved model's accuracy, as the grader computed it, on the
                          notebook's own test rows (the split), or None and
                          reevaluation_problem says why
    reevaluated_full_test the same on all the test images (10,000 in CIFAR-10): what the
                          bar judges, as it is far less noisy than 1,000 rows
    """
    ok: bool
    outdir: str
    run_id: str = ""
    failure: str | None = None
    reason: str = ""
    error: CellError | None = None
    cells_run: int = 0
    code_cells: int = 0
    seconds: float = 0.0
    cell_seconds: dict[int, float] = field(default_factory=dict)
    printed: dict[str, float] = field(default_factory=dict)
    reevaluated_test: float | None = None
    reevaluated_full_test: float | None = None
    reevaluation_problem: str | None = None
    images: list[str] = field(default_factory=list)
    executed: str | None = None
    model: str | None = None

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class _Progress:
    """Filled in while the cells run."""
    cell: int = 0
    cells_run: int = 0
    cell_seconds: dict[int, float] = field(default_factory=dict)
    failure: str | None = None
    reason: str = ""
    error: CellError | None = None
    saved: bool = False
    leftovers: list[int] = field(default_factory=list)


# ---- the course layout ------------------------------------------------------------------

def course_source(module: str) -> str:
    """reference/<module>.py in course form: `reference.X` (imports and mentions) and `from
    reference import X` renamed (COURSE_MODULES), and every call of a course backward function
    cut to its two course arguments (dout, cache): the reference may pass more (e.g.
    input_grad), which a submission's layers or sandwiches would not accept."""
    source = (REFERENCE / f"{module}.py").read_text(encoding="utf-8")
    modules = "|".join(COURSE_MODULES)
    source = re.sub(rf"\breference\.({modules})\b", lambda m: COURSE_MODULES[m[1]], source)
    source = re.sub(rf"\bfrom reference import ({modules})\b",
                    lambda m: "from {} import {}".format(*COURSE_MODULES[m[1]].rsplit(".", 1)), source)
    source = BACKWARD_CALL.sub(_two_arguments, source)
    if re.search(r"^\s*(from|import)\s+reference\b", source, re.MULTILINE):
        raise AssertionError(f"reference/{module}.py: an import of reference is left after rewriting")
    return source


def _two_arguments(call: re.Match) -> str:
    """`name(a, b, ...)` -> `name(a, b)`; calls with two arguments or fewer unchanged."""
    arguments = call[2].split(",")
    return f"{call[1]}({arguments[0].strip()}, {arguments[1].strip()})" if len(arguments) > 2 else call[0]


def build_layout(root: Path, nndl_files: dict[str, bytes] | None) -> None:
    """root/nndl and root/cs231n (see the module docstring); nndl_files (names in NNDL_FILES)
    replace the reference's files in nndl/. Without nndl_files both packages also get the
    reference's fast.py, so the reference trains on its fast path; with them, neither does,
    so a submission's layers and update rules are never replaced by the fast kernels."""
    unknown = set(nndl_files or {}) - set(NNDL_FILES)
    if unknown:
        raise ValueError(f"not course files of nndl/: {sorted(unknown)} (expected {NNDL_FILES})")
    for package in ("nndl", "cs231n"):
        (root / package).mkdir(parents=True, exist_ok=True)
        (root / package / "__init__.py").write_text("")
    for module, course in COURSE_MODULES.items():
        (root / (course.replace(".", "/") + ".py")).write_text(course_source(module), encoding="utf-8")
    for name, source in (nndl_files or {}).items():
        (root / "nndl" / name).write_bytes(source)
    if not nndl_files:
        for package in ("nndl", "cs231n"):
            shutil.copyfile(REFERENCE / "fast.py", root / package / "fast.py")


# ---- reading the notebook -----------------------------------------------------------------

def read_notebook(source: bytes | str | Path) -> Any:
    """Notebook bytes or a path -> a validated nbformat v4 node; ValueError naming the problem."""
    import nbformat
    try:
        raw = source if isinstance(source, bytes) else Path(source).read_bytes()
    except OSError as e:
        raise ValueError(f"cannot read {source}: {e.strerror}") from None
    try:
        text = raw.decode("utf-8")
        json.loads(text)
    except (UnicodeDecodeError, ValueError) as e:
        raise ValueError(f"the file is not JSON ({e})") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nb = nbformat.reads(text, as_version=4)
            nbformat.validate(nb)
    except Exception as e:  # nbformat raises many types on malformed notebooks
        raise ValueError(f"the JSON is not a Jupyter notebook ({type(e).__name__}: {_first_line(e)})") from None
    return nb


def _first_line(error: object) -> str:
    """The first line of str(error), at most 300 characters."""
    return (str(error).strip().splitlines() or [""])[0][:300]


def save_cell_source(path: Path) -> str:
    """The appended cell: np.savez(path) of `best_model` or `model` (the first with a dict
    .params): param/<name> for each parameter, bn/<i>/running_mean|running_var for bn_params."""
    return f"""# nndl-grader: saves the trained model so that the grader can re-evaluate it
def _nndl_grader_save(path={str(path)!r}):
    import numpy
    found = [globals()[n] for n in ('best_model', 'model') if isinstance(getattr(globals().get(n), 'params', None), dict)]
    if not found:
        print('nndl-grader: no model (best_model or model) to save')
        return
    arrays = {{'param/' + str(k): numpy.asarray(v) for k, v in found[0].params.items()}}
    for i, bn in enumerate(getattr(found[0], 'bn_params', None) or []):
        for key in ('running_mean', 'running_var'):
            if isinstance(bn, dict) and key in bn:
                arrays[f'bn/{{i}}/{{key}}'] = numpy.asarray(bn[key])
    numpy.savez(path, **arrays)
    print(f'nndl-grader: saved {{len(arrays)}} arrays')
_nndl_grader_save()
del _nndl_grader_save
"""


# ---- running it ---------------------------------------------------------------------------

def _capped_client_class() -> type:
    """NotebookClient keeping at most OUTPUT_CHARS characters of outputs (a notice, then none)."""
    import nbformat
    from nbclient import NotebookClient

    class CappedClient(NotebookClient):
        kept_chars = 0

        def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> Any:
            content = msg["content"]
            size = len(str(content.get("text", ""))) + sum(len(str(v)) for v in (content.get("data") or {}).values())
            self.kept_chars += size
            if self.kept_chars <= OUTPUT_CHARS:
                return super().output(outs, msg, display_id, cell_index)
            if self.kept_chars - size <= OUTPUT_CHARS:
                outs.append(nbformat.v4.new_output("stream", name="stderr",
                                                   text="[nndl-grader: output limit reached; the rest is dropped]\n"))
            return None

    return CappedClient


def _kernel_manager(control: Path, workdir: Path, limits: kernel.KernelLimits) -> Any:
    """An AsyncKernelManager whose only kernel spec is grader/kernel.py's launcher; it talks
    to the kernel over Unix sockets in `control` (no TCP port)."""
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpecManager
    spec_dir = control / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    from grader.grade import forbidden_roots
    argv = kernel.launcher_argv(limits, workdir, forbidden_roots())
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": argv + ["--HistoryManager.hist_file=:memory:"],
        "display_name": "nndl-grader sandbox", "language": "python"}))
    specs = KernelSpecManager(kernel_dirs=[str(control / "kernels")], ensure_native_kernel=False)
    return AsyncKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs, transport="ipc",
                              ip=str(control / "ipc"), connection_file=str(control / "connection.json"))


async def _execute(nb: Any, km: Any, progress: _Progress, cell_timeout: float, deadline: float) -> None:
    """Run the notebook's code cells (all but the last, the save cell), then the save cell
    unless the run timed out or the kernel died. Problems land in `progress`."""
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    client = _capped_client_class()(nb, km=km, force_raise_errors=True, coalesce_streams=True,
                                    startup_timeout=int(max(1, min(STARTUP_SECONDS, deadline - time.monotonic()))))
    try:
        await client.async_start_new_kernel_client()
    except Exception as e:  # RuntimeError or TimeoutError from the start handshake
        progress.failure, progress.reason = "start", f"the kernel did not start ({_first_line(e) or type(e).__name__})"
        return
    try:
        await _run_cells(client, nb, progress, cell_timeout, deadline)
        await _run_save_cell(client, nb, progress)
    except CellTimeoutError:
        _timed_out(progress, cell_timeout, deadline)
    except DeadKernelError:
        progress.failure, progress.reason = "kernel_died", f"the kernel died in cell {progress.cell} ({_exit_status(km)})"
    except CellExecutionError as e:
        progress.failure, progress.error = "error", _cell_error(nb, progress.cell, e)
        progress.reason = _error_text(progress.error)
        await _run_save_cell(client, nb, progress)
    finally:
        client.kc.stop_channels()


async def _run_cells(client: Any, nb: Any, progress: _Progress, cell_timeout: float, deadline: float) -> None:
    from nbclient.exceptions import CellTimeoutError
    for index, cell in enumerate(nb.cells[:-1]):
        if cell.cell_type != "code":
            continue
        progress.cell = index + 1
        remaining = deadline - time.monotonic()
        if remaining < 1:
            raise CellTimeoutError("the total time limit was reached")
        client.timeout = max(1, int(min(cell_timeout, remaining)))
        start = time.monotonic()
        try:
            await client.async_execute_cell(cell, index)
        finally:
            progress.cell_seconds[index + 1] = round(time.monotonic() - start, 3)
        progress.cells_run += 1


async def _run_save_cell(client: Any, nb: Any, progress: _Progress) -> None:
    """The appended cell, with its own short limit; its failure only means no model."""
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    client.timeout = SAVE_SECONDS
    try:
        await client.async_execute_cell(nb.cells[-1], len(nb.cells) - 1)
        progress.saved = True
    except (CellExecutionError, CellTimeoutError, DeadKernelError):
        pass


def _timed_out(progress: _Progress, cell_timeout: float, deadline: float) -> None:
    progress.failure = "timeout"
    if deadline - time.monotonic() < 1:
        progress.reason = f"the notebook did not finish within its total time limit (stopped in cell {progress.cell})"
    else:
        progress.reason = f"cell {progress.cell} ran longer than the per-cell limit of {cell_timeout:g} s"


def _exit_status(km: Any) -> str:
    """'killed by signal SIGKILL', 'exit code 3', or 'exit status unknown'."""
    process = getattr(km.provisioner, "process", None)
    code = process.poll() if process is not None else None
    if code is None:
        return "exit status unknown"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        return f"killed by signal {name}" + (", the CPU time limit" if name == "SIGXCPU" else "")
    return f"exit code {code}"


def _cell_error(nb: Any, cell: int, error: Any) -> CellError:
    """CellError from the failing cell's error output (its traceback names the line)."""
    traceback = [o.get("traceback", []) for o in nb.cells[cell - 1].outputs if o.get("output_type") == "error"]
    text = ANSI.sub("", "\n".join(traceback[-1] if traceback else [str(error)]))
    line = CELL_LINE.search(text)
    return CellError(cell, int(line[1]) if line else None, error.ename, _first_line(error.evalue))


def _error_text(error: CellError) -> str:
    where = f"cell {error.cell}" + (f", line {error.line}" if error.line else "")
    return f"{where}: {error.ename}: {error.evalue}" if error.evalue else f"{where}: {error.ename}"


async def _run_kernel(nb: Any, scratch: Path, data_dir: Path | None, run_id: str,
                      cell_timeout: float, total_timeout: float) -> _Progress:
    """Start the sandboxed kernel in scratch/work, execute, and end every process it started."""
    workdir, control = scratch / "work", scratch / "control"
    control.mkdir()
    (workdir / ".config").mkdir()
    km = _kernel_manager(control, workdir, kernel.KernelLimits.for_wall_time(total_timeout))
    progress = _Progress()
    deadline = time.monotonic() + total_timeout
    with open(control / "kernel.log", "wb") as log:
        try:
            await km.start_kernel(env=kernel.kernel_env(run_id, workdir, data_dir), cwd=str(workdir),
                                  stdout=subprocess.DEVNULL, stderr=log)
        except Exception as e:  # the launcher could not be spawned at all
            progress.failure, progress.reason = "start", f"the kernel did not start ({_first_line(e)})"
        else:
            await _execute(nb, km, progress, cell_timeout, deadline)
        finally:
            progress.leftovers = await _stop(km, run_id)
    return progress


async def _stop(km: Any, run_id: str) -> list[int]:
    """Shut the kernel down, then kill its process group and every process carrying run_id
    -> the pids that survived (normally none)."""
    pgid = getattr(km.provisioner, "pgid", None)
    try:
        await km.shutdown_kernel(now=True)
    except Exception:  # already dead or never started: the sweep below still runs
        pass
    return kernel.kill_leftovers(pgid, run_id)


# ---- what it produced ---------------------------------------------------------------------

def printed_numbers(nb: Any) -> dict[str, float]:
    """'validation' / 'test' -> the last `Validation|Test set accuracy: X` line in stdout
    with a finite X."""
    found = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stdout":
                for match in PRINTED.finditer(output.get("text", "")):
                    if math.isfinite(float(match[2])):
                        found["validation" if match[1] == "Validation" else "test"] = float(match[2])
    return found


def write_images(nb: Any, outdir: Path) -> list[str]:
    """Each image/png output as outdir/cellNN_K.png -> the file names."""
    names = []
    for number, cell in enumerate(nb.cells, start=1):
        pngs = [o["data"]["image/png"] for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
        for k, png in enumerate(pngs, start=1):
            name = f"cell{number:02d}_{k}.png"
            try:
                (outdir / name).write_bytes(base64.b64decode("".join(png) if isinstance(png, list) else png))
            except ValueError:
                continue
            names.append(name)
    return names


def load_model(path: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """model.npz -> (params: name -> array, bn_stats: "<i>/running_mean|running_var" -> array),
    numeric arrays only; ModelError otherwise."""
    try:
        with zipfile.ZipFile(path) as archive:
            if sum(info.file_size for info in archive.infolist()) > MAX_MODEL_BYTES:
                raise ModelError(f"the saved model is larger than {MAX_MODEL_BYTES >> 20} MB")
        with np.load(path, allow_pickle=False) as saved:
            arrays = {key: saved[key] for key in saved.files}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise ModelError(f"the saved model cannot be read ({_first_line(e)})") from None
    bad = [key for key, value in arrays.items() if value.dtype.kind not in "fiu"]
    if bad:
        raise ModelError(f"the saved model holds non-numeric arrays: {bad[:3]}")
    params = {key[6:]: value for key, value in arrays.items() if key.startswith("param/")}
    return params, {key[3:]: value for key, value in arrays.items() if key.startswith("bn/")}


def reference_model(params: dict[str, np.ndarray], bn_stats: dict[str, np.ndarray]) -> Any:
    """A reference FullyConnectedNet (float32) holding params W1..WL, b1..bL (and gamma, beta,
    running statistics with batchnorm); ModelError when they do not form one."""
    from reference.fc_net import FullyConnectedNet
    layers = sum(1 for key in params if re.fullmatch(r"W\d+", key))
    if layers == 0 or any(f"{p}{i}" not in params for p in "Wb" for i in range(1, layers + 1)):
        raise ModelError(f"the saved parameters are not W1..WL, b1..bL of a FullyConnectedNet: {sorted(params)[:8]}")
    shapes = [params[f"W{i}"].shape for i in range(1, layers + 1)]
    if any(len(s) != 2 for s in shapes) or any(a[1] != b[0] for a, b in zip(shapes, shapes[1:])):
        raise ModelError(f"the saved weights do not chain: {shapes}")
    state = np.random.get_state()   # the constructor draws weights: leave the grader's generator as it was
    model = FullyConnectedNet([s[1] for s in shapes[:-1]], input_dim=shapes[0][0], num_classes=shapes[-1][1],
                              use_batchnorm="gamma1" in params)
    np.random.set_state(state)
    _load_params(model, params, bn_stats)
    return model


def _load_params(model: Any, params: dict[str, np.ndarray], bn_stats: dict[str, np.ndarray]) -> None:
    for key, value in model.params.items():
        if key not in params or params[key].shape != value.shape:
            raise ModelError(f"the saved parameter {key} is missing or has shape "
                             f"{getattr(params.get(key), 'shape', None)}, not {value.shape}")
        model.params[key] = params[key].astype(np.float32)
    for i, bn_param in enumerate(model.bn_params):
        for stat in ("running_mean", "running_var"):
            saved = bn_stats.get(f"{i}/{stat}")
            if saved is None or saved.shape != model.params[f"gamma{i + 1}"].shape:
                raise ModelError(f"the saved model has batchnorm but no usable {stat} for layer {i + 1}")
            bn_param[stat] = saved.astype(np.float32)


def reevaluate(model_path: Path, data_dir: Path, split: Split = Split()) -> tuple[float, float]:
    """Test accuracy of the saved model, computed here with the reference forward pass (test
    mode) and get_CIFAR10_data's preprocessing (the split's training mean) -> (accuracy on
    the split's num_test rows, accuracy on all test rows). Raises ModelError, DatasetError,
    ValueError."""
    from reference.data import get_CIFAR10_data
    model = reference_model(*load_model(model_path))
    if model.params["W1"].shape[0] != 3 * 32 * 32:
        raise ModelError(f"the saved model takes {model.params['W1'].shape[0]} inputs, not 3072")
    data = get_CIFAR10_data(split.num_training, split.num_validation, None, data_dir=data_dir, dtype=np.float32)
    if len(data["X_test"]) < split.num_test:
        raise ValueError(f"the data has {len(data['X_test'])} test rows, not the notebook's {split.num_test}")
    X, y = data["X_test"], data["y_test"]
    correct = np.hstack([np.argmax(model.loss(X[i:i + 100]), axis=1) for i in range(0, len(X), 100)]) == y
    return float(np.mean(correct[:split.num_test])), float(np.mean(correct))


# ---- the whole run ------------------------------------------------------------------------

def run_notebook(notebook: bytes | str | Path, nndl_files: dict[str, bytes] | None, data_dir: str | Path | None,
                 outdir: str | Path, cell_timeout: float = 3600, total_timeout: float = 7200,
                 split: Split = Split()) -> NotebookRun:
    """Execute `notebook` (bytes or a path) against the reference with `nndl_files` (file name
    in NNDL_FILES -> source) overlaid, CIFAR10_DIR=data_dir; write OUTDIR (module docstring).
    A notebook problem never raises: it is the returned run's failure and reason."""
    outdir = Path(outdir).resolve()
    _clear(outdir)
    run = NotebookRun(ok=False, outdir=str(outdir), run_id=uuid.uuid4().hex)
    start = time.monotonic()
    try:
        nb = read_notebook(notebook)
    except ValueError as e:
        run.failure, run.reason = "invalid", f"not a valid notebook: {e}"
        return _finish(run, start)
    data = Path(data_dir).resolve() if data_dir is not None else None
    with tempfile.TemporaryDirectory(prefix="nndl-notebook-") as scratch:
        build_layout(Path(scratch) / "work", nndl_files)
        nb.cells.append(_save_cell(Path(scratch) / "work" / MODEL_FILE))
        progress = asyncio.run(_run_kernel(nb, Path(scratch), data, run.run_id, cell_timeout, total_timeout))
        _record(run, nb, progress, Path(scratch), outdir)
    if run.model is None:
        run.reevaluation_problem = "no model was saved"
    elif data is None:
        run.reevaluation_problem = "no data folder to re-evaluate on"
    else:
        _reevaluate_into(run, outdir / run.model, data, split)
    return _finish(run, start)


def _clear(outdir: Path) -> None:
    """Remove what an earlier run wrote to outdir."""
    outdir.mkdir(parents=True, exist_ok=True)
    for path in [*outdir.glob("cell*_*.png"), *(outdir / n for n in
                 ("executed.ipynb", "summary.json", "model.npz", "kernel.log"))]:
        path.unlink(missing_ok=True)


def _save_cell(path: Path) -> Any:
    import nbformat
    cell = nbformat.v4.new_code_cell(save_cell_source(path), metadata={"tags": [SAVE_TAG]})
    cell.id = "nndl-grader-save"
    return cell


def _record(run: NotebookRun, nb: Any, progress: _Progress, scratch: Path, outdir: Path) -> None:
    """Copy the progress, printed numbers, images, log, model and executed notebook into run/outdir."""
    import nbformat
    if progress.leftovers and progress.failure is None:
        progress.failure, progress.reason = "leftovers", f"processes survived the end of the run: {progress.leftovers}"
    run.ok = progress.failure is None
    run.failure, run.reason, run.error = progress.failure, progress.reason, progress.error
    run.cells_run, run.cell_seconds = progress.cells_run, progress.cell_seconds
    run.code_cells = sum(c.cell_type == "code" for c in nb.cells[:-1])
    run.printed = printed_numbers(nb)
    run.images = write_images(nb, outdir)
    nbformat.write(nb, str(outdir / "executed.ipynb"))
    run.executed = "executed.ipynb"
    log = scratch / "control" / "kernel.log"
    if log.stat().st_size:
        shutil.copyfile(log, outdir / "kernel.log")
        if progress.failure == "start":
            run.reason += ": " + log.read_text(errors="replace").strip()[-500:]
    saved = scratch / "work" / MODEL_FILE
    if progress.saved and saved.is_file():
        shutil.copyfile(saved, outdir / "model.npz")
        run.model = "model.npz"


def _reevaluate_into(run: NotebookRun, model: Path, data_dir: Path, split: Split) -> None:
    try:
        run.reevaluated_test, run.reevaluated_full_test = reevaluate(model, data_dir, split)
    except Exception as e:  # the saved model is the notebook's: it may break the forward pass in any way
        run.reevaluation_problem = _first_line(e) or type(e).__name__


def _finish(run: NotebookRun, start: float) -> NotebookRun:
    run.seconds = round(time.monotonic() - start, 3)
    (Path(run.outdir) / "summary.json").write_text(json.dumps(run.to_json(), indent=1, allow_nan=False) + "\n")
    return run


# ---- grading ------------------------------------------------------------------------------

def accuracy_problems(run: NotebookRun, keys: Sequence[str] = ("test",), bar: float = ACCURACY_BAR) -> list[str]:
    """Why the printed accuracies (`keys` of run.printed) are not all >= `bar`, or the printed
    test accuracy is not confirmed (agreement_problems); [] when they are. The CI gate."""
    below = [f"printed {key} accuracy {run.printed[key]:.4f} is below {bar:g}"
             for key in keys if key in run.printed and run.printed[key] < bar]
    unprinted = [_not_printed(key) for key in keys if key not in run.printed and key != "test"]
    return [*unprinted, *below, *agreement_problems(run)]   # agreement names a missing test line


def training_problems(run: NotebookRun, bar: float = ACCURACY_BAR) -> list[str]:
    """Why the trained model fails the training item: the printed test accuracy is not
    confirmed (agreement_problems), or the model's accuracy on all test rows, as the grader
    measures it, is below `bar`; [] when it passes. The grading rule."""
    problems = agreement_problems(run)
    if not problems and run.reevaluated_full_test is not None and run.reevaluated_full_test < bar:
        problems.append(f"the saved model scores {run.reevaluated_full_test:.4f} on all test images "
                        f"when the grader evaluates it, below {bar:g}")
    return problems


def agreement_problems(run: NotebookRun) -> list[str]:
    """Why the printed test accuracy is missing, or differs by more than AGREEMENT from the
    grader's re-evaluation of the saved model on the same rows (a printed number alone is not
    trusted); [] when it agrees."""
    if "test" not in run.printed:
        return [_not_printed("test")]
    if run.reevaluated_test is None:
        return [f"the saved model could not be re-evaluated: {run.reevaluation_problem}"]
    if abs(run.reevaluated_test - run.printed["test"]) > AGREEMENT:
        return [f"printed test accuracy {run.printed['test']:.4f} but the saved model scores "
                f"{run.reevaluated_test:.4f} on those rows when the grader re-evaluates it"]
    return []


def _not_printed(key: str) -> str:
    return f"the notebook printed no '{'Validation' if key == 'validation' else 'Test'} set accuracy: <number>' line"


def notebook_checks(run: NotebookRun, rubric: Rubric) -> list[CheckResult]:
    """notebook.runs (runs to the end without errors within the time limit) and
    notebook.training (training_problems with the rubric limit notebook_accuracy, default
    ACCURACY_BAR); points: rubric.check_points(item, "notebook", 1)."""
    bar = float(rubric.limits.get("notebook_accuracy", ACCURACY_BAR))
    ran = f"ran all {run.cells_run} code cells without errors"
    problems = training_problems(run, bar)
    if problems and not run.ok:
        problems.append(f"(the run stopped: {run.reason})")
    trained = (f"printed test accuracy {run.printed.get('test', 0):.4f}, confirmed by re-evaluation "
               f"({run.reevaluated_test or 0:.4f}); on all test images: "
               f"{run.reevaluated_full_test or 0:.4f}; bar {bar:g}")
    return [
        _check(rubric, "notebook.runs", "runs to the end without errors within the time limit",
               run.ok, ran if run.ok else run.reason),
        _check(rubric, "notebook.training", f"the model's accuracy on all test images >= {bar:g}; the printed "
               "test accuracy confirmed by re-evaluation", not problems, trained if not problems else "; ".join(problems)),
    ]


def _check(rubric: Rubric, item: str, description: str, passed: bool, message: str) -> CheckResult:
    points = rubric.check_points(item, "notebook", 1)
    return CheckResult(id=item, function=item, kind="notebook", status="passed" if passed else "failed",
                       score=points if passed else 0.0, max_score=points, message=message,
                       description=description)


# ---- command line -------------------------------------------------------------------------

def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="grader notebook", description="Run a homework notebook in isolation.")
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--nndl", type=Path, help="folder with the submission's nndl files (default: the reference)")
    parser.add_argument("--data-dir", type=Path, help="CIFAR-10 folder (default: $CIFAR10_DIR)")
    parser.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    parser.add_argument("--cell-timeout", type=float, default=3600, help="seconds per cell (3600)")
    parser.add_argument("--timeout", type=float, default=7200, help="seconds for the whole notebook (7200)")
    parser.add_argument("--min-accuracy", type=float,
                        help="also require printed validation and test accuracy >= this, confirmed (CI)")
    return parser.parse_args(argv)


def _nndl_files(folder: Path) -> dict[str, bytes]:
    found = {name: (folder / name).read_bytes() for name in NNDL_FILES if (folder / name).is_file()}
    if not found:
        raise ValueError(f"{folder}: holds none of {', '.join(NNDL_FILES)}")
    return found


def describe(run: NotebookRun) -> str:
    """A few lines for the terminal."""
    lines = [f"notebook: {'ran to the end' if run.ok else 'FAILED: ' + run.reason}",
             f"cells: {run.cells_run} of {run.code_cells} code cells; run time {run.seconds:.1f} s"]
    for key in ("validation", "test"):
        if key in run.printed:
            lines.append(f"printed {key} accuracy: {run.printed[key]:.4f}")
    lines.append(f"re-evaluated test accuracy: {run.reevaluated_test:.4f} (on all test images: "
                 f"{run.reevaluated_full_test:.4f})" if run.reevaluated_test is not None
                 else f"re-evaluation: {run.reevaluation_problem or 'not attempted'}")
    files = [run.executed, "summary.json", f"{len(run.images)} images", run.model]
    lines.append(f"written to {run.outdir}: {', '.join(f for f in files if f)}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Exit code: 0 ran (and met --min-accuracy), 1 did not, 2 bad arguments."""
    args = _parse(argv)
    from reference.data import DatasetError, resolve_data_dir
    try:
        nndl = _nndl_files(args.nndl) if args.nndl else None
        data_dir = resolve_data_dir(args.data_dir)
    except (OSError, ValueError, DatasetError) as e:
        print(f"grader notebook: {_first_line(e)}", file=sys.stderr)
        return 2
    run = run_notebook(args.notebook, nndl, data_dir, args.out, args.cell_timeout, args.timeout)
    print(describe(run))
    problems = [] if run.ok else [run.reason]
    if args.min_accuracy is not None:
        problems += accuracy_problems(run, ("validation", "test"), args.min_accuracy)
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
