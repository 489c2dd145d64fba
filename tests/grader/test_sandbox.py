"""The sandbox against small hostile submissions, each written inline as the module `optim`."""

from __future__ import annotations

import dis
import errno
import gc
import os
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
import types
import uuid
from pathlib import Path

import numpy as np
import pytest

import grader
from grader import child, wire
from grader import sandbox as parent_side
from grader.sandbox import Handle, Limits, Sandbox, SubmissionError

QUICK = Limits(call_seconds=1.0, import_seconds=5.0)


def box(source: str, *, limits: Limits = QUICK, **more: str) -> Sandbox:
    """A sandbox holding optim.py = source (dedented), plus more modules by name."""
    files = {"optim.py": source, **{f"{name}.py": text for name, text in more.items()}}
    return Sandbox({name: textwrap.dedent(text).encode() for name, text in files.items()}, limits)


def failure(action, *args, **kwargs) -> SubmissionError:
    with pytest.raises(SubmissionError) as info:
        action(*args, **kwargs)
    return info.value


def seconds(action, *args, **kwargs) -> float:
    start = time.monotonic()
    try:
        action(*args, **kwargs)
    except SubmissionError:
        pass
    return time.monotonic() - start


COURSE = """
    import numpy as np

    def sgd(w, dw, config=None):
        if config is None:
            config = {}
        config.setdefault("learning_rate", 1e-2)
        w -= config["learning_rate"] * dw          # in place, as the starter code does
        config["calls"] = config.get("calls", 0) + 1
        return w, config

    def affine_forward(x, w, b):
        out = x.reshape(x.shape[0], -1) @ w + b
        return out, (x, w, b, lambda: "a cache may hold anything")

    def affine_backward(dout, cache):
        x, w, b, _ = cache
        return (dout @ w.T).reshape(x.shape), x.reshape(x.shape[0], -1).T @ dout, dout.sum(axis=0)

    def echo(*args, **kwargs):
        return args, kwargs

    def fine():
        return 1.5
"""


# -- normal use ------------------------------------------------------------------------------


def test_arrays_round_trip_exactly_and_dicts_update_in_place():
    w = np.linspace(-0.4, 0.6, num=20).reshape(4, 5)
    dw = np.linspace(-0.6, 0.4, num=20).reshape(4, 5)
    config = {"learning_rate": 1e-3}
    with box(COURSE) as sandbox:
        next_w, returned = sandbox.call("optim", "sgd", w.copy(), dw, config)
        sent = [np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, 2], dtype=">i4"), np.array([True, False]),
                np.zeros((0, 3)), np.array(np.nan), np.array([np.inf, -0.0], dtype=np.float16)]
        back, kwargs = sandbox.call("optim", "echo", *sent, scalar=np.float64(0.1), flag=np.bool_(True), n=np.int8(3))
    np.testing.assert_array_equal(next_w, w - 1e-3 * dw)
    assert config == returned == {"learning_rate": 1e-3, "calls": 1}
    for before, after in zip(sent, back):
        assert after.dtype == before.dtype and after.shape == before.shape and after.flags.writeable
        assert before.tobytes() == after.tobytes() and type(after) is np.ndarray and after.base is None
    assert kwargs == {"scalar": 0.1, "flag": True, "n": 3}
    assert [type(value) for value in kwargs.values()] == [float, bool, int]


def test_array_arguments_take_their_post_call_contents_as_copies():
    w, dw = np.ones((2, 2)), np.ones((2, 2))
    with box(COURSE) as sandbox:
        next_w, _ = sandbox.call("optim", "sgd", w, dw, {"learning_rate": 1.0})
    np.testing.assert_array_equal(w, np.zeros((2, 2)))     # updated in place, as in one process
    np.testing.assert_array_equal(dw, np.ones((2, 2)))
    assert not np.shares_memory(w, next_w)


def test_a_module_importing_pyplot_loads():
    pytest.importorskip("matplotlib")
    source = """
        import matplotlib.pyplot as plt

        def backend():
            return plt.get_backend()
    """
    with box(source, limits=Limits(call_seconds=5.0, import_seconds=20.0)) as sandbox:
        assert sandbox.call("optim", "backend").lower() == "agg"


def test_calls_that_seed_or_draw_from_numpys_global_generator_are_recorded():
    source = """
        import numpy as np

        def pure(x):
            return x + 1

        def reseeds(x):
            np.random.seed(231)
            return x

        def draws(x):
            return x + np.random.rand()
    """
    with box(source) as sandbox:
        for name in ("pure", "reseeds", "draws"):
            sandbox.call("optim", name, 1.0)
        assert [sandbox.changed_random_state(f"optim.{name}") for name in ("pure", "reseeds", "draws")] == \
               [False, True, True]


