"""The sandbox child: imports a submission's modules and answers the grader's requests.

grader/sandbox.py starts it as

    python -s -P /path/to/grader/child.py REQUEST_FD REPLY_FD

in a new session, with stdin on /dev/null, stdout and stderr on a pipe the parent drains, the scratch
folder as working directory and a minimal environment of its own (so PYTHONHASHSEED=0 holds; -P keeps
this file's folder, the grader package, off sys.path). It never imports the grader package: it loads
wire.py (beside this file) under a private name, which imports numpy, reads its configuration, then
confines itself before any submitted code runs:

1. resource limits, soft and hard alike: address space, CPU seconds, file size (SIGXFSZ ignored, so
   a too-large write fails with EFBIG), processes (0; binds only a non-root uid), core dumps (0);
2. sys.path = the scratch folder, then the interpreter's entries that neither lie under nor contain
   a forbidden root; an import guard first on sys.meta_path;
3. the kernel's confinement, which holds even against code that writes raw memory (see
   `_confine_kernel`): no new privileges, no capabilities, Landlock, a seccomp filter;
4. refusing stubs for the few primitives that raise no audit event in Python 3.11 (thread start,
   _posixsubprocess.fork_exec, mkfifo, mknod);
5. an audit hook (it cannot be removed from Python), see `_audit_hook`.

Every refusal of the in-process guards raises Forbidden (a PermissionError) and is recorded as an
incident. The kernel's refusals are plain OSErrors (EACCES, EPERM) and go unrecorded: they only
show once code has got past those guards.

Protocol: one wire frame each way per request, each preceded on its pipe by wire.FRAME_PREFIX.

    config (first)  {"scratch": str, "forbidden": [str, ...], "memory_bytes": int,
                     "cpu_seconds": int, "file_bytes": int}
                    answered by {"ok": pid, "incidents": [what the kernel could not confine]}
    {"op": "load", "module": "optim"}                                  -> {"ok": None}
    {"op": "call", "module": str, "function": str, "args": [...], "kwargs": {...},
     "opaque": [int, ...], "first_handle": int}
                                 -> {"ok": result, "args_after": {"args": [dict | ndarray | None, ...],
                                                                  "kwargs": {name: dict | ndarray}},
                                     "random_state_changed": bool}
    {"op": "drop", "handles": [Handle, ...]}                           -> {"ok": None}
    {"op": "ping"}                                                     -> {"ok": "pong"}

A call's result crosses with dict, tuple and list subclasses (OrderedDict, namedtuple...) made
plain. Its positions listed in "opaque" (when the result is a tuple or list) stay, as made, in the
child's handle table and cross as Handles, numbered from "first_handle" on; "args_after" holds the
post-call contents of the arguments that were sent as dicts or arrays; "random_state_changed" says
whether the call changed numpy's global random state. A failed request answers {"error": kind,
"message": str, "traceback": str} with kind one of exception, memory, exit, forbidden, bad-output,
import. Every reply also carries "incidents": the refusals recorded since the previous reply.
"""

import _posixsubprocess
import _thread
import builtins
import importlib
import importlib.util
import errno
import os
import platform
import posix
import resource
import signal
import stat
import struct
import sys
import threading
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, NoReturn

# Functions defined below look builtins up in this private copy, so a submission that patches the
# builtins module cannot break the harness. Everything else the harness calls is bound at import.
__builtins__ = dict(vars(builtins))


def _load_wire() -> ModuleType:
    """wire.py, by file path, under a private name, with the private builtins."""
    spec = importlib.util.spec_from_file_location("_sandbox_wire", Path(__file__).with_name("wire.py"))
    module = importlib.util.module_from_spec(spec)
    module.__builtins__ = __builtins__
    sys.modules[spec.name] = module  # dataclasses looks its module up, while the module runs
    spec.loader.exec_module(module)
    del sys.modules[spec.name]
    return module


wire = _load_wire()  # imports numpy
_encode, _decode, _Handle, _Unsupported, _PREFIX = (
    wire.encode_parts, wire.decode, wire.Handle, wire.Unsupported, wire.FRAME_PREFIX
)
_RETURNED_ARGS = (dict, wire.np.ndarray)  # the argument types whose post-call contents go back
_readv, _write, _exit = os.readv, os.write, os._exit
_import_module, _clear_frames = importlib.import_module, traceback.clear_frames
_random_state, _arrays_equal = wire.np.random.get_state, wire.np.array_equal  # numpy's global RNG, before any patch
_STREAMS = (sys.stdout, sys.stderr)

FORBIDDEN_PACKAGES = frozenset({"reference", "grader", "nndl_grader"})


def _asfarray(a: Any, dtype: Any = wire.np.float64) -> Any:
    """NumPy < 2.0's np.asfarray: a as an array of dtype, float64 unless dtype is inexact."""
    return wire.np.asarray(a, dtype=dtype if wire.np.issubdtype(dtype, wire.np.inexact) else wire.np.float64)


