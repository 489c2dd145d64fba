"""The notebook kernel's isolation: a launcher script (child side) and its command line and
clean-up (parent side).

Child side, run as `python -I kernel.py OPTIONS -- IPYKERNEL_ARGS` (it never imports the
grader package): resource limits (address space, CPU seconds, file size with SIGXFSZ ignored
so a too-large write fails with EFBIG, no core dumps); the sandbox child's import confinement
(grader/child.py, loaded by path: sys.path = the scratch folder, then the interpreter's
entries away from the forbidden roots; its import guard first on sys.meta_path); an audit
hook, which cannot be removed: importing the grader's packages raises ModuleNotFoundError and
opening a file under a forbidden root raises PermissionError. Then ipykernel runs in this
process; just before the first cell, when ipykernel has bound its sockets and started its
threads and event loops, the process takes the sandbox child's kernel confinement (child.py's
`_confine_kernel`): no new privileges or capabilities and Landlock on the main thread, where
cells run, and the threads they start (Landlock: read and write the scratch folder; read the
import path, the shared libraries and CIFAR10_DIR; nothing else; no TCP bind or connect);
seccomp on every thread (no new processes, sockets, ptrace and the like). Layers this machine
lacks are reported on stderr (kernel.log), and the in-process guards still hold; if the
confinement itself fails, the kernel exits before any cell runs.

Parent side: `launcher_argv` builds the kernel spec's argv, `kernel_env` the minimal
environment, and `kill_leftovers` ends every process the kernel left behind: its process
group, and any process whose environment carries the run's token (RUN_VAR=token), which
catches descendants that started a session of their own.
"""
from __future__ import annotations

import argparse
import importlib.util
import math
import os
import resource
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Callable, NoReturn

RUN_VAR = "NNDL_GRADER_RUN"
GIB = 1 << 30


@dataclass(frozen=True)
class KernelLimits:
    """Resource limits of the kernel process (and what it starts)."""
    address_space: int = 6 * GIB      # bytes (RLIMIT_AS): CIFAR-10 training fits
    cpu_seconds: int = 7200           # RLIMIT_CPU, all threads together
    file_size: int = 512 << 20        # bytes, largest file it may write (RLIMIT_FSIZE)

    @classmethod
    def for_wall_time(cls, seconds: float) -> KernelLimits:
        """CPU seconds enough for `seconds` of wall time on every core, plus a minute."""
        return cls(cpu_seconds=int(math.ceil(seconds * (os.cpu_count() or 1))) + 60)


def launcher_argv(limits: KernelLimits, workdir: Path, forbidden: list[Path]) -> list[str]:
    """The kernel spec's argv: this file as an isolated (-I) script, then ipykernel's -f."""
    argv = [sys.executable, "-I", str(Path(__file__).resolve()),
            "--address-space", str(limits.address_space), "--cpu-seconds", str(limits.cpu_seconds),
            "--file-size", str(limits.file_size), "--path", str(workdir)]
    for root in forbidden:
        argv += ["--forbid", str(root)]
    return argv + ["--", "-f", "{connection_file}"]


def kernel_env(token: str, workdir: Path, data_dir: Path | None) -> dict[str, str]:
    """The kernel's whole environment: PATH, HOME and config folders in workdir, the run's
    token, MPLBACKEND=Agg, and CIFAR10_DIR when data_dir is given."""
    env = {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
        "HOME": str(workdir), "LANG": "C.UTF-8", "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(workdir / ".config" / "matplotlib"),
        "IPYTHONDIR": str(workdir / ".config" / "ipython"),
        "JUPYTER_CONFIG_DIR": str(workdir / ".config" / "jupyter"),
        RUN_VAR: token,
    }
    if data_dir is not None:
        env["CIFAR10_DIR"] = str(data_dir)
    return env


def carrying_token(token: str) -> list[int]:
    """Pids of live processes whose environment holds RUN_VAR=token (zombies have none)."""
    needle = f"{RUN_VAR}={token}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if needle in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def kill_leftovers(pgid: int | None, token: str, rounds: int = 20) -> list[int]:
    """SIGKILL the process group `pgid` and every process carrying `token`, until none is
    left (at most `rounds` sweeps, 50 ms apart) -> the pids still carrying it (normally [])."""
    if pgid is not None:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    for _ in range(rounds):
        pids = carrying_token(token)
        if not pids:
            return []
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.05)
    return carrying_token(token)


# ---- child side -------------------------------------------------------------------------