def test_numpy_names_removed_since_2021_work_as_they_did():
    source = """
        import numpy as np

        def old_names(x):
            return (x.astype(np.float).dtype.name, np.product(x.shape), np.int(np.NaN != np.NaN),
                    np.asfarray([1, 2]).dtype.name, np.float_ is np.float64)
    """
    with box(source) as sandbox:
        assert sandbox.call("optim", "old_names", np.ones((2, 3), np.float32)) == ("float64", 6, 1, "float64", True)


def test_an_array_argument_reshaped_in_place_comes_back_reshaped():
    source = """
        def flatten(x):
            x.shape = (x.shape[0], -1)
            x *= 2
    """
    x = np.ones((2, 3, 4))
    with box(source) as sandbox:
        sandbox.call("optim", "flatten", x)
    assert x.shape == (2, 12)
    np.testing.assert_array_equal(x, np.full((2, 12), 2.0))


def test_opaque_cache_stays_in_the_child_and_feeds_the_backward():
    x, w, b, dout = np.ones((2, 3, 2)), np.full((6, 4), 0.5), np.arange(4.0), np.ones((2, 4))
    with box(COURSE) as sandbox:
        forward = sandbox.function("optim", "affine_forward", opaque=[1])
        out, cache = forward(x, w, b)
        dx, dw, db = sandbox.call("optim", "affine_backward", dout, cache)
        sandbox.drop([cache])
        stale = failure(sandbox.call, "optim", "affine_backward", dout, cache)
    assert isinstance(cache, Handle) and forward.__name__ == "affine_forward"
    np.testing.assert_array_equal(out, x.reshape(2, 6) @ w + b)
    assert dx.shape == x.shape and dw.shape == w.shape and db.shape == b.shape
    assert stale.kind == "crash" and "stale" in stale.message


def test_results_cross_faithfully_or_as_bad_output():
    source = """
        import numpy as np
        class Thing: pass
        def value(name):
            return {
                "list": [1, [2.5, None]], "none": None, "tuple": (1, ("a", {"k": (True,)})),
                "matrix": np.matrix([[1.0]]), "masked": np.ma.array([1.0]), "objects": np.array([None, 1]),
                "complex": np.ones(2, dtype=complex), "strings": np.array(["a"]), "thing": Thing(), "set": {1},
            }[name]
        def stuff_config(config):
            config["thing"] = Thing()
    """
    with box(source) as sandbox:
        assert sandbox.call("optim", "value", "list") == [1, [2.5, None]]
        assert sandbox.call("optim", "value", "none") is None
        assert sandbox.call("optim", "value", "tuple") == (1, ("a", {"k": (True,)}))
        for name in ["matrix", "masked", "objects", "complex", "strings", "thing", "set"]:
            error = failure(sandbox.call, "optim", "value", name)
            assert error.kind == "bad-output", name
            assert "result" in error.message
        assert failure(sandbox.call, "optim", "stuff_config", {}).kind == "bad-output"
        assert sandbox.call("optim", "value", "list") == [1, [2.5, None]]


def test_dict_tuple_and_list_subclasses_cross_as_plain_containers_and_caches_stay_as_made():
    """A namedtuple or an OrderedDict is a correct result (it unpacks and reads like the plain
    one); its contents cross as stored, whatever its own methods say; a kept cache is untouched."""
    source = """
        from collections import OrderedDict, defaultdict, namedtuple
        import numpy as np
        Forward, Cache = namedtuple("Forward", "out cache"), namedtuple("Cache", "x scale")
        class Liar(dict):
            def items(self):
                return [("lr", 0.0)]
            def __iter__(self):
                return iter(["lr"])
        class Steps(list):
            def __iter__(self):
                return iter([0])
        def rule(w, config=None):
            config = OrderedDict(config or {})
            config["t"] = config.get("t", 0) + 1
            config["counts"] = defaultdict(int, {"calls": 1})
            return Forward(w - 1.0, config)
        def scale_forward(x):
            return Forward(2.0 * x, Cache(x, 2.0))
        def scale_backward(dout, cache):
            return dout * cache.scale             # reads the cache by name
        def liar():
            return Liar(lr=0.5), Steps([1, 2])
    """
    with box(source) as sandbox:
        next_w, config = sandbox.call("optim", "rule", np.ones(2), {"t": 3})
        out, cache = sandbox.function("optim", "scale_forward", opaque=[1])(np.ones(2))
        dx = sandbox.call("optim", "scale_backward", np.ones(2), cache)
        lie = sandbox.call("optim", "liar")
    np.testing.assert_array_equal(next_w, np.zeros(2))
    assert type(config) is dict and config == {"t": 4, "counts": {"calls": 1}}
    assert type(config["counts"]) is dict
    np.testing.assert_array_equal(dx, np.full(2, 2.0))
    assert lie == ({"lr": 0.5}, [1, 2]) and type(lie) is tuple