# Names NumPy removed (1.24, 2.0) that course code of 2017-2021 uses, with what they stood for, so
# a submission gets the numbers it got in its year.
_REMOVED_NUMPY_ALIASES = {
    "float": float, "int": int, "bool": bool, "object": object, "complex": complex, "str": str, "unicode": str,
    "float_": wire.np.float64, "complex_": wire.np.complex128, "unicode_": wire.np.str_, "string_": wire.np.bytes_,
    "product": wire.np.prod, "cumproduct": wire.np.cumprod, "sometrue": wire.np.any, "alltrue": wire.np.all,
    "round_": wire.np.round, "asfarray": _asfarray,
    "Inf": wire.np.inf, "Infinity": wire.np.inf, "infty": wire.np.inf, "PINF": wire.np.inf, "NINF": -wire.np.inf,
    "NaN": wire.np.nan, "NAN": wire.np.nan,
}
# Native modules whose C code writes files, starts interpreters or runs foreign code without raising
# audit events; and the three modules whose functions `_disable_unaudited` replaced (no re-import).
_UNAUDITED_MODULES = frozenset(
    ["_posixshmem", "_sqlite3", "_tkinter", "readline", "_ctypes_test"]
    + ["_thread", "_posixsubprocess", "posix"]
)
_UNAUDITED_PREFIXES = ("_test", "_xx")  # _testcapi, _testinternalcapi, _xxsubinterpreters, ...
_UNAUDITED_FUNCTIONS = (
    (_thread, "start_new_thread", "thread start"),
    (_thread, "start_new", "thread start"),
    (threading, "_start_new_thread", "thread start"),
    (_posixsubprocess, "fork_exec", "new process (_posixsubprocess.fork_exec)"),
    (posix, "mkfifo", "os.mkfifo"),
    (os, "mkfifo", "os.mkfifo"),
    (posix, "mknod", "os.mknod"),
    (os, "mknod", "os.mknod"),
)
_PROCESS_EVENTS = (
    "os.system", "os.exec", "os.fork", "os.forkpty", "os.posix_spawn", "os.spawn", "subprocess.Popen"
)
_REFUSED_EVENTS = (
    "os.symlink",
    "resource.setrlimit",
    "resource.prlimit",
    "gc.get_objects",  # the gc walks would reach the audit hook's closure
    "gc.get_referrers",
    "gc.get_referents",
)
_REFUSED_PREFIXES = ("socket.", "ctypes.")
# event: the (path argument, its dir_fd argument or None) pairs that must resolve inside scratch
_SCRATCH_EVENTS = {
    "os.remove": ((0, 1),),
    "os.rmdir": ((0, 1),),
    "os.rename": ((0, 2), (1, 3)),
    "os.truncate": ((0, None),),
    "os.chmod": ((0, 2),),
    "os.chown": ((0, 3),),
    "os.mkdir": ((0, 2),),
    "os.utime": ((0, 3),),
    "os.link": ((0, 2), (1, 3)),
    "os.setxattr": ((0, None),),
    "os.removexattr": ((0, None),),
}
_HARMLESS_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
_TRACEBACK_CHARS = 4000
_MESSAGE_CHARS = 2000


class Forbidden(PermissionError):
    """An action the sandbox refused; the message is the incident."""

    __module__ = "sandbox"  # as students see it: sandbox.Forbidden


def main() -> None:
    channel = _Channel(int(sys.argv[1]), int(sys.argv[2]))
    config = channel.receive()
    scratch, roots = config["scratch"], tuple(config["forbidden"])
    incidents: list[str] = []
    _limit_resources(config)
    _restore_numpy_aliases(wire.np)
    _confine_imports(scratch, roots, _refuser(incidents))
    gaps = _confine_kernel(scratch, _readable(roots))
    _disable_unaudited(_refuser(incidents))
    sys.addaudithook(_audit_hook(scratch, roots, incidents))
    server = _Server(channel, config["scratch"], incidents)
    channel.send(_encode({"ok": os.getpid(), "incidents": gaps}))
    try:
        server.serve()
    except EOFError:  # the parent closed the request pipe
        _exit(0)


def _restore_numpy_aliases(np: ModuleType) -> None:
    """np.float, np.product, np.NaN, ... as NumPy < 1.24 had them, never replacing a name it has."""
    for name, value in _REMOVED_NUMPY_ALIASES.items():
        if not hasattr(np, name):
            setattr(np, name, value)


class _Channel:
    """Frames over two inherited pipe fds."""

    def __init__(self, reading: int, writing: int) -> None:
        self._reading, self._writing = reading, writing

    def receive(self) -> Any:
        """The next request. Raises EOFError when the parent has gone."""
        (size,) = _PREFIX.unpack(self._exactly(_PREFIX.size))
        return _decode(self._exactly(size))

    def send(self, parts: list[bytes]) -> None:
        """Write one frame, given as wire.encode_parts made it."""
        for data in (_PREFIX.pack(sum(len(part) for part in parts)), *parts):
            view = memoryview(data)
            while view:
                view = view[_write(self._writing, view) :]

    def _exactly(self, size: int) -> bytearray:
        buffer = bytearray(size)
        view, got = memoryview(buffer), 0
        while got < size:
            count = _readv(self._reading, [view[got:]])
            if count == 0:
                raise EOFError
            got += count
        return buffer


