"""A named fake of CuPy: numpy arrays + host emulation of CUDA launches; exists because no GPU runs
here.

It implements the slice of CuPy that ``uqo.kernels.cupy_tick`` and ``uqo.kernels.cupy_store`` use,
and nothing more (a missing attribute is an ``AttributeError``, so new uses show up). Tests
install it as ``sys.modules["cupy"]``::

    cp = fake_cupy(cache_dir)                  # a fresh fake device: its own allocation count
    monkeypatch.setitem(sys.modules, "cupy", cp)

* Device arrays (``ndarray``) are numpy arrays in their own host allocations, 256-byte aligned
  like ``cudaMalloc``, with 4 KiB guard zones on both sides checked after every launch (a
  kernel that writes out of bounds raises ``CUDADriverError``), filled with 0xff bytes (NaN,
  -1) where CuPy leaves memory uninitialised (``empty``). ``cp.device.allocations`` counts them.
  As in CuPy, a device array is not silently a numpy array: ``np.asarray`` on it raises, and
  ``.get()`` / ``.set()`` are the transfers.
* ``RawModule(code=..., options=...)`` takes the source and the NVRTC options the wrapper passes
  (``-I``, ``-D``; ``-std``/``-arch`` are NVRTC's business and ignored: the emulator needs
  C++20), finds the ``extern "C" __global__`` kernels and their ``__launch_bounds__`` by
  preprocessing the source, generates a launcher per kernel, and compiles it all with g++ against
  ``cuda_emul.h`` into a shared library cached per source + options hash in ``cache_dir``.
* A kernel call ``kernel(grid, block, args)`` marshals like ``cuLaunchKernel``: arrays become
  their data pointers, numpy scalars their bytes (Python ints and floats become int64 / float64,
  as CuPy makes them). With ``cp.device.strict_args`` (the default) a scalar whose C type is not
  the kernel's parameter type raises ``TypeError``; without it the kernel reads its parameter's
  size from those bytes (the rest of each slot is 0xff), which is what a GPU does: garbage.
* Faults can be injected (``cp.device.inject("alloc" | "launch", after=k, lose=...)``): an
  allocation that runs out of memory, a launch that hits an illegal address, and a device that
  is lost from then on (every transfer fails), as the GPU failover must survive.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import math
import os
import re
import shutil
import struct
import subprocess
import threading
import types
import weakref
from pathlib import Path

import numpy as np

SHIM = Path(__file__).with_name("cuda_emul.h")
ALIGN = 256
GUARD = 4096
POISON = 0xFF
SLOT = 16                      # bytes per launch-argument slot
SCHEDULES = {"forward": 0, "reverse": 1}
CXXFLAGS = ("-std=c++20", "-O2", "-pthread", "-shared", "-fPIC", "-fno-strict-aliasing",
            "-fvisibility=hidden", "-fno-gnu-unique", "-w")
_IGNORED_OPTIONS = re.compile(r"^(-std=|-arch=|--gpu-architecture=|-lineinfo$|--use_fast_math$)")
_LAUNCH_LOCK = threading.Lock()  # the emulator's state lives in the loaded library
_C_TYPES = {"p": "a pointer", "b1": "bool", "i1": "char", "u1": "unsigned char", "i2": "short",
            "u2": "unsigned short", "i4": "int", "u4": "unsigned int", "i8": "long long",
            "u8": "unsigned long long", "f4": "float", "f8": "double"}


class CompileException(RuntimeError):
    """The source did not compile (named as ``cupy.cuda.compiler.CompileException``)."""


class Unsupported(RuntimeError):
    """A CuPy feature this fake does not emulate (a test that needs it must extend the fake)."""


class CUDADriverError(RuntimeError):
    """A launch failed (named as CuPy's driver error, so ``is_device_failure`` knows it)."""


class OutOfMemoryError(MemoryError):
    """An allocation failed (named as ``cupy.cuda.memory.OutOfMemoryError``)."""


# --- the fake device and its arrays -------------------------------------------------------------

class FakeDevice:
    """One fake GPU: its allocations (counted, guarded), the launches made, the compile cache and
    how launches run (``schedule``: ``"forward"``, ``"reverse"`` or an int seed)."""

    def __init__(self, cache_dir: Path, schedule="forward", strict_args: bool = True):
        self.cache_dir = Path(cache_dir)
        self.schedule, self.strict_args = schedule, strict_args
        self.allocations = 0
        self.launches: list[tuple[str, tuple, tuple]] = []
        self._buffers: list[tuple] = []   # (weakref to raw bytes, start, nbytes, what)
        self._faults: dict[str, list] = {}  # "alloc" | "launch" -> [countdown, error, lose]
        self.lost = False

    def inject(self, at: str, after: int = 0, lose: bool = False) -> None:
        """Fault injection: the ``after + 1``-th allocation (``at="alloc"``: raises
        ``OutOfMemoryError``) or kernel launch (``"launch"``: ``CUDADriverError``, an illegal
        address) from now fails. With ``lose`` the device is lost from then on, as after a sticky
        CUDA error: every allocation, transfer and launch raises ``CUDADriverError``."""
        if at not in ("alloc", "launch"):
            raise ValueError(f"at must be 'alloc' or 'launch', got {at!r}")
        self._faults[at] = [int(after), lose]

    def check(self, at: str, what: str) -> None:
        """Raise the injected fault due at this ``at`` event, or the lost device's error."""
        if self.lost:
            raise CUDADriverError(f"CUDA_ERROR_ILLEGAL_ADDRESS (emulated, device lost): {what}")
        fault = self._faults.get(at)
        if fault is None:
            return
        if fault[0] > 0:
            fault[0] -= 1
            return
        del self._faults[at]
        self.lost = fault[1]
        if at == "alloc":
            raise OutOfMemoryError(f"Out of memory allocating {what} (emulated, injected)")
        raise CUDADriverError(f"CUDA_ERROR_ILLEGAL_ADDRESS (emulated, injected): {what}")

    def alloc(self, shape, dtype, order: str = "C") -> ndarray:
        dtype, shape = np.dtype(dtype), _shape(shape)
        nbytes = math.prod(shape) * dtype.itemsize
        self.check("alloc", f"{nbytes:,} bytes")
        raw = np.full(nbytes + 2 * GUARD + ALIGN, POISON, np.uint8)
        start = (-raw.ctypes.data) % ALIGN + GUARD
        flat = raw[start:start + nbytes].view(dtype)
        arr = (flat.reshape(shape[::-1]).T if order == "F" and len(shape) > 1
               else flat.reshape(shape))
        self.allocations += 1
        self._buffers.append((weakref.ref(raw), start, nbytes, f"{shape} {dtype}"))
        return ndarray(arr, self)

    def upload(self, host, dtype=None, order: str = "K") -> ndarray:
        host = np.asarray(host, dtype=dtype)
        if order in ("K", "A"):
            order = "F" if host.flags.f_contiguous and not host.flags.c_contiguous else "C"
        out = self.alloc(host.shape, host.dtype, order)
        out._a[...] = host
        return out

    def check_guards(self, kernel: str) -> None:
        live = []
        for ref, start, nbytes, what in self._buffers:
            raw = ref()
            if raw is None:
                continue
            live.append((ref, start, nbytes, what))
            for side, zone in (("before", raw[start - GUARD:start]),
                               ("after", raw[start + nbytes:start + nbytes + GUARD])):
                if (zone != POISON).any():
                    raise CUDADriverError(f"CUDA_ERROR_ILLEGAL_ADDRESS (emulated): {kernel} wrote "
                                          f"{side} the device buffer {what}")
        self._buffers = live


class MemoryPointer:
    def __init__(self, ptr: int):
        self.ptr = ptr


class ndarray:   # CuPy's name
    """A device array of the fake: a numpy array in a guarded host allocation."""

    __module__ = "cupy"   # uqo.engine.backend.to_numpy dispatches on it, as for cupy.ndarray

    def __init__(self, a: np.ndarray, device: FakeDevice):
        self._a, self.device = a, device

    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    data = property(lambda self: MemoryPointer(self._a.__array_interface__["data"][0]))

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __getitem__(self, key):
        res = self._a[_unwrap(key)]
        if isinstance(res, np.ndarray) and np.may_share_memory(res, self._a):
            return ndarray(res, self.device)   # a view
        return self.device.upload(res)         # advanced indexing: a new buffer, as in CuPy

    def __setitem__(self, key, value):
        self.device.check("transfer", "a scatter")
        self._a[_unwrap(key)] = value._a if isinstance(value, ndarray) else value

    def __array__(self, *args, **kwargs):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use "
                        "`.get()` to construct a NumPy array explicitly.")

    def __repr__(self):
        return f"fakecupy.ndarray({self._a!r})"

    def fill(self, value):
        self._a.fill(value)

    def get(self) -> np.ndarray:
        self.device.check("transfer", "a device-to-host copy")
        return np.array(self._a, copy=True)

    def set(self, arr):
        if not isinstance(arr, np.ndarray):
            raise TypeError("Only numpy.ndarray can be set to cupy.ndarray")
        if arr.dtype != self.dtype:
            raise TypeError(f"{arr.dtype} array cannot be set to {self.dtype} array")
        if arr.shape != self.shape:
            raise ValueError(f"Shape mismatch. Old shape: {self.shape}, new shape: {arr.shape}")
        if not self._a.flags.c_contiguous:
            raise RuntimeError("Cannot set to non-contiguous array")
        self.device.check("transfer", "a host-to-device copy")
        self._a[...] = arr

    def copy(self) -> ndarray:
        return self.device.upload(self._a, order="C")


