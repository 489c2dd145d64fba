"""The only codec between the grader and its sandbox child: plain data to bytes and back, never pickle.

A frame is

    header size   4 bytes, unsigned little-endian
    header        UTF-8 JSON: the value, with every array replaced by a node naming its dtype and shape
    payload       the raw C-order bytes of every array, concatenated in the order the header meets them

Header nodes:

    null  true  false  12  1.5  NaN  -Infinity  "text"    None, bool, int, float, str
    [node, ...]                                          list
    {"tuple": [node, ...]}                               tuple (kept distinct from list)
    {"dict": {"key": node, ...}}                         dict with str keys
    {"array": ["<f8", [2, 3]]}                           numpy.ndarray: dtype.str and shape
    {"handle": 7}                                        Handle(7)

Only numeric and boolean arrays cross (dtype kinds b, i, u, f); they arrive as writable base-class
arrays that own their memory, dtype (byte order included) and shape as sent. Numpy scalars of those
kinds are sent as the Python bool / int / float they hold. Types are matched exactly, never by
isinstance, so no subclass can run code of its own here or pass for what it is not. Anything else
(subclasses of ndarray, of numpy scalars or of int, float, str, dict...; object or string arrays;
sets; custom classes) makes `encode` raise `Unsupported`, naming the value and where it sits. The header may not exceed MAX_HEADER_BYTES: it is the part that costs memory to decode (long
lists belong in arrays). `decode` raises `WireError` on any bytes that are not such a frame, and
checks every size before it allocates.

On a pipe, each frame is preceded by its length as `FRAME_PREFIX` (8 bytes, little-endian).

This module is loaded inside the sandbox child before the submission. It captures at import what it
calls later (numpy functions, the C halves of json), so a submission that patches numpy, json or
builtins cannot change what a frame says.
"""

from __future__ import annotations

import _json
import json
import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "FRAME_PREFIX", "MAX_HEADER_BYTES", "Handle", "Unsupported", "WireError", "decode", "encode", "encode_parts"
]

FRAME_PREFIX = struct.Struct("<Q")
MAX_HEADER_BYTES = 8 << 20
_HEADER_SIZE = struct.Struct("<I")
_ARRAY_KINDS = "biuf"
_MAX_NDIM = 64

_ndarray, _dtype, _frombuffer, _prod = np.ndarray, np.dtype, np.frombuffer, math.prod
_SCALAR_TYPES = frozenset(np.dtype(code).type for code in np.typecodes["All"] if np.dtype(code).kind in _ARRAY_KINDS)
# json's C encoder: no circularity markers, no default, ASCII strings, no indent, compact separators,
# unsorted keys, no skipped keys, NaN and infinities allowed. Called as _to_json(tree, 0).
_to_json = _json.make_encoder(None, None, _json.encode_basestring_ascii, None, ":", ",", False, False, True)
_CONSTANTS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_scan_json = _json.make_scanner(json.JSONDecoder(parse_constant=_CONSTANTS.__getitem__))


@dataclass(frozen=True)
class Handle:
    """An opaque reference to an object kept in the child's handle table (a forward pass's cache)."""

    id: int


class Unsupported(TypeError):
    """`encode` met a value without a wire form; the message says what it is and where it sits."""


class WireError(ValueError):
    """`decode` met bytes that are not a well-formed frame."""


def encode(obj: Any) -> bytes:
    """Return the frame for `obj`. Raises Unsupported (see the module docstring for what crosses)."""
    return b"".join(encode_parts(obj))


def encode_parts(obj: Any) -> list[bytes]:
    """The frame for `obj` in pieces (no copy to join them), for writing to a pipe."""
    arrays: list[bytes] = []
    try:
        header = "".join(_to_json(_node(obj, arrays, "value"), 0)).encode()
    except RecursionError:
        raise Unsupported("value: nested too deeply, or contains itself") from None
    except ValueError as error:  # an int too long to print
        raise Unsupported(f"value: {error}") from None
    if len(header) > MAX_HEADER_BYTES:
        raise Unsupported(f"value: its header takes {len(header)} bytes, more than {MAX_HEADER_BYTES}")
    return [_HEADER_SIZE.pack(len(header)), header, *arrays]


