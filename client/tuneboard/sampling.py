"""Host resource readings: CPU, temperature, RAM, swap, disk, network and NVIDIA GPUs.

Pure Python with no Django import: `manage.py sample_resources` and the stdlib client's
remote host agent both build their samples here, so a reading is computed one way.
`psutil` and `pynvml` (nvidia-ml-py) are imported lazily; without `pynvml`, or without
an NVIDIA driver, samples simply carry no GPU readings. Without `psutil` on Linux, the
same readings come from `/proc` and `/sys` (`ProcStats`), so the stdlib-only client
samples its host too; elsewhere `HostSampler` then raises ImportError.

A sample is a plain dict whose keys are the fields of `monitoring.ResourceSample`:
`time` (Unix seconds), `cpu_percent`, `cpu_per_core`, `cpu_temp`, `ram_used`,
`ram_total`, `swap_used`, `swap_total`, `disk_used`, `disk_total`, `disk_read_rate`,
`disk_write_rate`, `net_rx_rate`, `net_tx_rate` (bytes/s) and `gpus`, a list of
`{index, name, util, mem_used, mem_total, temp, power, power_limit}` (power in W).
A reading that cannot be taken is None; sampling itself never raises.
"""

import json
import logging
import os
import sys
import time
from types import SimpleNamespace

logger = logging.getLogger(__name__)

# Temperatures come from many sysfs files and change slowly: read them this rarely.
SLOW_READING_SECONDS = 10.0
# How long to wait before trying NVML again after it failed.
NVML_RETRY_SECONDS = 60.0

# Temperature chips that measure the CPU package, most specific first.
_CPU_CHIPS = (
    "coretemp",
    "k10temp",
    "zenpower",
    "cpu_thermal",
    "cpu-thermal",
    "soc_thermal",
    "cpu",
    "acpitz",
)
_PACKAGE_LABELS = ("package id", "tctl", "tdie", "cpu")


class CounterRates:
    """Per-second rates of monotonically growing byte counters, keyed by device.

    A device seen for the first time contributes nothing (its history is unknown). A
    counter that went backwards was reset (driver reload, device re-plugged): the bytes
    since the reset are its new value, so that is what the interval is credited with.
    Rates are therefore never negative.
    """

    def __init__(self, width):
        self.width = width
        self._last = None  # (monotonic time, {device: (counter, ...)})

    def update(self, now, counters):
        """Feed `{device: (a, b, ...)}`; returns the summed rates `(a/s, b/s, ...)`,
        or None on the first call (no interval yet)."""
        previous, self._last = self._last, (now, counters)
        if previous is None:
            return None
        elapsed = now - previous[0]
        if elapsed <= 0:
            return None
        totals = [0] * self.width
        for device, values in counters.items():
            old = previous[1].get(device)
            if old is None:
                continue
            for i, (new_value, old_value) in enumerate(zip(values, old, strict=False)):
                totals[i] += new_value - old_value if new_value >= old_value else new_value
        return tuple(total / elapsed for total in totals)