def _shape(shape) -> tuple:
    return (int(shape),) if np.isscalar(shape) else tuple(int(s) for s in shape)


def _unwrap(key):
    if isinstance(key, ndarray):
        return key._a
    if isinstance(key, tuple):
        return tuple(_unwrap(k) for k in key)
    return key


# --- array creation -----------------------------------------------------------------------------

def _asarray(dev, a, dtype=None, order=None):
    if isinstance(a, ndarray) and (dtype is None or np.dtype(dtype) == a.dtype):
        return a
    return dev.upload(a._a if isinstance(a, ndarray) else a, dtype, order or "K")


def _array(dev, obj, dtype=None, copy=True, order="K"):
    if not copy:
        return _asarray(dev, obj, dtype, order)
    return dev.upload(obj._a if isinstance(obj, ndarray) else obj, dtype, order)


def _filled(dev, value, shape, dtype=float, order="C"):
    out = dev.alloc(shape, dtype, order)
    if value is not None:
        out.fill(value)
    return out


def _ascontiguousarray(dev, a, dtype=None):
    if (isinstance(a, ndarray) and a.flags.c_contiguous
            and (dtype is None or np.dtype(dtype) == a.dtype)):
        return a
    return dev.upload(a._a if isinstance(a, ndarray) else a, dtype, "C")