def _refuser(incidents: list[str]) -> Callable[[str], NoReturn]:
    """Return refuse(message): record the incident, then raise Forbidden(message)."""
    record, error = incidents.append, Forbidden

    def refuse(message: str) -> NoReturn:
        record(message)
        raise error(message)

    return refuse


def _limit_resources(config: dict) -> None:
    """Soft and hard limits alike, so the submission cannot raise them again."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    limits = [
        (resource.RLIMIT_AS, config["memory_bytes"]),
        (resource.RLIMIT_CPU, config["cpu_seconds"]),
        (resource.RLIMIT_FSIZE, config["file_bytes"]),
        (resource.RLIMIT_CORE, 0),
    ]
    if hasattr(resource, "RLIMIT_NPROC"):
        limits.append((resource.RLIMIT_NPROC, 0))
    for limit, value in limits:
        resource.setrlimit(limit, (value, value))


def _confine_imports(scratch: str, roots: tuple[str, ...], refuse: Callable[[str], NoReturn]) -> None:
    """Scratch first on sys.path, no entry under (or above) a forbidden root, the import guard first."""
    kept = [entry for entry in sys.path if os.path.isabs(entry) and not _overlaps(entry, roots)]
    sys.path[:] = [scratch, *kept]
    sys.path_importer_cache.clear()
    sys.meta_path.insert(0, _ImportGuard(roots, refuse))
    sys.dont_write_bytecode = True  # python -I (the notebook kernel) ignores PYTHONDONTWRITEBYTECODE


def _overlaps(path: str, roots: tuple[str, ...]) -> bool:
    real = os.path.realpath(path)
    return any(_within(real, root) or _within(root, real) for root in roots)


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


class _ImportGuard:
    """First finder on sys.meta_path: refuses the grader's packages and modules under a forbidden root."""

    def __init__(self, roots: tuple[str, ...], refuse: Callable[[str], NoReturn]) -> None:
        self._roots, self._refuse = roots, refuse

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name.partition(".")[0] in FORBIDDEN_PACKAGES:
            self._refuse(f"forbidden import of {name!r}")
        spec = self._find_elsewhere(name, path, target)
        locations = [] if spec is None else [spec.origin, *(spec.submodule_search_locations or [])]
        if any(isinstance(p, str) and os.path.isabs(p) and _overlaps(p, self._roots) for p in locations):
            self._refuse(f"forbidden import of {name!r} from {spec.origin}")
        return spec

    def _find_elsewhere(self, name: str, path: Any, target: Any) -> Any:
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is not self and find is not None:
                spec = find(name, path, target)
                if spec is not None:
                    return spec
        return None


# -- the kernel's confinement ------------------------------------------------------------------------

# Landlock file-system rights, by bit (landlock.h); the ABI that added each is noted.
_FS_RIGHTS = (
    "execute", "write_file", "read_file", "read_dir", "remove_dir", "remove_file", "make_char",
    "make_dir", "make_reg", "make_sock", "make_fifo", "make_block", "make_sym",  # ABI 1
    "refer",  # ABI 2
    "truncate",  # ABI 3
    "ioctl_dev",  # ABI 5
)
_FS_RIGHTS_KNOWN = {1: 13, 2: 14, 3: 15, 4: 15}  # how many of them an ABI knows; 16 from ABI 5 on
_FILE_RIGHTS = ("execute", "write_file", "read_file", "truncate", "ioctl_dev")  # the rest need a folder
_READ = ("read_file", "read_dir")
# Scratch: read, write and remove files and folders. No execute, devices, sockets, fifos or symlinks.
_SCRATCH = (*_READ, "write_file", "remove_dir", "remove_file", "make_dir", "make_reg", "refer", "truncate")
_DEVICES = {
    "/dev/null": ("read_file", "write_file", "truncate"),
    "/dev/zero": ("read_file",),
    "/dev/random": ("read_file",),
    "/dev/urandom": ("read_file",),
}
_SYSTEM_LIBRARIES = ("/lib", "/lib64", "/usr/lib", "/usr/lib64", "/etc/ld.so.cache")  # for a later dlopen
_LANDLOCK_NET_TCP = 0b11  # bind, connect (ABI 4)
_LANDLOCK_SCOPES = 0b11  # abstract unix sockets, signals (ABI 6)