def _nvml_text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class NvmlReader:
    """GPU readings through an NVML binding module (production: the real `pynvml`).

    The module is a constructor argument so that tests can hand in a test double; the
    class only uses the functions and `NVMLError*` classes `pynvml` itself exposes.
    When NVML cannot start or fails mid-run (no driver, library not found, GPU lost, …)
    one clear line is logged, `read()` returns [] and initialisation is retried every
    `retry_seconds`. A single unsupported reading (e.g. power on some boards) is None.
    """

    # Errors that concern one reading of one GPU, not NVML as a whole.
    _FIELD_ERRORS = ("NVMLError_NotSupported", "NVMLError_NoPermission", "NVMLError_NoData")

    def __init__(
        self, module, *, retry_seconds=NVML_RETRY_SECONDS, clock=time.monotonic, quiet=False
    ):
        self.nvml = module
        self.retry_seconds = retry_seconds
        self.clock = clock
        self._handles = None  # [(index, handle, name)] while NVML is up
        self._next_attempt = 0.0
        self._failing = False
        self._slow = {}  # index -> (monotonic time, power_limit)
        if module is None:
            if not quiet:
                logger.info("pynvml (nvidia-ml-py) is not installed: sampling without GPU readings")
            self._field_errors = ()
        else:
            base = getattr(module, "NVMLError", Exception)
            self._field_errors = tuple(
                getattr(module, name) for name in self._FIELD_ERRORS if hasattr(module, name)
            ) or (base,)

    @property
    def available(self):
        return self._handles is not None

    def _start(self):
        nvml = self.nvml
        nvml.nvmlInit()
        try:
            handles = []
            for index in range(nvml.nvmlDeviceGetCount()):
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
                handles.append((index, handle, _nvml_text(nvml.nvmlDeviceGetName(handle))))
        except Exception:
            self._shutdown()
            raise
        self._handles = handles
        if self._failing:
            logger.warning("NVML is back: reading %d GPU(s) again", len(handles))
        self._failing = False

    def _shutdown(self):
        self._handles = None
        try:
            self.nvml.nvmlShutdown()
        except Exception:  # shutting down a broken NVML may itself fail; nothing to do
            logger.debug("nvmlShutdown failed", exc_info=True)

    def _fail(self, exc, *, during):
        self._shutdown()
        self._next_attempt = self.clock() + self.retry_seconds
        if not self._failing:
            logger.warning(
                "NVML %s failed (%s: %s): sampling without GPU readings, retrying every %d s",
                during,
                type(exc).__name__,
                exc,
                self.retry_seconds,
            )
        self._failing = True

    def _field(self, func, *args):
        try:
            return func(*args)
        except self._field_errors:
            return None

    def read(self):
        """One reading per GPU, or [] when NVML is unavailable; never raises."""
        if self.nvml is None:
            return []
        nvml = self.nvml
        if self._handles is None:
            if self.clock() < self._next_attempt:
                return []
            try:
                self._start()
            except Exception as exc:
                self._fail(exc, during="initialisation")
                return []
        now = self.clock()
        gpus = []
        try:
            for index, handle, name in self._handles:
                util = self._field(nvml.nvmlDeviceGetUtilizationRates, handle)
                memory = self._field(nvml.nvmlDeviceGetMemoryInfo, handle)
                temp = self._field(
                    nvml.nvmlDeviceGetTemperature, handle, getattr(nvml, "NVML_TEMPERATURE_GPU", 0)
                )
                power = self._field(nvml.nvmlDeviceGetPowerUsage, handle)
                cached = self._slow.get(index)
                if cached is None or now - cached[0] >= SLOW_READING_SECONDS:
                    limit = self._field(nvml.nvmlDeviceGetEnforcedPowerLimit, handle)
                    cached = self._slow[index] = (now, limit)
                limit = cached[1]
                gpus.append(
                    {
                        "index": index,
                        "name": name,
                        "util": float(util.gpu) if util is not None else None,
                        "mem_used": int(memory.used) if memory is not None else None,
                        "mem_total": int(memory.total) if memory is not None else None,
                        "temp": float(temp) if temp is not None else None,
                        # NVML reports milliwatts.
                        "power": power / 1000.0 if power is not None else None,
                        "power_limit": limit / 1000.0 if limit is not None else None,
                    }
                )
        except Exception as exc:  # GPU lost, driver unloaded, …: drop NVML, try again later
            self._fail(exc, during="reading")
            return []
        return gpus

    def close(self):
        if self._handles is not None:
            self._shutdown()


def nvml_reader():
    """An `NvmlReader` over the real `pynvml`, or over nothing when it is not installed."""
    try:
        import pynvml
    except ImportError:
        pynvml = None
    return NvmlReader(pynvml)


