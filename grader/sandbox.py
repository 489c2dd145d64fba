"""Run a submission's untrusted code in a child process: the grader's side.

    with Sandbox({"optim.py": source}) as box:
        next_w, config = box.call("optim", "adam", w, dw, config)   # config is updated in place too
        adam = box.function("optim", "adam")                        # the same call, as a function
        out, cache = box.call("layers", "affine_forward", x, w, b, opaque=[1])   # cache: a Handle
        dx, dw, db = box.call("layers", "affine_backward", dout, cache)

Each module runs in a child process of its own (grader/child.py), started on first use, so what
one module does to its interpreter (patching numpy or builtins, wrecking the import system, exiting,
hoarding memory, hanging) cannot touch the grading of another. Arguments and results cross as wire
frames (grader/wire.py): arrays go as copies, so the submission never holds the grader's arrays, and
dict and array arguments are updated in place with their post-call contents, as if the call had
run in this process. The positions of a tuple
result named in `opaque` stay in the module's child and come back as Handles, valid in calls into
the same module until its child restarts or they are dropped.

Every failure of the submission raises SubmissionError; its kind is one of

    exception   the code raised an Exception (message: "Type: text", traceback: its own frames)
    memory      MemoryError (the address space is limited)
    exit        SystemExit, KeyboardInterrupt or another BaseException
    forbidden   a refused action or import (see child.py); also listed in `incidents`
    bad-output  the result (or a dict argument) holds something the wire does not carry
    import      the module's file is missing, does not compile, or an import in it fails
    timeout     the wall-clock limit passed; the child was killed
    crash       the child died (a signal, os._exit, a limit), or a handle outlived its child
    broken      this function timed out or crashed before and is not called again

A timeout or crash kills the module's child; the next request into the module starts a new one,
which imports it again. A module whose import failed fails every call into it, at once.

Incidents (`Sandbox.incidents`) say what the submission tried or suffered, each once: the child's
refusals, timeouts, crashes, exits, memory exhaustion, truncated output, and the kernel confinement
the child could not apply (see child.py).
"""

from __future__ import annotations

import fcntl
import functools
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from grader.wire import FRAME_PREFIX, Handle, WireError, decode, encode_parts

__all__ = ["KINDS", "Handle", "Limits", "Sandbox", "SubmissionError"]

KINDS = ("exception", "memory", "exit", "forbidden", "bad-output", "import", "timeout", "crash", "broken")
CHILD = Path(__file__).with_name("child.py")
# The grader package and the reference package beside it: the child may not read either.
OWN_ROOTS = (Path(__file__).resolve().parent, Path(__file__).resolve().parent.parent / "reference")
_CHILD_KINDS = frozenset(KINDS) - {"timeout", "crash", "broken"}  # the parent's own
_INCIDENT_KINDS = ("memory", "exit")  # failures that are incidents too (forbidden ones come as refusals)
_INCIDENTS_PER_REPLY = 20
_INCIDENT_CHARS = 300
_PIPE_BYTES = 1 << 20
_SESSION_SWEEPS = 5
_NOTHING_AFTER: dict = {"args": [], "kwargs": {}}


@dataclass(frozen=True)
class Limits:
    """Limits of one sandbox. Seconds are wall clock per request; the rest bind each child process
    (there is one per imported module)."""

    call_seconds: float = 5.0
    import_seconds: float = 10.0  # also the child's start
    memory_bytes: int = 1 << 30  # RLIMIT_AS; also the largest reply accepted
    cpu_seconds: int = 300  # RLIMIT_CPU, over a child's whole life
    file_bytes: int = 16 << 20  # RLIMIT_FSIZE
    output_bytes: int = 64 << 10  # stdout+stderr kept; the rest is only counted


class SubmissionError(Exception):
    """The submission failed a request: `kind` is one of KINDS, `message` is for people."""

    def __init__(self, kind: str, message: str, traceback: str = "") -> None:
        super().__init__(f"{kind}: {message}")
        self.kind, self.message, self.traceback = kind, message, traceback