# seccomp, per machine: the audit architecture, the system calls refused with EPERM, and those
# refused unless their first argument allows them (clone: CLONE_THREAD set; signals: to this process).
_SECCOMP_TABLES = {
    "x86_64": {
        "arch": 0xC000003E,
        "refused": (
            57, 58, 59, 322,  # fork vfork execve execveat
            41, 53, 425, 426, 427,  # socket socketpair io_uring_setup io_uring_enter io_uring_register
            272, 308, 101, 310, 311, 321, 298, 323,  # unshare setns ptrace process_vm_readv/writev bpf
            #                                           perf_event_open userfaultfd
            90, 91, 268, 452, 92, 93, 94, 260,  # chmod fchmod fchmodat fchmodat2 chown fchown lchown fchownat
            132, 235, 261, 280,  # utime utimes futimesat utimensat
            188, 189, 190, 197, 198, 199, 463, 466,  # setxattr lsetxattr fsetxattr removexattr lremovexattr
            #                                        fremovexattr setxattrat removexattrat
            76,  # truncate by path (Landlock restricts it from ABI 3 on only)
            424, 434, 248, 249, 250,  # pidfd_send_signal pidfd_open add_key request_key keyctl
        ),
        "seccomp": 317,
        "clone": 56,
        "clone3": 435,  # its flags sit in memory a filter cannot read: ENOSYS, so libc falls back to clone
        "signals": (62, 200, 234, 129, 297),  # kill tkill tgkill rt_sigqueueinfo rt_tgsigqueueinfo
    },
}
_CLONE_THREAD = 0x10000
_X32_BIT = 0x40000000
# classic BPF: load a word of struct seccomp_data, jumps, return; seccomp's actions
_BPF_LOAD_WORD, _BPF_JEQ, _BPF_JGE, _BPF_JSET, _BPF_RETURN = 0x20, 0x15, 0x35, 0x45, 0x06
_ALLOW, _EPERM, _ENOSYS = 0x7FFF0000, 0x00050000 | errno.EPERM, 0x00050000 | errno.ENOSYS
_FIRST_ARGUMENT = 16  # offsetof(struct seccomp_data, args[0]), its low 32 bits on little-endian machines


class _Kernel:
    """The system calls of the confinement, through ctypes and libc. Each raises OSError on failure."""

    _PR_SET_NO_NEW_PRIVS, _SET_MODE_FILTER, _FILTER_FLAG_TSYNC = 38, 1, 1
    _CAPABILITY_VERSION_3 = 0x20080522
    # Landlock's system calls have the same numbers on every architecture but alpha.
    _CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446
    _CREATE_RULESET_VERSION, _RULE_PATH_BENEATH = 1, 1

    def __init__(self) -> None:
        import ctypes

        self._ctypes = ctypes
        self._libc = ctypes.CDLL(None, use_errno=True)

    def no_new_privs(self) -> None:
        self._call("prctl", self._PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)

    def drop_capabilities(self) -> None:
        """Empty the effective, permitted and inheritable sets (the ambient set follows)."""
        self._call("capset", self._buffer(struct.pack("<Ii", self._CAPABILITY_VERSION_3, 0)), self._buffer(bytes(24)))

    def landlock_abi(self) -> int:
        return self._call("syscall", self._CREATE_RULESET, None, 0, self._CREATE_RULESET_VERSION)

    def landlock(self, abi: int, fs: int, net: int, scopes: int, rules: list[tuple[str, int]]) -> None:
        """Restrict this process to a new ruleset: `fs`, `net` and `scopes` handled, `rules` allowed
        (paths that do not exist are skipped; a file gets only the rights that apply to files)."""
        fields = 1 if abi < 4 else 2 if abi < 6 else 3
        attributes = struct.pack("<QQQ", fs, net, scopes)[: 8 * fields]
        ruleset = self._call("syscall", self._CREATE_RULESET, self._buffer(attributes), len(attributes), 0)
        try:
            for path, rights in rules:
                self._allow(ruleset, path, rights)
            self._call("syscall", self._RESTRICT_SELF, ruleset, 0)
        finally:
            os.close(ruleset)

    def seccomp(self, program: list[tuple[int, int, int, int]]) -> None:
        """Install the filter on every thread of this process (SECCOMP_FILTER_FLAG_TSYNC; no new
        privileges follows it to them)."""
        filters = self._buffer(b"".join(struct.pack("<HBBI", *instruction) for instruction in program))
        header = struct.pack("<HxxxxxxQ", len(program), self._ctypes.addressof(filters))
        number = _SECCOMP_TABLES[platform.machine()]["seccomp"]
        self._call("syscall", number, self._SET_MODE_FILTER, self._FILTER_FLAG_TSYNC, self._buffer(header))

    def _allow(self, ruleset: int, path: str, rights: int) -> None:
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except FileNotFoundError:
            return
        try:
            if not stat.S_ISDIR(os.fstat(fd).st_mode):
                rights &= _rights(_FILE_RIGHTS)
            rule = self._buffer(struct.pack("<Qi", rights, fd))
            self._call("syscall", self._ADD_RULE, ruleset, self._RULE_PATH_BENEATH, rule, 0)
        finally:
            os.close(fd)

    def _buffer(self, data: bytes) -> Any:
        return self._ctypes.create_string_buffer(data, len(data))

    def _call(self, name: str, *args: Any) -> int:
        function = getattr(self._libc, name)
        function.restype = self._ctypes.c_long
        result = function(*(self._ctypes.c_long(arg) if type(arg) is int else arg for arg in args))
        if result == -1:
            code = self._ctypes.get_errno()
            raise OSError(code, os.strerror(code))
        return result