def decode(frame: bytes) -> Any:
    """Return the value of a frame made by `encode`. Raises WireError on anything else."""
    try:
        view = memoryview(frame)
        (size,) = _HEADER_SIZE.unpack_from(view)
        if 4 + size > len(view) or size > MAX_HEADER_BYTES:
            raise WireError("the header runs past the end of the frame, or is too large")
        header = str(view[4 : 4 + size], "utf-8")
        tree, end = _scan_json(header, 0)
        if end != len(header):
            raise WireError("trailing bytes after the header's JSON")
        payload = _Payload(view[4 + size :])
        value = payload.value(tree)
        payload.check_used_up()
        return value
    except WireError:
        raise
    except Exception as error:  # malformed JSON, sizes, dtypes: whatever the bytes provoke
        raise WireError(f"malformed frame: {error!r:.200}") from None


def _node(obj: Any, arrays: list[bytes], where: str) -> Any:
    kind = type(obj)
    if obj is None or kind is bool or kind is int or kind is float or kind is str:
        return obj
    if kind is list:
        return [_node(item, arrays, f"{where}[{i}]") for i, item in enumerate(obj)]
    if kind is tuple:
        return {"tuple": [_node(item, arrays, f"{where}[{i}]") for i, item in enumerate(obj)]}
    if kind is dict:
        items = obj.items()
        return {"dict": {_key(key, where): _node(item, arrays, f"{where}[{key!r}]") for key, item in items}}
    if kind is Handle:
        return {"handle": obj.id}
    if kind is _ndarray:
        return _array_node(obj, arrays, where)
    if kind in _SCALAR_TYPES:
        return _scalar(obj)
    if isinstance(obj, _ndarray):
        raise Unsupported(f"{where}: ndarray subclass {_name(kind)}")
    raise Unsupported(f"{where}: unsupported type {_name(kind)}")


def _key(key: Any, where: str) -> str:
    if type(key) is not str:
        raise Unsupported(f"{where}: dict key of type {_name(type(key))}, not str")
    return key


def _array_node(array: np.ndarray, arrays: list[bytes], where: str) -> dict:
    dtype = array.dtype
    if dtype.kind not in _ARRAY_KINDS:
        raise Unsupported(f"{where}: array of dtype {dtype}")
    arrays.append(array.tobytes())
    return {"array": [dtype.str, list(array.shape)]}


def _scalar(scalar: np.generic) -> bool | int | float:
    kind = scalar.dtype.kind
    if kind == "b":
        return bool(scalar)
    return int(scalar) if kind in "iu" else float(scalar)


def _name(kind: type) -> str:
    return f"{kind.__module__}.{kind.__qualname__}"


class _Payload:
    """The array bytes of a frame, handed out in order as the header's array nodes ask for them."""

    def __init__(self, view: memoryview) -> None:
        self._view = view
        self._used = 0

    def value(self, node: Any) -> Any:
        kind = type(node)
        if node is None or kind is bool or kind is int or kind is float or kind is str:
            return node
        if kind is list:
            return [self.value(item) for item in node]
        if kind is dict and len(node) == 1:
            ((tag, body),) = node.items()
            if tag == "tuple" and type(body) is list:
                return tuple(self.value(item) for item in body)
            if tag == "dict" and type(body) is dict:
                return {key: self.value(item) for key, item in body.items()}
            if tag == "array":
                return self._array(body)
            if tag == "handle" and type(body) is int:
                return Handle(body)
        raise WireError(f"unknown header node {node!r:.80}")

    def check_used_up(self) -> None:
        if self._used != len(self._view):
            raise WireError(f"{len(self._view) - self._used} payload bytes left over")

    def _array(self, body: Any) -> np.ndarray:
        if type(body) is not list or len(body) != 2 or type(body[0]) is not str:
            raise WireError(f"bad array node {body!r:.80}")
        dtype, shape = _dtype(body[0]), body[1]
        if dtype.kind not in _ARRAY_KINDS or dtype.str != body[0]:
            raise WireError(f"dtype {body[0]!r:.40} may not cross")
        sizes_ok = type(shape) is list and all(type(n) is int and n >= 0 for n in shape)
        if not sizes_ok or len(shape) > _MAX_NDIM:
            raise WireError(f"bad shape {shape!r:.80}")
        count = _prod(shape)
        end = self._used + count * dtype.itemsize
        if end > len(self._view):
            raise WireError("an array runs past the end of the frame")
        data = self._view[self._used : end]
        self._used = end
        return _frombuffer(data, dtype=dtype, count=count).reshape(shape).copy()