# -- failures of the code itself ---------------------------------------------------------------


def test_exceptions_carry_the_students_message_and_frames():
    source = """
        def helper(mode):
            raise ValueError(f"Invalid forward batchnorm mode {mode!r}")
        def batchnorm_forward(mode):
            helper(mode)
    """
    with box(source) as sandbox:
        error = failure(sandbox.call, "optim", "batchnorm_forward", "tset")
    assert error.kind == "exception"
    assert error.message == "ValueError: Invalid forward batchnorm mode 'tset'"
    assert "optim.py" in error.traceback and "helper(mode)" in error.traceback
    assert "child.py" not in error.traceback


EXITS = {
    "sys.exit": ("import sys\n", "sys.exit(3)", "exit"),
    "SystemExit": ("", "raise SystemExit", "exit"),
    "KeyboardInterrupt": ("", "raise KeyboardInterrupt", "exit"),
    "os._exit": ("import os\n", "os._exit(3)", "crash"),
}


@pytest.mark.parametrize("name", EXITS)
def test_exits_at_import_fail_the_module_at_once(name):
    imports, statement, kind = EXITS[name]
    with box(imports + statement + "\ndef f(): return 1\n", layers=COURSE) as sandbox:
        assert failure(sandbox.load, "optim").kind == kind
        assert seconds(sandbox.call, "optim", "f") < 0.1
        assert failure(sandbox.call, "optim", "f").kind == kind
        assert sandbox.call("layers", "fine") == 1.5


@pytest.mark.parametrize("name", EXITS)
def test_exits_inside_a_function(name):
    imports, statement, kind = EXITS[name]
    with box(imports + f"def f():\n    {statement}\n" + textwrap.dedent(COURSE)) as sandbox:
        assert failure(sandbox.call, "optim", "f").kind == kind
        assert failure(sandbox.call, "optim", "f").kind == ("broken" if kind == "crash" else kind)
        assert sandbox.call("optim", "fine") == 1.5
    assert len([incident for incident in sandbox.incidents if "optim.f" in incident]) == 1, sandbox.incidents


def test_one_module_cannot_spoil_another():
    """optim wrecks its own interpreter, then dies: layers, in its own child, goes on untouched."""
    wrecker = """
        import builtins, os, sys
        import numpy as np
        np.ones = np.zeros = lambda *args, **kwargs: "nothing"
        builtins.isinstance = builtins.len = lambda *args: True
        sys.meta_path.clear()
        def die():
            sys.modules.clear()
            os._exit(0)
    """
    x, w, b, dout = np.ones((2, 3)), np.ones((3, 2)), np.zeros(2), np.ones((2, 2))
    with box(wrecker, layers=COURSE) as sandbox:
        out, cache = sandbox.call("layers", "affine_forward", x, w, b, opaque=[1])
        assert failure(sandbox.call, "optim", "die").kind == "crash"
        dx, dw, db = sandbox.call("layers", "affine_backward", dout, cache)
    np.testing.assert_array_equal(out, np.full((2, 2), 3.0))
    np.testing.assert_array_equal(dx, np.full((2, 3), 2.0))


@pytest.mark.parametrize("body", ["while True:\n        pass", "import time\n    time.sleep(100)"])
def test_endless_calls_time_out_and_break_only_that_function(body):
    with box(f"def stuck():\n    {body}\n" + textwrap.dedent(COURSE)) as sandbox:
        out, cache = sandbox.call("optim", "affine_forward", np.ones((1, 2)), np.ones((2, 2)), np.ones(2), opaque=[1])
        assert seconds(sandbox.call, "optim", "stuck") < QUICK.call_seconds + 1
        broken = failure(sandbox.call, "optim", "stuck")
        assert broken.kind == "broken" and "timeout" in broken.message
        assert sandbox.call("optim", "fine") == 1.5
        stale = failure(sandbox.call, "optim", "affine_backward", np.ones((1, 2)), cache)
        assert stale.kind == "crash" and "restarted" in stale.message
        assert "optim.stuck: timeout after 1.0 s" in sandbox.incidents