def _readable(roots: tuple[str, ...]) -> list[str]:
    """What the confined child may read besides scratch: its import path (sys.path after
    _confine_imports, scratch aside) and the shared libraries, less anything overlapping a root."""
    candidates = [*sys.path[1:], *_SYSTEM_LIBRARIES]
    return [path for path in dict.fromkeys(candidates) if os.path.exists(path) and not _overlaps(path, roots)]


def _confine_kernel(scratch: str, readable: list[str], kernel: Callable[[], Any] = _Kernel) -> list[str]:
    """Confine this process for good, in this order: no new privileges; no capabilities (root keeps its
    uid but loses every privilege, so rlimits can no longer be raised); Landlock (`_landlock_policy`);
    seccomp (`_seccomp_program`). `kernel` makes the object that performs the system calls (_Kernel).

    Returns the incidents: "kernel confinement unavailable: ..." or "... partial: ..." for each layer
    this kernel or machine lacks. Grading goes on without them, under the in-process guards.
    """
    try:
        system = kernel()
        system.no_new_privs()
    except Exception as error:  # whatever this system lacks (ctypes, libc's prctl), grading goes on
        return [f"kernel confinement unavailable: {_reason(error)}; only the in-process guards hold"]
    gaps = []
    layers = (
        ("capabilities", system.drop_capabilities),
        ("Landlock", lambda: _apply_landlock(system, scratch, readable)),
        ("seccomp", lambda: _apply_seccomp(system)),
    )
    for layer, apply in layers:
        try:
            gaps += apply() or []
        except Exception as error:
            gaps.append(f"kernel confinement unavailable: {layer}: {_reason(error)}")
    return gaps


def _reason(error: BaseException) -> str:
    """'Function not implemented (ENOSYS)', or the error's own text."""
    name = errno.errorcode.get(getattr(error, "errno", None))
    return f"{error.strerror} ({name})" if name else str(error)


def _apply_landlock(system: Any, scratch: str, readable: list[str]) -> list[str]:
    """Restrict this process by `_landlock_policy` at the kernel's ABI; the gap an old ABI leaves."""
    abi = system.landlock_abi()
    system.landlock(abi, *_landlock_policy(abi, scratch, readable))
    if abi >= 6:
        return []
    return [f"kernel confinement partial: Landlock ABI {abi} (TCP is restricted from ABI 4, signals from ABI 6)"]


def _apply_seccomp(system: Any) -> list[str]:
    """Install `_seccomp_program` for this machine; the gap when there is no table for it."""
    machine = platform.machine()
    if machine not in _SECCOMP_TABLES:
        return [f"kernel confinement partial: no seccomp filter for {machine}"]
    system.seccomp(_seccomp_program(_SECCOMP_TABLES[machine], os.getpid()))
    return []


def _landlock_policy(abi: int, scratch: str, readable: list[str]) -> tuple[int, int, int, list[tuple[str, int]]]:
    """(handled fs rights, handled net rights, scopes, [(path, rights allowed beneath it)]) for an ABI.

    Every right the ABI knows is handled, so whatever no rule allows is denied: scratch may be read and
    written, `readable` and the harmless devices read (and /dev/null written), nothing else reached
    (no execute anywhere); no TCP bind or connect (ABI 4); no signal to, nor abstract unix socket of,
    a process outside the sandbox (ABI 6).
    """
    known = (1 << _FS_RIGHTS_KNOWN.get(abi, 16)) - 1
    allowed = [(scratch, _SCRATCH), *((path, _READ) for path in readable), *_DEVICES.items()]
    rules = [(path, _rights(names) & known) for path, names in allowed]
    return known, _LANDLOCK_NET_TCP if abi >= 4 else 0, _LANDLOCK_SCOPES if abi >= 6 else 0, rules


def _rights(names: tuple[str, ...]) -> int:
    """The bit mask of Landlock file-system rights named."""
    return sum(1 << _FS_RIGHTS.index(name) for name in set(names))


def _seccomp_program(table: dict, pid: int) -> list[tuple[int, int, int, int]]:
    """A classic BPF program (code, jt, jf, k) for seccomp: refuse with EPERM the table's system calls,
    clone without CLONE_THREAD (a new process) and signals to any process but `pid`; clone3 fails with
    ENOSYS; any other architecture (x32 included) is refused; everything else is allowed."""
    program = [_bpf_load(4), _bpf_jump(_BPF_JEQ, table["arch"], 1, 0), _bpf_return(_EPERM), _bpf_load(0)]
    program += [_bpf_jump(_BPF_JGE, _X32_BIT, 0, 1), _bpf_return(_EPERM)]
    for number in table["refused"]:
        program += [_bpf_jump(_BPF_JEQ, number, 0, 1), _bpf_return(_EPERM)]
    program += [_bpf_jump(_BPF_JEQ, table["clone3"], 0, 1), _bpf_return(_ENOSYS)]
    program += _unless_first_argument(table["clone"], _bpf_jump(_BPF_JSET, _CLONE_THREAD, 1, 0))
    for number in table["signals"]:
        program += _unless_first_argument(number, _bpf_jump(_BPF_JEQ, pid, 1, 0))
    return [*program, _bpf_return(_ALLOW)]