def _stack(dev, arrays, axis=0):
    arrays = list(arrays)
    if not all(isinstance(a, ndarray) for a in arrays):
        raise TypeError("Only cupy arrays can be stacked")
    return dev.upload(np.stack([a._a for a in arrays], axis=axis), order="C")


# --- compiling and launching --------------------------------------------------------------------

def _compile_flags(options) -> list[str]:
    flags = []
    for opt in options or ():
        if opt.startswith(("-I", "-D")):
            flags.append(opt)
        elif not _IGNORED_OPTIONS.match(opt):
            raise ValueError(f"fakecupy does not know the NVRTC option {opt!r}; teach it "
                             "(tests/kernels/fakecupy.py) what it means for the emulator")
    return flags


_KERNEL = re.compile(r'extern\s+"C"\s+__uqo_emul_global__\s+void\s+'
                     r"(?:__uqo_emul_launch_bounds__\s*\(([^()]*)\)\s*)?([A-Za-z_]\w*)\s*\(")
_TRAMPOLINE = """
UQO_EMUL_EXPORT int uqo_emul_launch_{0}(const unsigned* g, const unsigned* b, void** a, int s) {{
  return emul::launch(&{0}, g, b, a, s);
}}
UQO_EMUL_EXPORT const char* uqo_emul_signature_{0}() {{ return emul::signature(&{0}); }}
"""