class ProcStats:
    """The part of psutil's API `HostSampler` uses, read from Linux's /proc and /sys.

    For hosts without psutil (the client is standard library only): CPU use per core
    from `/proc/stat`, memory and swap from `/proc/meminfo`, disk usage from `statvfs`,
    disk and network byte counters from `/proc/diskstats` and `/proc/net/dev`, CPU
    temperatures from `/sys/class/hwmon`. Values mean what psutil's mean.
    """

    SECTOR_BYTES = 512  # /proc/diskstats counts 512-byte sectors whatever the device

    def __init__(self, root="/proc", sys_root="/sys"):
        self.root = root
        self.sys_root = sys_root
        self._last_cpu = None

    @classmethod
    def available(cls, root="/proc"):
        return os.path.exists(os.path.join(root, "stat"))

    def _read(self, *parts):
        with open(os.path.join(*parts), encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def _cpu_times(self):
        cores = []
        for line in self._read(self.root, "stat").splitlines():
            name, _, rest = line.partition(" ")
            if name.startswith("cpu") and name != "cpu":
                values = [int(v) for v in rest.split()]
                # user nice system idle iowait irq softirq steal (guest is within user)
                busy = sum(values[:3]) + sum(values[5:8])
                idle = sum(values[3:5])
                cores.append((busy, busy + idle))
        return cores

    def cpu_percent(self, interval=None, percpu=True):
        """Per-core busy percentages since the previous call (like psutil's)."""
        now = self._cpu_times()
        last, self._last_cpu = self._last_cpu, now
        if last is None or len(last) != len(now):
            last = [(0, 0)] * len(now)
        percents = []
        for (busy, total), (old_busy, old_total) in zip(now, last, strict=True):
            elapsed = total - old_total
            percents.append(100.0 * (busy - old_busy) / elapsed if elapsed > 0 else 0.0)
        return percents if percpu else sum(percents) / max(1, len(percents))

    def _meminfo(self):
        info = {}
        for line in self._read(self.root, "meminfo").splitlines():
            key, _, value = line.partition(":")
            parts = value.split()
            if parts:
                info[key] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
        return info

    def virtual_memory(self):
        info = self._meminfo()
        total = info["MemTotal"]
        available = info.get("MemAvailable")
        if available is None:  # kernels before 3.14
            available = info.get("MemFree", 0) + info.get("Buffers", 0) + info.get("Cached", 0)
        return SimpleNamespace(total=total, available=available, used=total - available)

    def swap_memory(self):
        info = self._meminfo()
        total = info.get("SwapTotal", 0)
        return SimpleNamespace(total=total, used=total - info.get("SwapFree", 0))

    def disk_usage(self, path):
        st = os.statvfs(path)
        total = st.f_blocks * st.f_frsize
        # psutil: used = total - free, where free counts the blocks root may still use.
        return SimpleNamespace(total=total, used=(st.f_blocks - st.f_bfree) * st.f_frsize)

    def disk_io_counters(self, perdisk=True):
        disks = {}
        for line in self._read(self.root, "diskstats").splitlines():
            fields = line.split()
            if len(fields) >= 10:
                disks[fields[2]] = SimpleNamespace(
                    read_bytes=int(fields[5]) * self.SECTOR_BYTES,
                    write_bytes=int(fields[9]) * self.SECTOR_BYTES,
                )
        return disks

    def net_io_counters(self, pernic=True):
        nics = {}
        for line in self._read(self.root, "net", "dev").splitlines()[2:]:
            name, _, rest = line.partition(":")
            fields = rest.split()
            if len(fields) >= 9:
                nics[name.strip()] = SimpleNamespace(
                    bytes_recv=int(fields[0]), bytes_sent=int(fields[8])
                )
        return nics

    def net_if_stats(self):
        return {}  # loopback interfaces are then recognised by name ("lo")

    def sensors_temperatures(self):
        chips = {}
        base = os.path.join(self.sys_root, "class", "hwmon")
        try:
            entries = sorted(os.listdir(base))
        except OSError:
            return chips
        for entry in entries:
            folder = os.path.join(base, entry)
            try:
                name = self._read(folder, "name").strip()
                files = os.listdir(folder)
            except OSError:
                continue
            for file in sorted(files):
                if not (file.startswith("temp") and file.endswith("_input")):
                    continue
                try:
                    current = int(self._read(folder, file).strip()) / 1000.0
                except (OSError, ValueError):
                    continue
                try:
                    label = self._read(folder, file.replace("_input", "_label")).strip()
                except OSError:
                    label = ""
                chips.setdefault(name, []).append(SimpleNamespace(label=label, current=current))
        return chips


def psutil_or_proc():
    """`psutil` when installed, else `ProcStats` on Linux; ImportError otherwise."""
    try:
        import psutil
    except ImportError:
        if ProcStats.available():
            return ProcStats()
        raise ImportError(
            "psutil is not installed and /proc is not available: pip install psutil"
        ) from None
    return psutil


class HostSampler:
    """Takes samples of this host. Keep one instance: rates and CPU percentages are
    deltas since the previous `sample()` (the first one after construction measures
    from construction time).

    `psutil`: the module to read the host with (default: `psutil_or_proc()`, so a host
    without psutil is read through /proc)."""

    def __init__(self, *, nvml=None, disk_path="/", clock=time.monotonic, psutil=None):
        if psutil is None:
            psutil = psutil_or_proc()
        self.psutil = psutil
        self.nvml = nvml if nvml is not None else nvml_reader()
        self.disk_path = str(disk_path)
        self.clock = clock
        self._disk_rates = CounterRates(2)
        self._net_rates = CounterRates(2)
        self._slow_at = None
        self._cpu_temp = None
        self._loopback = set()
        self._disks = None
        # psutil measures CPU use between calls: this first call sets the baseline.
        psutil.cpu_percent(interval=None, percpu=True)
        self._counters(clock())

    # -- readings that change slowly ------------------------------------------------

    def _refresh_slow(self, now):
        if self._slow_at is not None and now - self._slow_at < SLOW_READING_SECONDS:
            return
        self._slow_at = now
        self._cpu_temp = self._read_cpu_temp()
        try:
            stats = self.psutil.net_if_stats()
            self._loopback = {
                nic for nic, st in stats.items() if "loopback" in (getattr(st, "flags", "") or "")
            }
        except Exception:
            self._loopback = set()
        # Whole disks only: counting partitions as well would count every byte twice.
        try:
            self._disks = set(os.listdir("/sys/block"))
        except OSError:
            self._disks = None

    def _read_cpu_temp(self):
        read = getattr(self.psutil, "sensors_temperatures", None)
        if read is None:
            return None
        try:
            chips = read()
        except Exception:
            return None
        for chip in _CPU_CHIPS:
            entries = [e for e in chips.get(chip, []) if e.current is not None and e.current > 0]
            if not entries:
                continue
            for entry in entries:
                if (entry.label or "").lower().startswith(_PACKAGE_LABELS):
                    return float(entry.current)
            return float(max(e.current for e in entries))
        return None

    # -- counters -------------------------------------------------------------------

    def _is_loopback(self, nic):
        return nic in self._loopback or nic == "lo" or nic.startswith("lo0")

    def _counters(self, now):
        self._refresh_slow(now)
        try:
            disks = self.psutil.disk_io_counters(perdisk=True) or {}
            disk = {
                name: (c.read_bytes, c.write_bytes)
                for name, c in disks.items()
                if self._disks is None or name in self._disks
            }
            disk_rate = self._disk_rates.update(now, disk)
        except Exception:
            disk_rate = None
        try:
            nics = self.psutil.net_io_counters(pernic=True) or {}
            net = {
                nic: (c.bytes_recv, c.bytes_sent)
                for nic, c in nics.items()
                if not self._is_loopback(nic)
            }
            net_rate = self._net_rates.update(now, net)
        except Exception:
            net_rate = None
        return disk_rate, net_rate

    # -- one sample -----------------------------------------------------------------

    def sample(self):
        """One sample dict of this host (see the module docstring); never raises."""
        psutil = self.psutil
        now = self.clock()
        sample = {"time": time.time()}
        try:
            per_core = psutil.cpu_percent(interval=None, percpu=True)
            sample["cpu_per_core"] = [min(100.0, max(0.0, float(c))) for c in per_core]
            sample["cpu_percent"] = (
                sum(sample["cpu_per_core"]) / len(per_core) if per_core else None
            )
        except Exception:
            sample["cpu_percent"], sample["cpu_per_core"] = None, []
        disk_rate, net_rate = self._counters(now)
        sample["cpu_temp"] = self._cpu_temp
        try:
            memory = psutil.virtual_memory()
            # total - available is what a person means by "used" on every platform.
            sample["ram_used"] = int(memory.total - memory.available)
            sample["ram_total"] = int(memory.total)
        except Exception:
            sample["ram_used"] = sample["ram_total"] = None
        try:
            swap = psutil.swap_memory()
            sample["swap_used"], sample["swap_total"] = int(swap.used), int(swap.total)
        except Exception:
            sample["swap_used"] = sample["swap_total"] = None
        try:
            usage = psutil.disk_usage(self.disk_path)
            sample["disk_used"], sample["disk_total"] = int(usage.used), int(usage.total)
        except Exception:
            sample["disk_used"] = sample["disk_total"] = None
        sample["disk_read_rate"], sample["disk_write_rate"] = disk_rate or (None, None)
        sample["net_rx_rate"], sample["net_tx_rate"] = net_rate or (None, None)
        sample["gpus"] = self.nvml.read()
        return sample

    def close(self):
        self.nvml.close()


def main(argv=None):
    """`python -m tuneboard.sampling [seconds]`: print one sample as JSON."""
    argv = sys.argv[1:] if argv is None else argv
    window = float(argv[0]) if argv else 0.5
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    sampler = HostSampler()
    time.sleep(window)
    print(json.dumps(sampler.sample(), indent=2))
    sampler.close()


if __name__ == "__main__":
    main()
