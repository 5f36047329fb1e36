"""GPU telemetry through NVML (nvidia-ml-py): utilisation, memory, temperature, power.

Use cases::

    snap = gpu_telemetry()          # {"available": bool, "reason": str, "devices": [...]}
    for dev in snap["devices"]:
        dev["name"], dev["util_gpu_pct"], dev["mem_used_bytes"], dev["power_w"]

Absent NVML (no package, no driver, no GPU) is a result, not an error: ``available`` is False
and ``reason`` says why. Each call opens and closes NVML (``nvmlInit``/``nvmlShutdown`` in
pairs), so nothing is held between calls; the control plane can export these fields as gauges.
"""

from __future__ import annotations


def _device(pynvml, i: int) -> dict:
    h = pynvml.nvmlDeviceGetHandleByIndex(i)
    util = pynvml.nvmlDeviceGetUtilizationRates(h)
    mem = pynvml.nvmlDeviceGetMemoryInfo(h)
    name = pynvml.nvmlDeviceGetName(h)
    return {
        "index": i,
        "name": name.decode() if isinstance(name, bytes) else str(name),
        "util_gpu_pct": int(util.gpu), "util_mem_pct": int(util.memory),
        "mem_used_bytes": int(mem.used), "mem_total_bytes": int(mem.total),
        "temperature_c": int(pynvml.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU)),
        "power_w": pynvml.nvmlDeviceGetPowerUsage(h) / 1000.0,
    }


def gpu_telemetry() -> dict:
    """One snapshot of every visible GPU, or ``available: False`` with the reason."""
    try:
        import pynvml
    except ImportError:
        return {"available": False, "reason": "nvidia-ml-py is not installed "
                "(pip install 'uqo[gpu]')", "devices": []}
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        return {"available": False, "reason": f"NVML could not start: {exc}", "devices": []}
    try:
        driver = pynvml.nvmlSystemGetDriverVersion()
        devices = [_device(pynvml, i) for i in range(pynvml.nvmlDeviceGetCount())]
        return {"available": True, "reason": "ok",
                "driver": driver.decode() if isinstance(driver, bytes) else str(driver),
                "devices": devices}
    except pynvml.NVMLError as exc:
        return {"available": False, "reason": f"NVML query failed: {exc}", "devices": []}
    finally:
        pynvml.nvmlShutdown()