def _unless_first_argument(number: int, test: tuple[int, int, int, int]) -> list[tuple[int, int, int, int]]:
    """For system call `number`: allow it if `test` (jumping 1 when true) passes on args[0], else EPERM."""
    return [_bpf_jump(_BPF_JEQ, number, 0, 4), _bpf_load(_FIRST_ARGUMENT), test, _bpf_return(_EPERM), _bpf_return(_ALLOW)]


def _bpf_load(offset: int) -> tuple[int, int, int, int]:
    return (_BPF_LOAD_WORD, 0, 0, offset)


def _bpf_jump(code: int, value: int, if_true: int, if_false: int) -> tuple[int, int, int, int]:
    return (code, if_true, if_false, value)


def _bpf_return(action: int) -> tuple[int, int, int, int]:
    return (_BPF_RETURN, 0, 0, action)


def _disable_unaudited(refuse: Callable[[str], NoReturn]) -> None:
    """Replace the primitives that raise no audit event in Python 3.11 with refusing stubs."""

    def stub(what: str) -> Callable[..., NoReturn]:
        def refused(*args: Any, **kwargs: Any) -> NoReturn:
            refuse(f"blocked {what}")

        return refused

    for module, name, what in _UNAUDITED_FUNCTIONS:
        if hasattr(module, name):
            setattr(module, name, stub(what))


def _audit_hook(scratch: str, roots: tuple[str, ...], incidents: list[str]) -> Callable[[str, tuple], None]:
    """Build the audit hook. It refuses:

    - opening a file for writing outside scratch (harmless devices such as /dev/null excepted);
    - opening anything under a forbidden root, another process's /proc entries, a directory (a
      directory fd would let later paths escape these checks: the open event does not show dir_fd),
      or a device other than the harmless ones;
    - removing, renaming, truncating, chmod/chown, mkdir, utime, link, xattr outside scratch; symlinks;
    - importing the modules in _UNAUDITED_MODULES, or an extension module under a forbidden root;
    - new processes, os.kill of another process, socket.*, ctypes.*, resource.setrlimit/prlimit,
      the gc walks that could reach this hook.

    Paths are resolved the way the kernel will (cwd or dir_fd, then every symlink). The hook and its
    helpers read nothing but the names bound here, in closure cells, and hold no object the rest of
    the child can reach (its own refuse, copies of the tables): once installed the hook is
    unreachable from Python, so a submission can neither patch what it calls nor change what it
    checks. (tests/grader/test_sandbox.py checks that none of this code loads a global.)
    """
    refuse = _refuser(incidents)
    lstat, stat_of, readlink, getcwd = os.lstat, os.stat, os.readlink, os.getcwd
    is_link, is_dir, is_block, is_char = stat.S_ISLNK, stat.S_ISDIR, stat.S_ISBLK, stat.S_ISCHR
    str_, bytes_, int_, type_, oserror = str, bytes, int, type, OSError
    own_pid = os.getpid()
    own_proc = f"/proc/{own_pid}"
    harmless = frozenset(os.stat(device).st_rdev for device in _HARMLESS_DEVICES if os.path.exists(device))
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
    scratch_events, process_events, refused_events = dict(_SCRATCH_EVENTS), _PROCESS_EVENTS, _REFUSED_EVENTS
    refused_prefixes, unaudited_prefixes = _REFUSED_PREFIXES, _UNAUDITED_PREFIXES
    unaudited = _UNAUDITED_MODULES

    def inside(path: str, root: str) -> bool:
        return path == root or path.startswith(root + "/")

    def forbidden(path: str) -> bool:
        for root in roots:
            if inside(path, root):
                return True
        return False

    def follow(path: str) -> str:
        """The absolute `path` with every symlink resolved; missing components are kept as written."""
        done: list[str] = []
        todo = path.split("/")[::-1]
        hops = 0
        while todo:
            name = todo.pop()
            if name == "" or name == ".":
                continue
            if name == "..":
                if done:
                    done.pop()
                continue
            here = "/".join(["", *done, name])
            try:
                mode = lstat(here).st_mode
            except oserror:
                done.append(name)
                continue
            if is_link(mode) and hops < 40:
                hops += 1
                target = readlink(here)
                if target.startswith("/"):
                    done.clear()
                todo.extend(target.split("/")[::-1])
            else:
                done.append(name)
        return "/".join(["", *done])

    def resolve(event: str, path: Any, dir_fd: Any = None) -> str:
        kind = type_(path)
        if kind is int_:
            path, dir_fd = f"/proc/self/fd/{path}", None
        elif kind is bytes_:
            path = path.decode("utf-8", "surrogateescape")
        elif kind is not str_:  # a PathLike could answer the hook and the system call differently
            refuse(f"blocked {event} with a {kind.__name__} path: pass a str")
        if not path.startswith("/"):
            base = getcwd() if dir_fd is None or dir_fd < 0 else resolve(event, dir_fd)
            path = f"{base}/{path}"
        return follow(path)

    def on_open(event: str, args: tuple) -> None:
        path, flags = args[0], args[2]
        if type_(path) is int_:
            return
        target = resolve(event, path)
        writing = flags & write_flags
        if forbidden(target):
            refuse(f"blocked {'write to' if writing else 'read of'} {target} (a forbidden root)")
        in_proc = target.startswith("/proc/") and target[6:].partition("/")[0].isdigit()
        if in_proc and not inside(target, own_proc):
            refuse(f"blocked access to {target} (another process)")
        try:
            info = stat_of(target)
        except oserror:
            info = None
        device = info is not None and (is_char(info.st_mode) or is_block(info.st_mode))
        if device and info.st_rdev not in harmless:
            refuse(f"blocked access to the device {target}")
        if info is not None and is_dir(info.st_mode):
            refuse(f"blocked opening the directory {target}")
        if writing and not device and not inside(target, scratch):
            refuse(f"blocked write to {target}")

    def on_scratch_paths(event: str, args: tuple) -> None:
        for path_at, dir_fd_at in scratch_events[event]:
            target = resolve(event, args[path_at], None if dir_fd_at is None else args[dir_fd_at])
            if not inside(target, scratch):
                refuse(f"blocked {event} of {target}")

    def on_import(event: str, args: tuple) -> None:
        name, filename = args[0], args[1]
        if name in unaudited or name.startswith(unaudited_prefixes):
            refuse(f"blocked import of {name!r} (native code the sandbox cannot audit)")
        if filename is not None and forbidden(resolve(event, filename)):
            refuse(f"forbidden import of {name!r} from {filename}")

    def on_kill(event: str, args: tuple) -> None:
        if args[0] != own_pid:
            refuse(f"blocked {event} of process {args[0]}")

    def on_process(event: str, args: tuple) -> None:
        refuse(f"blocked {event}: submissions may not start processes")

    def on_refused(event: str, args: tuple) -> None:
        refuse(f"blocked {event}")

    handlers = {"open": on_open, "import": on_import}
    handlers.update({"os.kill": on_kill, "os.killpg": on_kill})
    handlers.update({event: on_scratch_paths for event in scratch_events})
    handlers.update({event: on_process for event in process_events})
    handlers.update({event: on_refused for event in refused_events})
    find_handler = handlers.get

    def hook(event: str, args: tuple) -> None:
        handler = find_handler(event)
        if handler is not None:
            handler(event, args)
        elif event.startswith(refused_prefixes):
            refuse(f"blocked {event}")

    return hook