def _set_limits(args: argparse.Namespace) -> None:
    """RLIMIT_AS, RLIMIT_CPU (SIGXCPU at the limit, SIGKILL 5 s later), RLIMIT_FSIZE (writes
    past it fail with EFBIG), no core."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_AS, (args.address_space, args.address_space))
    resource.setrlimit(resource.RLIMIT_CPU, (args.cpu_seconds, args.cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (args.file_size, args.file_size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _child_guard() -> ModuleType:
    """grader/child.py (the sandbox child), loaded by path under a private name for its guard
    pieces: FORBIDDEN_PACKAGES, _confine_imports, _readable and _confine_kernel. Its stricter
    audit hook is not used: it refuses threads, which ipykernel and numpy's BLAS need."""
    spec = importlib.util.spec_from_file_location("_kernel_child_guard", Path(__file__).with_name("child.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _install_guard(child: ModuleType, scratch: str, roots: tuple[str, ...]) -> None:
    """child.py's import confinement (sys.path = scratch then the entries away from the
    forbidden roots; its import guard first on sys.meta_path), then an audit hook."""
    child._confine_imports(scratch, roots, _refuse_import)
    sys.addaudithook(_audit_hook(roots, child.FORBIDDEN_PACKAGES))


def _confine(child: ModuleType, scratch: str, roots: tuple[str, ...]) -> None:
    """child.py's kernel confinement, for good (module docstring); CIFAR10_DIR and
    the MD5SUMS beside it (reference/data.py reads one there) are readable too. Each missing
    layer is one line on stderr."""
    data = os.path.realpath(os.environ["CIFAR10_DIR"]) if os.environ.get("CIFAR10_DIR") else None
    readable = [*child._readable(roots), *([data, os.path.join(os.path.dirname(data), "MD5SUMS")] if data else [])]
    for gap in child._confine_kernel(scratch, readable):
        print(f"nndl-grader kernel: {gap}", file=sys.stderr, flush=True)


def _refuse_import(message: str) -> NoReturn:
    raise ModuleNotFoundError(f"{message} (not available to notebooks)")


def _audit_hook(roots: tuple[str, ...], packages: frozenset[str]) -> Callable[[str, tuple], None]:
    """Refuses importing `packages` (ModuleNotFoundError) and opening any path under `roots`
    (PermissionError), whatever later code does to sys.meta_path."""
    prefixes = tuple(root + os.sep for root in roots)

    def hook(event: str, args: tuple) -> None:
        if event == "import" and args[0].partition(".")[0] in packages:
            raise ModuleNotFoundError(f"No module named {args[0]!r} (not available to notebooks)")
        if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
            path = os.path.realpath(os.fsdecode(args[0]))
            if path in roots or path.startswith(prefixes):
                raise PermissionError(f"{args[0]!r} is not readable from a notebook")

    return hook


def _parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """Own options before `--`, ipykernel's after."""
    split = argv.index("--") if "--" in argv else len(argv)
    parser = argparse.ArgumentParser(prog="kernel.py")
    parser.add_argument("--address-space", type=int, required=True)
    parser.add_argument("--cpu-seconds", type=int, required=True)
    parser.add_argument("--file-size", type=int, required=True)
    parser.add_argument("--path", required=True, help="the scratch folder (cwd, first on sys.path)")
    parser.add_argument("--forbid", action="append", default=[])
    return parser.parse_args(argv[:split]), argv[split + 1:]


def main(argv: list[str]) -> None:
    """Limits, import confinement and audit hook, then ipykernel with the remaining arguments,
    the kernel confinement taken before its first cell."""
    args, kernel_args = _parse(argv)
    _set_limits(args)
    child = _child_guard()
    roots = tuple(os.path.realpath(root) for root in args.forbid)
    _install_guard(child, args.path, roots)
    sys.argv = [sys.argv[0], *kernel_args]
    from ipykernel.kernelapp import IPKernelApp
    app = IPKernelApp.instance()
    app.initialize(kernel_args)

    def confine_before_the_first_cell(*_: object) -> None:
        app.shell.events.unregister("pre_run_cell", confine_before_the_first_cell)
        try:
            _confine(child, args.path, roots)
        except BaseException as error:   # fail closed: no cell runs unconfined
            print(f"nndl-grader kernel: confinement failed: {error!r}", file=sys.stderr, flush=True)
            os._exit(70)

    app.shell.events.register("pre_run_cell", confine_before_the_first_cell)
    app.start()


if __name__ == "__main__":
    main(sys.argv[1:])