def test_a_child_that_dies_between_calls_is_replaced_without_blame():
    source = "import signal\ndef arm():\n    signal.setitimer(signal.ITIMER_REAL, 0.2)\n" + textwrap.dedent(COURSE)
    with box(source) as sandbox:
        sandbox.call("optim", "arm")
        time.sleep(0.5)
        assert sandbox.call("optim", "fine") == 1.5
        assert sandbox.call("optim", "arm") is None
    assert "between requests: the child died (SIGALRM)" in sandbox.incidents


def test_a_forged_reply_is_a_crash():
    source = "import os, sys\ndef forge():\n    os.write(int(sys.argv[2]), b'\\xff' * 64)\n" + textwrap.dedent(COURSE)
    with box(source) as sandbox:
        error = failure(sandbox.call, "optim", "forge")
        assert error.kind == "crash" and "reply" in error.message
        assert sandbox.call("optim", "fine") == 1.5


def test_an_import_that_never_ends_times_out():
    limits = Limits(call_seconds=1.0, import_seconds=1.5)
    with box("while True:\n    pass\n", limits=limits, layers=COURSE) as sandbox:
        assert failure(sandbox.load, "optim").kind == "timeout"
        assert failure(sandbox.call, "optim", "f").kind == "timeout"
        assert sandbox.call("layers", "fine") == 1.5


@pytest.mark.parametrize(
    "source, message",
    [
        ("def f(:\n", "SyntaxError"),
        ("import no_such_module\n", "No module named 'no_such_module'"),
        (b"x = '\xff\xfe, not UTF-8'\n", "(unicode error)"),
    ],
)
def test_broken_sources_fail_to_import(source, message):
    data = source if isinstance(source, bytes) else source.encode()
    with Sandbox({"optim.py": data}, QUICK) as sandbox:
        error = failure(sandbox.load, "optim")
        assert error.kind == "import" and message in error.message
        assert failure(sandbox.load, "layers").kind == "import"


def test_stdin_is_empty():
    source = """
        import sys
        def read():
            return sys.stdin.read()
        def ask():
            return input("w? ")
    """
    with box(source) as sandbox:
        assert sandbox.call("optim", "read") == ""
        error = failure(sandbox.call, "optim", "ask")
    assert error.kind == "exception" and "EOFError" in error.message


def test_memory_is_limited():
    source = """
        import numpy as np
        def huge():
            return np.ones(10 << 30, dtype=np.uint8)
        def grow():
            blocks = []
            while True:
                blocks.append(np.ones(1 << 24))
        def fine():
            return float(np.ones(1000).sum())
    """
    with box(source, limits=Limits(call_seconds=10.0, memory_bytes=512 << 20)) as sandbox:
        assert failure(sandbox.call, "optim", "huge").kind == "memory"
        assert failure(sandbox.call, "optim", "grow").kind == "memory"
        assert sandbox.call("optim", "fine") == 1000.0


def test_files_are_limited_in_size():
    source = """
        def write():
            with open("big.bin", "wb") as file:
                for _ in range(100):
                    file.write(bytes(1 << 20))
    """
    with box(source) as sandbox:
        error = failure(sandbox.call, "optim", "write")
    assert error.kind == "exception" and "File too large" in error.message


def test_printing_50_mb_is_truncated_without_hanging():
    source = """
        def shout():
            print("x" * (50 << 20))
            return "done"
    """
    with box(source) as sandbox:
        assert sandbox.call("optim", "shout") == "done"
        sandbox.close()
        assert len(sandbox.output) == QUICK.output_bytes
        assert "stdout/stderr truncated: 50.0 MB printed, 64 KB kept" in sandbox.incidents


def test_patched_numpy_json_and_builtins_do_not_break_the_harness():
    source = """
        import builtins, json
        import numpy as np
        np.allclose = np.isclose = np.array_equal = lambda *args, **kwargs: True
        np.testing.assert_allclose = np.testing.assert_array_equal = lambda *args, **kwargs: None
        np.max = np.abs = np.frombuffer = np.empty = np.prod = lambda *args, **kwargs: 0
        json.dumps = json.loads = lambda *args, **kwargs: "{}"
        for name in ["isinstance", "len", "type", "list", "dict", "tuple", "min", "max", "abs", "sum",
                     "print", "float", "int", "str", "getattr", "zip", "enumerate", "memoryview", "bytearray"]:
            setattr(builtins, name, lambda *args, **kwargs: 0)

        def sgd(w, dw, config):
            config["touched"] = True
            return w - 0.5 * dw, config
        def fail():
            raise ValueError("still reported")
    """
    w, dw = np.linspace(-1, 1, 6).reshape(2, 3), np.ones((2, 3))
    config = {"learning_rate": 0.5}
    with box(source) as sandbox:
        next_w, _ = sandbox.call("optim", "sgd", w, dw, config)
        error = failure(sandbox.call, "optim", "fail")
    np.testing.assert_array_equal(next_w, w - 0.5 * dw)
    assert config == {"learning_rate": 0.5, "touched": True}
    assert error.kind == "exception" and "still reported" in error.message