class _Server:
    """Answers requests (see the module docstring) until the parent closes the request pipe."""

    def __init__(self, channel: _Channel, scratch: str, incidents: list[str]) -> None:
        self._channel, self._scratch, self._incidents = channel, scratch, incidents
        self._modules: dict[str, ModuleType] = {}
        self._kept: dict[int, Any] = {}

    def serve(self) -> NoReturn:
        while True:
            request = self._channel.receive()
            try:
                reply = self._answer(request)
            except MemoryError:  # even the failure could not be described
                reply = _OUT_OF_MEMORY
            self._channel.send(reply)

    def _answer(self, request: dict) -> list[bytes]:
        try:
            reply = self._dispatch(request)
        except BaseException as error:  # SystemExit and KeyboardInterrupt are the submission's too
            reply = self._failure(error, at_import=request["op"] == "load")
        _flush(_STREAMS)
        incidents = self._incidents[:]
        self._incidents.clear()
        try:
            return _encode({**reply, "incidents": incidents})
        except _Unsupported as error:
            where = str(error).replace("value['ok']", "result").replace("value['args_after']", "argument")
            message = f"the call's output cannot cross to the grader: {where}"
            bad_output = {"error": "bad-output", "message": message, "traceback": "", "incidents": incidents}
            return _encode(bad_output)

    def _dispatch(self, request: dict) -> dict:
        op = request["op"]
        if op == "call":
            return self._call(request)
        if op == "load":
            self._load(request["module"])
        elif op == "drop":
            for handle in request["handles"]:
                self._kept.pop(handle.id, None)
        elif op != "ping":
            raise ValueError(f"unknown request {op!r}")
        return {"ok": "pong" if op == "ping" else None}

    def _load(self, name: str) -> None:
        parts = name.split(".")
        folder = Path(self._scratch, *parts)
        found = folder.with_suffix(".py").is_file() or (folder / "__init__.py").is_file()
        if not all(part.isidentifier() for part in parts) or not found:
            raise ImportError(f"the submission has no module {name!r} ({'/'.join(parts)}.py)")
        self._modules[name] = _import_module(name)

    def _call(self, request: dict) -> dict:
        function = getattr(self._modules[request["module"]], request["function"])
        sent_args, sent_kwargs = request["args"], request["kwargs"]
        args = [self._resolve(value) for value in sent_args]
        kwargs = {name: self._resolve(value) for name, value in sent_kwargs.items()}
        random_state = _sample_random_state()
        result = _plain(function(*args, **kwargs), depth=0)   # a namedtuple's cache stays as made
        return {
            "ok": _plain(self._keep(result, request["opaque"], request["first_handle"])),
            "args_after": _plain({
                "args": [arg if type(sent) in _RETURNED_ARGS else None for sent, arg in zip(sent_args, args)],
                "kwargs": {name: kwargs[name] for name, sent in sent_kwargs.items()
                           if type(sent) in _RETURNED_ARGS},
            }),
            "random_state_changed": _random_state_changed(random_state, _sample_random_state()),
        }

    def _resolve(self, value: Any) -> Any:
        """`value` with every Handle replaced by the object it stands for."""
        kind = type(value)
        if kind is _Handle:
            return self._kept[value.id]
        if kind is list or kind is tuple:
            return kind(self._resolve(item) for item in value)
        if kind is dict:
            return {key: self._resolve(item) for key, item in value.items()}
        return value

    def _keep(self, result: Any, opaque: list[int], first_handle: int) -> Any:
        """`result` with its `opaque` positions moved to the handle table, numbered from `first_handle`
        (tuples and lists only)."""
        kind = type(result)
        if not opaque or (kind is not tuple and kind is not list):
            return result
        items = list(result)
        for handle, index in enumerate([index for index in opaque if 0 <= index < len(items)], first_handle):
            self._kept[handle] = items[index]
            items[index] = _Handle(handle)
        return kind(items)

    def _failure(self, error: BaseException, at_import: bool) -> dict:
        if isinstance(error, MemoryError):
            _clear_frames(error.__traceback__)  # let the submission's frames free what they hold
        kind = _kind(error, at_import)
        return {"error": kind, "message": _describe(error), "traceback": self._excerpt(error)}

    def _excerpt(self, error: BaseException) -> str:
        """The traceback's frames from the submission's files, then the exception line."""
        try:
            frames = [
                (frame, line)
                for frame, line in traceback.walk_tb(error.__traceback__)
                if frame.f_code.co_filename.startswith(self._scratch + "/")
            ]
            lines = traceback.StackSummary.extract(frames).format()
            lines += traceback.format_exception_only(type(error), error)
            return "".join(lines)[-_TRACEBACK_CHARS:]
        except BaseException:  # a submission's __str__ may fail too
            return ""