def _gxx(args: list, what: str) -> str:
    out = subprocess.run(args, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise CompileException(f"{what} failed:\n{out.stderr}")
    return out.stdout


def _build(work: Path, code: str, flags: list[str]) -> dict:
    """Compile ``code`` for the emulator into ``work/emulated.so``; returns {kernel: max
    threads per block from __launch_bounds__, or None}."""
    cxx = shutil.which("g++")
    (work / "kernel.cu").write_text(code, encoding="utf-8")
    (work / "scan.cpp").write_text('#include "cuda_emul.h"\n#include "kernel.cu"\n')
    base = [cxx, *CXXFLAGS, f"-I{SHIM.parent}", *flags]
    text = _gxx([*base, "-DUQO_EMUL_SCAN", "-E", "-P", str(work / "scan.cpp")],
                "preprocessing the CUDA source")
    kernels = {name: _max_threads(bounds) for bounds, name in _KERNEL.findall(text)}
    unit = '#include "cuda_emul.h"\n#include "kernel.cu"\n' + "".join(
        _TRAMPOLINE.format(name) for name in kernels)
    (work / "emulated.cpp").write_text(unit)
    tmp = work / f"emulated.{os.getpid()}.so"
    _gxx([*base, str(work / "emulated.cpp"), "-o", str(tmp)], "compiling the CUDA source "
         "for the host emulator")
    os.replace(tmp, work / "emulated.so")
    (work / "kernels.json").write_text(json.dumps(kernels))
    return kernels


def _max_threads(bounds: str):
    first = bounds.split(",")[0].strip()
    try:
        return int(first, 0) if first else None
    except ValueError:
        return None


class RawModule:
    """``cupy.RawModule`` for the emulator: compiled once per source + options (cached)."""

    def __init__(self, device: FakeDevice, code: str, options=(), name_expressions=None,
                 backend="nvrtc"):
        if name_expressions:
            raise Unsupported("fakecupy emulates extern \"C\" kernels only")
        flags = _compile_flags(options)
        key = hashlib.sha256("\0".join([code, *flags, *CXXFLAGS, SHIM.read_text(),
                                        _TRAMPOLINE]).encode()).hexdigest()[:20]
        work = device.cache_dir / key
        if (work / "emulated.so").exists() and (work / "kernels.json").exists():
            kernels = json.loads((work / "kernels.json").read_text())
        else:
            work.mkdir(parents=True, exist_ok=True)
            kernels = _build(work, code, flags)
        self.device, self.kernels = device, kernels
        self._lib = ctypes.CDLL(str(work / "emulated.so"))
        self._lib.uqo_emul_error.restype = ctypes.c_char_p

    def get_function(self, name: str) -> RawFunction:
        if name not in self.kernels:
            raise CUDADriverError(f"CUDA_ERROR_NOT_FOUND: named symbol not found: {name} "
                                  f"(kernels: {sorted(self.kernels)})")
        return RawFunction(self, name)


class RawFunction:
    """A kernel: ``kernel(grid, block, args)`` runs it under the emulator."""

    def __init__(self, module: RawModule, name: str):
        self.module, self.name = module, name
        self.max_threads = module.kernels[name]
        lib = module._lib
        self._launch = getattr(lib, f"uqo_emul_launch_{name}")
        self._launch.restype = ctypes.c_int
        sig = getattr(lib, f"uqo_emul_signature_{name}")
        sig.restype = ctypes.c_char_p
        self.signature = tuple(sig().decode().split())

    def __call__(self, grid, block, args, *, shared_mem=0, stream=None):
        dev = self.module.device
        grid3, block3 = _dim3(grid, "grid"), _dim3(block, "block")
        if shared_mem:
            raise Unsupported("fakecupy does not emulate dynamic shared memory")
        threads = math.prod(block3)
        if self.max_threads is not None and threads > self.max_threads:
            raise CUDADriverError(f"CUDA_ERROR_INVALID_VALUE (emulated): {threads} threads per "
                                  f"block, but {self.name} has __launch_bounds__("
                                  f"{self.max_threads})")
        dev.check("launch", self.name)
        slots = self._marshal(tuple(args))
        ptrs = (ctypes.c_void_p * max(len(self.signature), 1))(
            *(ctypes.addressof(slots) + SLOT * i for i in range(len(self.signature))))
        schedule = dev.schedule
        schedule = SCHEDULES[schedule] if isinstance(schedule, str) else 2 + int(schedule)
        with _LAUNCH_LOCK:
            rc = self._launch((ctypes.c_uint * 3)(*grid3), (ctypes.c_uint * 3)(*block3), ptrs,
                              ctypes.c_int(schedule))
            error = self.module._lib.uqo_emul_error().decode()
        dev.launches.append((self.name, grid3, block3))
        if rc != 0:
            raise CUDADriverError(f"CUDA_ERROR_LAUNCH_FAILED (emulated): {self.name}: {error}")
        dev.check_guards(self.name)

    def _marshal(self, args: tuple):
        if len(args) != len(self.signature):
            raise TypeError(f"{self.name} takes {len(self.signature)} arguments "
                            f"({' '.join(self.signature)}), got {len(args)}")
        slots = (ctypes.c_ubyte * (SLOT * max(len(args), 1)))(*([POISON] * SLOT * len(args)))
        for i, (arg, want) in enumerate(zip(args, self.signature)):
            raw, got = _arg_bytes(arg)
            if got != want and self.module.device.strict_args:
                raise TypeError(f"{self.name} argument {i}: the kernel takes "
                                f"{_C_TYPES.get(want, want)}, got {_C_TYPES.get(got, got)} "
                                f"({type(arg).__name__}); on a GPU this is read as garbage")
            ctypes.memmove(ctypes.addressof(slots) + SLOT * i, raw, min(len(raw), SLOT))
        return slots


def _arg_bytes(arg) -> tuple[bytes, str]:
    if isinstance(arg, ndarray):
        return struct.pack("<Q", arg.data.ptr), "p"
    if isinstance(arg, np.ndarray):
        raise TypeError(f"Unsupported type {type(arg)}: a host array cannot be a kernel "
                        "argument (cupy.asarray it first)")
    if isinstance(arg, bool):
        arg = np.bool_(arg)
    elif isinstance(arg, int):
        arg = np.int64(arg)
    elif isinstance(arg, float):
        arg = np.float64(arg)
    if not isinstance(arg, np.generic) or arg.dtype.kind not in "biuf":
        raise TypeError(f"Unsupported type {type(arg)} for a kernel argument")
    return arg.tobytes(), f"{arg.dtype.kind}{arg.dtype.itemsize}"


def _dim3(value, what: str) -> tuple[int, int, int]:
    dims = (value,) if isinstance(value, int) else tuple(value)
    if not 1 <= len(dims) <= 3 or not all(isinstance(d, int) and d >= 0 for d in dims):
        raise ValueError(f"{what} must be 1 to 3 non-negative ints, got {value!r}")
    return tuple(dims) + (1,) * (3 - len(dims))


# --- the module -----------------------------------------------------------------------------------

class _Stream:
    def synchronize(self) -> None:
        """Launches run to completion on the host: nothing is pending."""


def fake_cupy(cache_dir, schedule="forward", strict_args: bool = True) -> types.ModuleType:
    """A fresh fake ``cupy`` module on a new ``FakeDevice`` (``module.device``)."""
    dev = FakeDevice(cache_dir, schedule, strict_args)
    mod = types.ModuleType("cupy", __doc__)

    def rawmodule(code, options=(), name_expressions=None, backend="nvrtc"):
        return RawModule(dev, code, options, name_expressions, backend)

    mod.__dict__.update(
        device=dev, ndarray=ndarray, RawModule=rawmodule,
        is_available=lambda: True,
        asarray=lambda a, dtype=None, order=None: _asarray(dev, a, dtype, order),
        array=lambda obj, dtype=None, copy=True, order="K": _array(dev, obj, dtype, copy, order),
        empty=lambda shape, dtype=float, order="C": _filled(dev, None, shape, dtype, order),
        zeros=lambda shape, dtype=float, order="C": _filled(dev, 0, shape, dtype, order),
        ones=lambda shape, dtype=float, order="C": _filled(dev, 1, shape, dtype, order),
        ascontiguousarray=lambda a, dtype=None: _ascontiguousarray(dev, a, dtype),
        stack=lambda arrays, axis=0: _stack(dev, arrays, axis),
        float32=np.float32, float64=np.float64, complex64=np.complex64, uint8=np.uint8,
        int32=np.int32, int64=np.int64,
        cuda=types.SimpleNamespace(
            runtime=types.SimpleNamespace(getDevice=lambda: 0, getDeviceCount=lambda: 1),
            get_current_stream=_Stream,
            compiler=types.SimpleNamespace(CompileException=CompileException),
            driver=types.SimpleNamespace(CUDADriverError=CUDADriverError),
            memory=types.SimpleNamespace(OutOfMemoryError=OutOfMemoryError)),
    )
    return mod