# -- refusals -------------------------------------------------------------------------------------


BLOCKED = {
    "subprocess": "import subprocess; subprocess.run(['true'])",
    "os.system": "import os; os.system('true')",
    "os.fork": "import os; os.fork()",
    "os.posix_spawn": "import os; os.posix_spawn('/bin/true', ['true'], {})",
    "fork_exec": "import _posixsubprocess; _posixsubprocess.fork_exec()",
    "thread": "import threading; threading.Thread(target=print).start()",
    "socket": "import socket; socket.socket()",
    "ctypes": "import ctypes; ctypes.CDLL(None)",
    "setrlimit": "import resource; resource.setrlimit(resource.RLIMIT_CPU, (1000, 1000))",
    "kill the parent": "import os; os.kill(os.getppid(), 0)",
    "gc walk": "import gc; gc.get_objects()",
    "subinterpreter": "import _xxsubinterpreters",
    "/proc of the parent": "import os; open(f'/proc/{os.getppid()}/environ', 'rb')",
    "a raw device": "open('/dev/kmsg', 'rb')",
    "a directory fd": "import os; os.open('/tmp', os.O_RDONLY)",
    "mkfifo": "import os; os.mkfifo('/tmp/fifo')",
}


@pytest.mark.parametrize("name", BLOCKED)
def test_dangerous_actions_are_refused_and_recorded(name):
    with box(f"def act():\n    {BLOCKED[name]}\n" + textwrap.dedent(COURSE)) as sandbox:
        error = failure(sandbox.call, "optim", "act")
        assert error.kind == "forbidden", error.message
        assert any("in optim.act" in incident for incident in sandbox.incidents)
        assert sandbox.call("optim", "fine") == 1.5


@pytest.mark.parametrize("statement", ["import reference", "import grader.wire", "from grader import sandbox", "import nndl_grader"])
def test_importing_the_grader_or_the_reference_is_forbidden(statement):
    with box(statement + "\n") as sandbox:
        error = failure(sandbox.load, "optim")
    name = statement.split()[1].split(".")[0]
    assert error.kind == "forbidden"
    assert f"forbidden import of {name!r} at import of optim.py" in sandbox.incidents


def test_reading_under_a_forbidden_root_is_refused(tmp_path):
    secret = tmp_path / "answers"
    secret.mkdir()
    (secret / "key.txt").write_text("42")
    (tmp_path / "link").symlink_to(secret / "key.txt")
    grader_file = Path(grader.__file__).with_name("wire.py")
    source = """
        import os, sys
        def read(path):
            return open(path).read()
        def import_from(folder, name):
            sys.path.append(folder)
            __import__(name)
    """
    files = {"optim.py": textwrap.dedent(source).encode()}
    with Sandbox(files, QUICK, forbidden_roots=[secret]) as sandbox:
        for path in [secret / "key.txt", tmp_path / "link", grader_file]:
            assert failure(sandbox.call, "optim", "read", str(path)).kind == "forbidden", path
        hidden = failure(sandbox.call, "optim", "import_from", str(grader_file.parent), "wire")
        assert hidden.kind == "forbidden" or "No module named 'wire'" in hidden.message  # Landlock: not even listed
        assert sandbox.call("optim", "read", str(Path(np.__file__))).startswith('"""')


def test_writes_outside_scratch_are_refused(tmp_path):
    source = """
        import os, pathlib, shutil
        def write(path):
            with open(path, "w") as file:
                file.write("{}")
        def others(path):
            outcomes = []
            for action in [lambda: os.close(os.open(path, os.O_WRONLY | os.O_CREAT)),
                           lambda: pathlib.Path(path).write_text("{}"),
                           lambda: shutil.copy(__file__, path),
                           lambda: os.mkdir(path),
                           lambda: os.symlink("/etc/passwd", "link")]:
                try:
                    action()
                    outcomes.append("done")
                except PermissionError:
                    outcomes.append("refused")
            return outcomes
        def near():
            return [os.path.join(os.path.dirname(os.getcwd()), "results.json"), "../report.json",
                    "/tmp/results.json"]
        def environment():
            written = []
            for value in os.environ.values():
                if os.path.isdir(value):
                    write(os.path.join(value, "report.json"))
                    written.append(os.path.realpath(os.path.join(value, "report.json")))
            return os.getcwd(), written
    """
    targets = [tmp_path / "report.json", Path(tempfile.gettempdir()) / f"results-{uuid.uuid4().hex}.json"]
    with box(source) as sandbox:
        for target in [*map(str, targets), *sandbox.call("optim", "near")]:
            before = os.path.exists(target)
            assert failure(sandbox.call, "optim", "write", target).kind == "forbidden", target
            assert os.path.exists(target) == before
        assert sandbox.call("optim", "others", str(tmp_path / "other.json")) == ["refused"] * 5
        scratch, written = sandbox.call("optim", "environment")
    assert written and all(path.startswith(scratch + "/") for path in written)
    assert list(tmp_path.iterdir()) == []
    assert any(incident.startswith(f"blocked write to {targets[0]}") for incident in sandbox.incidents)


