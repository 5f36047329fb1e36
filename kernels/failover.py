"""Graceful degradation: a GPU store that fails at run time hands the register to the CPU.

``FailoverStore(primary, make_fallback)`` forwards every store call to ``primary`` (a CuPy or
JAX-on-GPU store) and synchronises the results, so that asynchronous device errors surface inside
the call. When a call raises a device failure (``is_device_failure``: out of memory, a CUDA
driver/runtime error, an XLA runtime error) it

1. records a ``FailoverEvent`` (when, which call, the error) in ``events``;
2. builds the CPU store (``make_fallback()``) and from then on sends every call there;
3. moves each array that reaches it to host numpy. If the device can no longer be read (a dead
   driver, or a JAX buffer donated to the failed call) the cells restart maximally mixed, with
   the entropy of that state: the model's own meaning of "we know nothing", and the event says
   ``state="reset"`` instead of ``"migrated"``. An array sharded over several devices loses
   only the blocks of the devices that cannot be read; the other blocks are copied;
4. retries the failed call on the CPU, so the tick that failed still happens.

The register keeps its arrays in attributes and always writes back what the store returns, so
the arrays travel to the host as they pass through; nothing else in the register changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .tick_inputs import PairInputs, SingleInputs, TickInputs

_DEVICE_ERRORS = {
    "OutOfMemoryError",        # cupy.cuda.memory
    "CUDARuntimeError",        # cupy_backends.cuda.api.runtime
    "CUDADriverError",         # cupy_backends.cuda.api.driver
    "CompileException",        # cupy.cuda.compiler (NVRTC failed on this device)
    "XlaRuntimeError",         # jaxlib (RESOURCE_EXHAUSTED, INTERNAL, ...)
    "JaxRuntimeError",
    "DeviceFailure",           # ours: raised by the CUDA wrapper and by fault injection
}


class DeviceFailure(RuntimeError):
    """A GPU could not run a store call (raised by our wrappers, or injected in tests)."""


def is_device_failure(exc: BaseException) -> bool:
    """True for errors that mean "this device cannot go on", judged by the exception's class
    name up its MRO, so that detecting a CuPy or JAX error never imports either library."""
    return isinstance(exc, MemoryError) or any(
        cls.__name__ in _DEVICE_ERRORS for cls in type(exc).__mro__)


@dataclass(frozen=True)
class FailoverEvent:
    """One move to the CPU: when (``clock()`` seconds), which store call, the error, and whether
    the state was ``migrated`` (copied) or ``reset`` (unreadable, restarted maximally mixed)."""

    time: float
    call: str
    error: str
    state: str


def _sync(result) -> None:
    items = result if isinstance(result, tuple) else (result,)
    for x in items:
        if isinstance(x, dict):
            _sync(tuple(x.values()))
        elif hasattr(x, "block_until_ready"):
            x.block_until_ready()
        elif hasattr(x, "device") and hasattr(x.device, "synchronize"):
            x.device.synchronize()


class FailoverStore:
    """A store that runs on ``primary`` until a device failure, then on ``make_fallback()``."""

    def __init__(self, primary, make_fallback, clock):
        self.primary, self._make_fallback, self._clock = primary, make_fallback, clock
        self.backend, self.xp = primary.backend, primary.xp
        self.fallback = None
        self.events: list[FailoverEvent] = []
        self._dims: dict[int, int] = {}   # cell-array length -> D, to reset entropy arrays
        self._pending: tuple | None = None  # the failure being handled, until it is recorded

    @property
    def failed(self) -> bool:
        return self.fallback is not None

    def put(self, arr, idx, values):
        return self._call("put", (arr, idx, values), n_arrays=1)

    def take(self, arr, idx):
        return self._call("take", (arr, idx), n_arrays=1)

    def run_pairs(self, rho, s_cell, n: int, inputs: PairInputs):
        return self._call("run_pairs", (rho, s_cell, n, inputs), n_arrays=2)

    def run_singles(self, rho, s_cell, n: int, inputs: SingleInputs):
        return self._call("run_singles", (rho, s_cell, n, inputs), n_arrays=2)

    def _call(self, name: str, args: tuple, n_arrays: int):
        if not self.failed:
            for a in args[:n_arrays]:     # remember D per cell count, for lost entropy arrays
                if len(getattr(a, "shape", ())) == 3:
                    self._dims[a.shape[0]] = a.shape[-1]
            try:
                result = getattr(self.primary, name)(*args)
                _sync(result)
                return result
            except Exception as exc:
                if not is_device_failure(exc):
                    raise
                self.fallback = self._make_fallback()
                self._pending = (self._clock(), name, f"{type(exc).__name__}: {exc}")
        moved = [self._to_host(a) for a in args[:n_arrays]]
        args = tuple(a for a, _ in moved) + tuple(_host_args(args[n_arrays:]))
        if self._pending is not None:
            when, call, err = self._pending
            state = "reset" if any(lost for _, lost in moved) else "migrated"
            self.events.append(FailoverEvent(when, call, err, state))
            self._pending = None
        return getattr(self.fallback, name)(*args)

    def _to_host(self, arr):
        """``(host array, lost)``: a numpy copy of ``arr``, or a maximally mixed stand-in of
        the same shape when the device copy cannot be read."""
        if isinstance(arr, np.ndarray):
            return arr, False
        shape, dtype = tuple(arr.shape), np.dtype(str(arr.dtype))
        if len(shape) == 3:
            self._dims[shape[0]] = shape[-1]
        try:
            host = arr.get() if hasattr(arr, "get") else np.asarray(arr)
            return np.array(host, dtype=dtype, order="C"), False
        except Exception:  # noqa: BLE001 - any failure to read means the data is gone
            return _salvage(arr, _mixed(shape, dtype, self._dims.get(shape[0]))), True


def _salvage(arr, host: np.ndarray) -> np.ndarray:
    """``host`` (the maximally mixed stand-in) with every block of a sharded ``jax.Array`` that
    can still be read copied in: a dead device loses its own cells, not the other devices'.
    An array spanning several processes (``shards="global"``) is not salvaged: each process
    could read only its own blocks, and the processes' copies of the register would differ."""
    if not getattr(arr, "is_fully_addressable", False):
        return host
    try:
        shards = list(arr.addressable_shards)
    except Exception:  # noqa: BLE001 - a deleted array may not even list its shards
        return host
    for shard in shards:
        try:
            block = np.asarray(shard.data)
        except Exception:  # noqa: BLE001, S112 - its device is gone: keep the stand-in
            continue
        host[shard.index] = block
    return host


def _mixed(shape: tuple, dtype, d: int | None) -> np.ndarray:
    if len(shape) == 3:
        return np.ascontiguousarray(np.broadcast_to(np.eye(shape[-1], dtype=dtype) / shape[-1],
                                                    shape))
    return np.full(shape, math.log(d) if d else 0.0, dtype=dtype)


def _host(x) -> np.ndarray:
    return np.asarray(x.get() if hasattr(x, "get") else x)


def _host_args(args):
    for a in args:
        if isinstance(a, TickInputs):
            yield a.map_cells(_host)
        elif isinstance(a, (list, tuple)):
            yield [_host(x) for x in a]
        elif hasattr(a, "shape") and not isinstance(a, np.ndarray):
            yield _host(a)
        else:
            yield a