class Sandbox:
    """A scratch folder holding the submission's files, and a child process per imported module.

    files maps relative POSIX paths ("optim.py", "nndl/layers.py") to source bytes. The children may
    not read under `forbidden_roots` (nor the grader or reference packages) and may not write
    outside the scratch folder. Use as a context manager, or call close().
    """

    def __init__(
        self, files: Mapping[str, bytes], limits: Limits = Limits(), forbidden_roots: Sequence[Path] = ()
    ) -> None:
        self.limits = limits
        self._scratch = Path(tempfile.mkdtemp(prefix="nndl-sandbox-")).resolve()
        self._remove_scratch = weakref.finalize(self, shutil.rmtree, self._scratch, ignore_errors=True)
        _write_files(self._scratch, files)
        roots = (*OWN_ROOTS, *forbidden_roots)
        self._roots = tuple(dict.fromkeys(str(Path(root).resolve()) for root in roots))
        self._output = _Output(limits.output_bytes)
        self._incidents: dict[str, None] = {}  # an ordered set
        self._children: dict[str, _Child] = {}  # module -> the live child that has imported it
        self._modules: dict[str, SubmissionError | None] = {}  # imported modules: None, or the failure
        self._broken: dict[str, str] = {}  # "module.function": what happened to it
        self._random_state_changed_by: set[str] = set()  # "module.function"s that seeded or drew from np.random
        self._handles: dict[int, str] = {}  # handle id -> the module whose child holds it
        self._next_handle = 1

    @property
    def incidents(self) -> list[str]:
        """What the submission tried or suffered, for people, each once (see the module docstring)."""
        truncation = self._output.truncation()
        return [*self._incidents, *([truncation] if truncation else [])]

    @property
    def output(self) -> str:
        """The children's stdout and stderr, cut at limits.output_bytes (complete after close())."""
        return self._output.text()

    def changed_random_state(self, function: str) -> bool:
        """Whether a call of `function` ("module.function") has changed numpy's global random state
        in its child (np.random.seed, or a draw from np.random)."""
        return function in self._random_state_changed_by

    def load(self, module: str) -> None:
        """Import `module` (a dotted name) in a child of its own, once.

        Raises SubmissionError if that fails, and so do all later loads of and calls into it.
        """
        if self._modules.get(module) is None:  # new, or imported well (perhaps by a child since lost)
            self._live_child(module)
        _raise_again(self._modules[module])

    def call(
        self, module: str, function: str, /, *args: Any, opaque: Sequence[int] = (), **kwargs: Any
    ) -> Any:
        """module.function(*args, **kwargs) in the module's child: its result, with the `opaque`
        positions of a tuple result as Handles. Dict and array arguments are updated in place with
        their post-call contents.

        Raises SubmissionError (and wire.Unsupported for an argument the wire cannot carry).
        """
        name = f"{module}.{function}"
        if name in self._broken:
            raise SubmissionError("broken", f"{name} is not called again (earlier: {self._broken[name]})")
        self.load(module)
        self._check_handles((args, kwargs), module)
        request = {"op": "call", "module": module, "function": function, "args": list(args), "kwargs": kwargs}
        request.update(opaque=list(opaque), first_handle=self._next_handle)
        try:
            reply = self._children[module].request(request, self.limits.call_seconds)
        except _Lost as lost:
            error = self._lose_child(module, lost, name, self.limits.call_seconds)
            self._broken[name] = error.message
            raise error from None
        self._note(reply, f"in {name}")
        _raise_again(self._failure(reply, f"in {name}"))
        _update_args(args, kwargs, reply.get("args_after", _NOTHING_AFTER))
        if reply.get("random_state_changed"):
            self._random_state_changed_by.add(name)
        for handle in _handles_in(reply["ok"]):
            self._handles[handle.id] = module
            self._next_handle = max(self._next_handle, handle.id + 1)
        return reply["ok"]

    def function(self, module: str, name: str, opaque: Sequence[int] = ()) -> Callable[..., Any]:
        """A stand-in for the submission's module.name that runs it through call()."""

        def proxy(*args: Any, **kwargs: Any) -> Any:
            return self.call(module, name, *args, opaque=opaque, **kwargs)

        proxy.__name__ = proxy.__qualname__ = name
        proxy.__doc__ = f"The submission's {module}.{name}, run in the sandbox."
        return proxy

    def drop(self, handles: Iterable[Handle]) -> None:
        """Free the objects behind `handles` in their children; stale handles are ignored."""
        by_module: dict[str, list[Handle]] = {}
        for handle in handles:
            if handle.id in self._handles:
                by_module.setdefault(self._handles.pop(handle.id), []).append(handle)
        for module, live in by_module.items():
            try:
                reply = self._children[module].request({"op": "drop", "handles": live}, self.limits.call_seconds)
            except _Lost as lost:  # a submission's __del__ can hang or crash too
                self._lose_child(module, lost, "dropping handles", self.limits.call_seconds)
                continue
            self._note(reply, "while dropping handles")

    def close(self) -> None:
        """Kill each child's process group and session (SIGKILL), reap it, remove the scratch folder.
        Idempotent."""
        for child in self._children.values():
            child.close()
        self._children.clear()
        self._remove_scratch()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _live_child(self, module: str) -> None:
        """Make sure `module` has a live child that imported it, unless its import fails (recorded in
        self._modules): a child that died between requests is replaced without blame."""
        if not self._remove_scratch.alive:
            raise RuntimeError("the sandbox is closed")
        child = self._children.get(module)
        if child is not None and child.process.poll() is not None:
            self._lose_child(module, _Lost("crash", child.death()), "between requests", 0)
        if module not in self._children:
            self._children[module] = self._start()
            self._import(module)

    def _start(self) -> _Child:
        config = {
            "scratch": str(self._scratch),
            "forbidden": list(self._roots),
            "memory_bytes": self.limits.memory_bytes,
            "cpu_seconds": self.limits.cpu_seconds,
            "file_bytes": self.limits.file_bytes,
        }
        try:
            child = _Child(self._scratch, config, self._output, self.limits)
        except _Lost as lost:
            message = f"the sandbox child did not start ({lost.kind}: {lost.detail})\n{self.output[-2000:]}"
            raise RuntimeError(message) from None
        self._incidents.update(dict.fromkeys(child.confinement_gaps))
        return child

    def _import(self, module: str) -> None:
        """Import `module` in its new child; record None or the failure in self._modules (and let the
        child go on a failure: nothing will call into it)."""
        context = f"import of {_file_of(module)}"
        try:
            reply = self._children[module].request({"op": "load", "module": module}, self.limits.import_seconds)
        except _Lost as lost:
            self._modules[module] = self._lose_child(module, lost, context, self.limits.import_seconds)
            return
        self._note(reply, f"at {context}")
        self._modules[module] = self._failure(reply, f"at {context}")
        if self._modules[module] is not None:
            self._children.pop(module).close()

    def _lose_child(self, module: str, lost: _Lost, what: str, seconds: float) -> SubmissionError:
        """Kill the module's child after a timeout or crash; record the incident; return the error."""
        self._children.pop(module).close()
        self._handles = {handle: owner for handle, owner in self._handles.items() if owner != module}
        message = f"timeout after {seconds} s" if lost.kind == "timeout" else lost.detail
        self._incidents[f"{what}: {message}"] = None
        return SubmissionError(lost.kind, message)

    def _note(self, reply: dict, context: str) -> None:
        incidents = reply["incidents"]
        for incident in incidents[:_INCIDENTS_PER_REPLY]:
            self._incidents[f"{incident[:_INCIDENT_CHARS]} {context}"] = None
        if len(incidents) > _INCIDENTS_PER_REPLY:
            self._incidents[f"{len(incidents) - _INCIDENTS_PER_REPLY} more refusals {context}"] = None

    def _failure(self, reply: dict, context: str) -> SubmissionError | None:
        """The reply's failure, if any; an exit or exhausted memory is an incident too."""
        failure = _failure_in(reply)
        if failure is not None and failure.kind in _INCIDENT_KINDS:
            self._incidents[f"{failure.message[:_INCIDENT_CHARS]} {context}"] = None
        return failure

    def _check_handles(self, value: Any, module: str) -> None:
        for handle in _handles_in(value):
            if self._handles.get(handle.id) != module:
                message = f"handle {handle.id} is stale: the child restarted (or it was dropped) since"
                raise SubmissionError("crash", message)