def _plain(value: Any, depth: int = 32) -> Any:
    """value with dict, tuple and list subclasses (OrderedDict, defaultdict, namedtuple...) made
    the plain containers wire.encode takes, down to `depth` levels below it (0: value alone), read
    through the base classes' own methods (no override runs). Anything else, and whatever lies
    deeper (a value containing itself), is left for wire.encode to judge."""
    kind = type(value)
    if depth < 0:
        return value
    if issubclass(kind, dict):
        return {key: _plain(item, depth - 1) for key, item in dict.items(value)}
    for base in (tuple, list):
        if issubclass(kind, base):
            return base(_plain(item, depth - 1) for item in base.__iter__(value))
    return value


def _sample_random_state() -> tuple | None:
    """np.random.get_state(): (name, keys, pos, has_gauss, cached_gaussian), or None when a patched
    numpy cannot give it (that call then goes unjudged)."""
    try:
        return _random_state()
    except Exception:
        return None


def _random_state_changed(before: tuple | None, after: tuple | None) -> bool:
    """False also when the states cannot be compared (a patched numpy)."""
    try:
        return not (before is None or after is None or (
            before[0] == after[0] and bool(_arrays_equal(before[1], after[1])) and before[2:] == after[2:]))
    except Exception:
        return False


def _kind(error: BaseException, at_import: bool) -> str:
    if isinstance(error, Forbidden):
        return "forbidden"
    if isinstance(error, MemoryError):
        return "memory"
    if not isinstance(error, Exception):
        return "exit"
    if at_import and isinstance(error, (SyntaxError, ImportError, UnicodeDecodeError)):
        return "import"
    return "exception"


def _describe(error: BaseException) -> str:
    """'ValueError: the message', cut to _MESSAGE_CHARS."""
    kind = type(error)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    try:
        text = str(error)
    except BaseException:
        text = "<the exception could not be printed>"
    return (f"{name}: {text}" if text else name)[:_MESSAGE_CHARS]


def _flush(streams: tuple) -> None:
    for stream in streams:
        try:
            stream.flush()
        except BaseException:  # a closed or replaced stream is the submission's business
            pass


_OUT_OF_MEMORY = _encode(
    {"error": "memory", "message": "MemoryError (while reporting)", "traceback": "", "incidents": []}
)

if __name__ == "__main__":
    main()