def test_deleting_outside_scratch_is_refused(tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "data.txt").write_text("keep me")
    source = """
        import os, pathlib, shutil
        def destroy(folder):
            path = os.path.join(folder, "data.txt")
            outcomes = []
            for action in [lambda: os.remove(path), lambda: os.rename(path, "stolen.txt"),
                           lambda: os.truncate(path, 0), lambda: os.chmod(path, 0),
                           lambda: pathlib.Path(path).unlink(), lambda: shutil.rmtree(folder),
                           lambda: os.rmdir(folder)]:
                try:
                    action()
                    outcomes.append("done")
                except PermissionError:
                    outcomes.append("refused")
            return outcomes
    """
    with box(source) as sandbox:
        assert sandbox.call("optim", "destroy", str(victim)) == ["refused"] * 7
    assert (victim / "data.txt").read_text() == "keep me"


# -- the child's surroundings -----------------------------------------------------------------------


def test_the_child_sees_a_minimal_world():
    source = """
        import os, sys
        def world():
            return sys.argv, dict(os.environ), sys.path, os.getcwd(), sys.stdin.fileno()
        def hashes():
            return hash("adam"), sys.flags.hash_randomization, sys.dont_write_bytecode
    """
    with box(source) as sandbox, box(source) as another:
        argv, environment, path, cwd, stdin = sandbox.call("optim", "world")
        hashes = [sandbox.call("optim", "hashes"), another.call("optim", "hashes")]
    assert set(environment) == {"HOME", "TMPDIR", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                "PYTHONHASHSEED", "PYTHONDONTWRITEBYTECODE", "LANG", "MPLBACKEND"}
    assert environment["HOME"].startswith(cwd + "/") and environment["TMPDIR"].startswith(cwd + "/")
    assert path[0] == cwd and not any(entry.startswith(str(Path(grader.__file__).parent)) for entry in path)
    assert len(argv) == 3 and argv[0].endswith("child.py")
    assert hashes[0] == hashes[1] and hashes[0][1:] == (0, True)  # PYTHONHASHSEED=0 holds


EACCES, EPERM = "PermissionError: [Errno 13]", "PermissionError: [Errno 1]"
# Actions the in-process guards let through, and the kernel's confinement refuses.
KERNEL_REFUSED = {
    "read outside the import path": ("open('/etc/hostname').read()", EACCES),
    "read its own memory map": ("open('/proc/self/maps').read()", EACCES),
    "write to a device not listed": ("open('/dev/full', 'w').close()", EACCES),
    "list the checkout": (f"import os; os.listdir({str(Path(grader.__file__).parents[1])!r})", EACCES),
    "chmod in scratch": ("import os; os.chmod('optim.py', 0o644)", EPERM),
    "utime in scratch": ("import os; os.utime('optim.py')", EPERM),
}


@pytest.mark.parametrize("name", KERNEL_REFUSED)
def test_the_kernel_refuses_what_the_guards_let_through(name):
    statement, refusal = KERNEL_REFUSED[name]
    with box(f"def act():\n    {statement}\n") as sandbox:
        error = failure(sandbox.call, "optim", "act")
    assert error.kind == "exception" and error.message.startswith(refusal), error.message


def test_the_child_runs_confined():
    with box("import os\ndef pid():\n    return os.getpid()\n") as sandbox:
        status = dict(line.split(":\t", 1) for line in Path(f"/proc/{sandbox.call('optim', 'pid')}/status").read_text().splitlines())
    assert sandbox.incidents == []  # no layer missing on this kernel
    confinement = {key: status[key] for key in ("NoNewPrivs", "Seccomp", "CapEff", "CapPrm", "Threads")}
    assert confinement == {"NoNewPrivs": "1", "Seccomp": "2", "CapEff": "0" * 16, "CapPrm": "0" * 16, "Threads": "1"}