class _Lost(Exception):
    """The child stopped answering: kind is "timeout" or "crash"."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(kind, detail)
        self.kind, self.detail = kind, detail


class _Child:
    """One child process, its two frame pipes and the thread draining its output."""

    def __init__(self, scratch: Path, config: dict, output: _Output, limits: Limits) -> None:
        request_read, request_write = _pipe()
        reply_read, reply_write = _pipe()
        output_read, output_write = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-s", "-P", str(CHILD), str(request_read), str(reply_write)],
                stdin=subprocess.DEVNULL,
                stdout=output_write,
                stderr=subprocess.STDOUT,
                pass_fds=(request_read, reply_write),
                cwd=scratch,
                env=_environment(scratch),
                start_new_session=True,
            )
        except BaseException:
            for fd in (request_write, reply_read, output_read):
                os.close(fd)
            raise
        finally:
            for fd in (request_read, reply_write, output_write):
                os.close(fd)
        self._writing, self._reading, self._largest_reply = request_write, reply_read, limits.memory_bytes
        os.set_blocking(request_write, False)
        self._finalizer = weakref.finalize(self, _kill, self.process, (request_write, reply_read))
        self._drain = threading.Thread(target=output.drain, args=(output_read,), daemon=True)
        self._drain.start()
        try:
            welcome = self.request(config, limits.import_seconds)
        except _Lost:
            self.close()
            raise
        # Sent before any submitted code ran, so it can be trusted: what the kernel could not confine.
        self.confinement_gaps = [gap[:_INCIDENT_CHARS] for gap in welcome["incidents"]]

    def request(self, message: Any, seconds: float) -> dict:
        """Send one request and return the child's (checked) reply. Raises _Lost."""
        deadline = time.monotonic() + seconds
        parts = encode_parts(message)
        self._send(FRAME_PREFIX.pack(sum(len(p) for p in parts)), deadline)
        for part in parts:
            self._send(part, deadline)
        (size,) = FRAME_PREFIX.unpack(self._receive(FRAME_PREFIX.size, deadline))
        if size > self._largest_reply:
            raise _Lost("crash", f"the child announced a reply of {size} bytes")
        try:
            reply = decode(self._receive(size, deadline))
        except WireError as error:
            raise _Lost("crash", f"the child sent a malformed reply ({error})") from None
        if not _well_formed(reply):
            raise _Lost("crash", "the child sent a reply outside the protocol")
        return reply

    def close(self) -> None:
        """Kill and reap the child (idempotent); give the output drain a moment to finish."""
        self._finalizer()
        self._drain.join(timeout=1.0)

    def _send(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            _await(self._writing, select.POLLOUT, deadline)
            try:
                view = view[os.write(self._writing, view) :]
            except BlockingIOError:
                continue
            except BrokenPipeError:
                raise _Lost("crash", self.death()) from None

    def _receive(self, size: int, deadline: float) -> bytearray:
        buffer = bytearray(size)
        view, got = memoryview(buffer), 0
        while got < size:
            _await(self._reading, select.POLLIN, deadline)
            count = os.readv(self._reading, [view[got:]])
            if count == 0:
                raise _Lost("crash", self.death())
            got += count
        return buffer

    def death(self) -> str:
        """How the child ended, for people (it is killed first if it had not)."""
        self.close()
        code = self.process.returncode
        if code >= 0:
            return f"the child died (exit status {code})"
        try:
            return f"the child died ({signal.Signals(-code).name})"
        except ValueError:
            return f"the child died (signal {-code})"


class _Output:
    """stdout and stderr of every child: the first `keep` bytes, and a count of them all."""

    def __init__(self, keep: int) -> None:
        self._keep, self._kept, self._total = keep, bytearray(), 0
        self._lock = threading.Lock()

    def drain(self, fd: int) -> None:
        """Read `fd` to its end, keeping what fits (in a daemon thread: the writer never waits long)."""
        try:
            while chunk := os.read(fd, 1 << 16):
                with self._lock:
                    self._kept += chunk[: self._keep - len(self._kept)]
                    self._total += len(chunk)
        finally:
            os.close(fd)

    def text(self) -> str:
        with self._lock:
            return self._kept.decode("utf-8", "replace")

    def truncation(self) -> str | None:
        """The incident to report once more was printed than kept."""
        with self._lock:
            total, kept = self._total, len(self._kept)
        if total == kept:
            return None
        return f"stdout/stderr truncated: {_size(total)} printed, {_size(kept)} kept"


def _write_files(scratch: Path, files: Mapping[str, bytes]) -> None:
    for name, data in files.items():
        path = PurePosixPath(name)
        if path.is_absolute() or not path.parts or ".." in path.parts:
            raise ValueError(f"bad submission file name {name!r}")
        target = scratch.joinpath(*path.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    for folder in (".home", ".tmp"):
        (scratch / folder).mkdir(exist_ok=True)
    font_list = _matplotlib_font_list()
    if font_list is not None:   # where the child's matplotlib looks: $HOME/.cache/matplotlib
        cache = scratch / ".home" / ".cache" / "matplotlib"
        cache.mkdir(parents=True)
        shutil.copyfile(font_list, cache / font_list.name)


@functools.cache
def _matplotlib_font_list() -> Path | None:
    """matplotlib's font list (fontlist-v*.json), built here on first use; None without matplotlib.
    Without it a submission's `import matplotlib.pyplot` builds one and starts a thread to say so,
    which the child refuses, failing the import."""
    try:
        import matplotlib
        import matplotlib.font_manager  # noqa: F401  (builds the list if matplotlib has none)
    except ImportError:
        return None
    found = sorted(Path(matplotlib.get_cachedir()).glob("fontlist-v*.json"))
    return found[-1] if found else None


def _environment(scratch: Path) -> dict[str, str]:
    """The child's whole environment: nothing of ours leaks in (no PYTHONPATH), str hashes are not
    randomised, no bytecode is written, numpy's libraries start no threads, matplotlib is headless."""
    return {
        "HOME": str(scratch / ".home"),
        "TMPDIR": str(scratch / ".tmp"),
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
    }


def _pipe() -> tuple[int, int]:
    """A pipe with a large buffer (arrays cross in fewer, bigger writes), where the system allows."""
    reading, writing = os.pipe()
    try:
        fcntl.fcntl(writing, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
    except (AttributeError, OSError):
        pass
    return reading, writing


def _kill(process: subprocess.Popen, fds: tuple[int, ...]) -> None:
    """SIGKILL the child's process group and every other process of its session, then reap the child
    (in that order: until it is reaped, its id, which names the group and the session, cannot be
    reused), then close our pipe ends."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _kill_session(process.pid)
    process.wait()
    for fd in fds:
        os.close(fd)


def _kill_session(session: int) -> None:
    """SIGKILL the processes of `session` found in /proc (those that left the child's process group),
    sweeping again while any turn up. (The kernel confinement keeps the child from starting any.)"""
    for _ in range(_SESSION_SWEEPS):
        members = [pid for pid in _process_ids() if pid != session and _session_of(pid) == session]
        if not members:
            return
        for pid in members:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _process_ids() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:  # no /proc here
        return []


def _session_of(pid: int) -> int | None:
    """The session of a live process: field 6 of /proc/PID/stat (after the command name, which may hold
    spaces and parentheses); None for a zombie (dead already) or a process gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            fields = file.read().rpartition(b")")[2].split()
        return None if fields[0] == b"Z" else int(fields[3])
    except (OSError, IndexError, ValueError):
        return None


def _await(fd: int, event: int, deadline: float) -> None:
    """Wait until `fd` is ready for `event` (or hung up); raise _Lost("timeout") at the deadline."""
    poller = select.poll()
    poller.register(fd, event)
    remaining = deadline - time.monotonic()
    if remaining <= 0 or not poller.poll(remaining * 1000):
        raise _Lost("timeout")


def _well_formed(reply: Any) -> bool:
    """Whether an (untrusted) reply has the protocol's shape (see child.py)."""
    if type(reply) is not dict or type(reply.get("incidents")) is not list:
        return False
    if not all(type(incident) is str for incident in reply["incidents"]):
        return False
    if "error" in reply:
        texts = (reply.get("message"), reply.get("traceback"))
        return reply["error"] in _CHILD_KINDS and all(type(text) is str for text in texts)
    after = reply.get("args_after", _NOTHING_AFTER)
    shapes = type(after) is dict and (type(after.get("args")), type(after.get("kwargs"))) == (list, dict)
    return "ok" in reply and shapes


def _failure_in(reply: dict) -> SubmissionError | None:
    return SubmissionError(reply["error"], reply["message"], reply["traceback"]) if "error" in reply else None


def _raise_again(failure: SubmissionError | None) -> None:
    if failure is not None:
        raise SubmissionError(failure.kind, failure.message, failure.traceback)


def _update_args(args: tuple, kwargs: dict, after: dict) -> None:
    """Give the dict and array arguments their post-call contents."""
    by_name = [(kwargs[name], value) for name, value in after["kwargs"].items() if name in kwargs]
    for sent, now in [*zip(args, after["args"]), *by_name]:
        if type(sent) is dict and type(now) is dict:
            sent.clear()
            sent.update(now)
        elif type(sent) is np.ndarray and type(now) is np.ndarray:
            _write_back(sent, now)


def _write_back(sent: np.ndarray, now: np.ndarray) -> None:
    """sent takes the shape (a reshape in place: same size and dtype) and the values of now."""
    if sent.shape == now.shape and np.array_equal(sent, now, equal_nan=True):
        return
    if sent.size != now.size or sent.dtype != now.dtype or not sent.flags.writeable:
        return
    try:
        sent.shape = now.shape
    except AttributeError:   # not contiguous: only a copy could take that shape
        return
    np.copyto(sent, now)


def _handles_in(value: Any) -> Iterator[Handle]:
    if type(value) is Handle:
        yield value
    elif type(value) in (list, tuple):
        for item in value:
            yield from _handles_in(item)
    elif type(value) is dict:
        for item in value.values():
            yield from _handles_in(item)


def _file_of(module: str) -> str:
    return module.replace(".", "/") + ".py"


def _size(count: int) -> str:
    return f"{count / (1 << 20):.1f} MB" if count >= 1 << 20 else f"{count / (1 << 10):.0f} KB"