class FakeKernel:
    """Stands in for child._Kernel: Landlock of ABI `abi`, or none (ENOSYS) when abi is None."""

    def __init__(self, abi: int | None) -> None:
        self.abi, self.applied = abi, []

    def no_new_privs(self) -> None:
        self.applied.append("no_new_privs")

    def drop_capabilities(self) -> None:
        self.applied.append("capabilities")

    def landlock_abi(self) -> int:
        if self.abi is None:
            raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS))
        return self.abi

    def landlock(self, abi: int, *policy: object) -> None:
        self.applied.append(f"Landlock {abi}")

    def seccomp(self, program: list) -> None:
        self.applied.append("seccomp")


def _no_ctypes() -> FakeKernel:
    raise ImportError("No module named '_ctypes'")


GAPS = {  # a kernel -> the incidents, and the layers applied
    "ABI 7": (lambda: FakeKernel(7), [], ["no_new_privs", "capabilities", "Landlock 7", "seccomp"]),
    "ABI 3": (lambda: FakeKernel(3),
              ["kernel confinement partial: Landlock ABI 3 (TCP is restricted from ABI 4, signals from ABI 6)"],
              ["no_new_privs", "capabilities", "Landlock 3", "seccomp"]),
    "no Landlock": (lambda: FakeKernel(None),
                    ["kernel confinement unavailable: Landlock: Function not implemented (ENOSYS)"],
                    ["no_new_privs", "capabilities", "seccomp"]),
    "no ctypes": (_no_ctypes,
                  ["kernel confinement unavailable: No module named '_ctypes'; only the in-process guards hold"], []),
}


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the seccomp table covers x86_64")
@pytest.mark.parametrize("name", GAPS)
def test_a_missing_kernel_layer_is_an_incident_not_a_failure(name):
    make, incidents, applied = GAPS[name]
    kernels: list[FakeKernel] = []

    def kernel() -> FakeKernel:
        kernels.append(make())
        return kernels[-1]

    assert child._confine_kernel("/scratch", ["/usr/lib"], kernel) == incidents
    assert (kernels[0].applied if kernels else []) == applied


@pytest.mark.parametrize("abi", [1, 2, 3, 4, 5, 6, 7])
def test_landlock_handles_every_right_it_knows_and_allows_little(abi):
    fs, net, scopes, rules = child._landlock_policy(abi, "/scratch", ["/usr/lib"])
    allowed = dict(rules)
    never = child._rights(("execute", "make_char", "make_block", "make_sock", "make_fifo", "make_sym", "ioctl_dev"))
    assert fs == (1 << {1: 13, 2: 14, 3: 15, 4: 15}.get(abi, 16)) - 1
    assert (net, scopes) == ((0b11 if abi >= 4 else 0), (0b11 if abi >= 6 else 0))
    assert all(rights & ~fs == 0 and rights & never == 0 for rights in allowed.values())
    assert allowed["/usr/lib"] == child._rights(("read_file", "read_dir"))
    assert allowed["/dev/null"] & child._rights(("write_file",)) and not allowed["/dev/zero"] & child._rights(("write_file",))


def _run_bpf(program: list[tuple[int, int, int, int]], number: int, arch: int, argument: int) -> int:
    """What a classic BPF seccomp program returns for one system call (the few opcodes it uses)."""
    data = struct.pack("<iIQ6Q", number, arch, 0, argument, 0, 0, 0, 0, 0)
    counter, accumulator = 0, 0
    while True:
        code, if_true, if_false, value = program[counter]
        if code == child._BPF_RETURN:
            return value
        if code == child._BPF_LOAD_WORD:
            accumulator, counter = struct.unpack_from("<I", data, value)[0], counter + 1
            continue
        taken = {child._BPF_JEQ: accumulator == value, child._BPF_JGE: accumulator >= value,
                 child._BPF_JSET: bool(accumulator & value)}[code]
        counter += 1 + (if_true if taken else if_false)


X86_64, PID = child._SECCOMP_TABLES["x86_64"]["arch"], 4242
SECCOMP = {  # system call: (number, arch, first argument, the filter's answer)
    "read": (0, X86_64, 0, child._ALLOW),
    "fork": (57, X86_64, 0, child._EPERM),
    "execve": (59, X86_64, 0, child._EPERM),
    "socket": (41, X86_64, 2, child._EPERM),
    "io_uring_setup": (425, X86_64, 0, child._EPERM),
    "chmod": (90, X86_64, 0, child._EPERM),
    "clone a thread": (56, X86_64, 0x3D0F00, child._ALLOW),
    "clone a process": (56, X86_64, 17, child._EPERM),
    "clone3": (435, X86_64, 0, child._ENOSYS),
    "kill itself": (62, X86_64, PID, child._ALLOW),
    "kill the parent": (62, X86_64, PID - 1, child._EPERM),
    "kill every process": (62, X86_64, 0xFFFFFFFF, child._EPERM),
    "tgkill itself": (234, X86_64, PID, child._ALLOW),
    "an x32 call": (0x40000000, X86_64, 0, child._EPERM),
    "an i386 call": (0, 0x40000003, 0, child._EPERM),
}


@pytest.mark.parametrize("name", SECCOMP)
def test_the_seccomp_program_decides_as_intended(name):
    number, arch, argument, expected = SECCOMP[name]
    program = child._seccomp_program(child._SECCOMP_TABLES["x86_64"], PID)
    assert _run_bpf(program, number, arch, argument) == expected


def test_closing_kills_the_session_even_outside_the_process_group():
    script = "import os, time\nif os.fork() == 0:\n    os.setpgid(0, 0)\ntime.sleep(60)\n"
    process = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    deadline = time.monotonic() + 10
    while len(_session_members(process.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_session_members(process.pid)) == 2
    parent_side._kill(process, ())
    deadline = time.monotonic() + 2  # SIGKILL is delivered asynchronously
    while _session_members(process.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _session_members(process.pid) == []


def _session_members(session: int) -> list[int]:
    """The live (not zombie) processes of `session`."""
    return [pid for pid in parent_side._process_ids() if parent_side._session_of(pid) == session]


def test_close_kills_the_whole_session_and_removes_scratch():
    source = "import os\ndef where():\n    return os.getpid(), os.getcwd()\n"
    sandbox = box(source)
    pid, scratch = sandbox.call("optim", "where")
    assert os.getpgid(pid) == pid and os.getsid(pid) == pid
    sandbox.close()
    sandbox.close()
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
    assert not os.path.exists(scratch)
    with pytest.raises(RuntimeError):
        sandbox.call("optim", "where")


def test_garbage_collection_closes_a_forgotten_sandbox():
    sandbox = box("import os\ndef where():\n    return os.getpid(), os.getcwd()\n")
    pid, scratch = sandbox.call("optim", "where")
    del sandbox
    gc.collect()
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
    assert not os.path.exists(scratch)


def test_the_audit_hook_loads_no_global():
    functions = _functions_reachable_from(child._audit_hook("/scratch", ("/forbidden",), []))
    for function in functions:
        loads = [op.argval for op in dis.get_instructions(function.__code__) if op.opname in ("LOAD_GLOBAL", "LOAD_NAME")]
        assert not loads, (function.__qualname__, loads)
    assert {"hook", "on_open", "follow", "resolve", "refuse"} <= {function.__name__ for function in functions}


def _functions_reachable_from(root: object) -> list[types.FunctionType]:
    """The Python functions reachable through closure cells, dict values and bound builtin methods."""
    todo, found = [root], []
    while todo:
        value = todo.pop()
        if isinstance(value, types.FunctionType) and value not in found:
            found.append(value)
            todo += [cell.cell_contents for cell in value.__closure__ or ()]
        elif isinstance(value, dict):
            todo += value.values()
        elif isinstance(value, types.BuiltinMethodType) and isinstance(value.__self__, dict):
            todo.append(value.__self__)
    return found


class LyingFloat(np.float64):
    def __eq__(self, other):
        return True


# -- the wire ---------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:the matrix subclass")
def test_wire_refuses_what_it_cannot_carry_and_rejects_foreign_frames():
    value = {"t": (1, [2.5, float("nan")]), "a": np.arange(3, dtype=np.uint16), "h": Handle(4)}
    back = wire.decode(wire.encode(value))
    assert back["t"][0] == 1 and np.isnan(back["t"][1][1]) and back["h"] == Handle(4)
    assert back["a"].dtype == np.uint16 and back["a"].tolist() == [0, 1, 2]
    for unsupported in [np.matrix([[1]]), np.array([object()]), {1: 2}, {1}, 1j, LyingFloat(1.0), True.__class__]:
        with pytest.raises(wire.Unsupported):
            wire.encode([unsupported])
    frame = wire.encode(np.arange(3.0))
    forged = frame.replace(b'"<f8"', b'"<c8"')
    for bad in [b"", frame[:-1], frame + b"\0", forged, b"\x02\x00\x00\x00{}"]:
        with pytest.raises(wire.WireError):
            wire.decode(bad)
