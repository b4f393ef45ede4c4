"""The sampling module: real readings of this machine, and NVML through test doubles."""

import logging
import time
from types import SimpleNamespace

import psutil
import pynvml
from tuneboard.sampling import CounterRates, HostSampler, NvmlReader, nvml_reader

# -- NVML test doubles ------------------------------------------------------------------
# They expose the functions NvmlReader calls, with pynvml's real error classes, so
# the reader's handling is exercised exactly as it runs against the real library.


class FakeNvmlBase:
    NVMLError = pynvml.NVMLError
    NVMLError_NotSupported = pynvml.NVMLError_NotSupported
    NVMLError_NoPermission = pynvml.NVMLError_NoPermission
    NVMLError_NoData = pynvml.NVMLError_NoData
    NVML_TEMPERATURE_GPU = pynvml.NVML_TEMPERATURE_GPU

    def __init__(self):
        self.init_calls = 0
        self.shutdown_calls = 0

    def nvmlInit(self):
        self.init_calls += 1

    def nvmlShutdown(self):
        self.shutdown_calls += 1


class FakeNvmlWithoutLibrary(FakeNvmlBase):
    """A host without the NVIDIA driver: NVML's shared library cannot be found."""

    def nvmlInit(self):
        super().nvmlInit()
        raise pynvml.NVMLError_LibraryNotFound()


class FakeNvmlTwoGpus(FakeNvmlBase):
    """Two H100s; power in milliwatts as NVML reports it."""

    GPUS = [
        {
            "name": "NVIDIA H100 80GB HBM3",
            "util": 97,
            "used": 61 * 2**30,
            "temp": 71,
            "mw": 612_500,
        },
        {"name": "NVIDIA H100 80GB HBM3", "util": 12, "used": 3 * 2**30, "temp": 44, "mw": 98_000},
    ]

    def __init__(self, *, unsupported_power=False):
        super().__init__()
        self.unsupported_power = unsupported_power
        self.lose_gpu = False

    def nvmlDeviceGetCount(self):
        return len(self.GPUS)

    def nvmlDeviceGetHandleByIndex(self, index):
        return index

    def nvmlDeviceGetName(self, handle):
        return self.GPUS[handle]["name"]

    def nvmlDeviceGetUtilizationRates(self, handle):
        if self.lose_gpu:
            raise pynvml.NVMLError_GpuIsLost()
        return SimpleNamespace(gpu=self.GPUS[handle]["util"], memory=40)

    def nvmlDeviceGetMemoryInfo(self, handle):
        return SimpleNamespace(used=self.GPUS[handle]["used"], total=80 * 2**30, free=0)

    def nvmlDeviceGetTemperature(self, handle, sensor):
        assert sensor == pynvml.NVML_TEMPERATURE_GPU
        return self.GPUS[handle]["temp"]

    def nvmlDeviceGetPowerUsage(self, handle):
        if self.unsupported_power:
            raise pynvml.NVMLError_NotSupported()
        return self.GPUS[handle]["mw"]

    def nvmlDeviceGetEnforcedPowerLimit(self, handle):
        return 700_000


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


# -- real readings ----------------------------------------------------------------------


def test_a_real_sample_of_this_machine_has_plausible_values():
    sampler = HostSampler(nvml=nvml_reader())
    time.sleep(0.2)  # CPU use and rates are measured over an interval
    sample = sampler.sample()

    cores = psutil.cpu_count()
    assert 0 <= sample["cpu_percent"] <= 100 * cores
    assert len(sample["cpu_per_core"]) == cores
    assert all(0 <= c <= 100 for c in sample["cpu_per_core"])
    assert sample["ram_total"] == psutil.virtual_memory().total
    assert 0 < sample["ram_used"] <= sample["ram_total"]
    assert 0 < sample["disk_used"] <= sample["disk_total"]
    for rate in ("disk_read_rate", "disk_write_rate", "net_rx_rate", "net_tx_rate"):
        assert sample[rate] is not None and sample[rate] >= 0, rate
    assert sample["cpu_temp"] is None or -50 < sample["cpu_temp"] < 150
    assert isinstance(sample["gpus"], list)
    assert abs(sample["time"] - time.time()) < 5


def test_counter_rates_are_never_negative_across_a_counter_reset():
    rates = CounterRates(2)
    assert rates.update(0.0, {"eth0": (1_000, 500)}) is None
    assert rates.update(2.0, {"eth0": (5_000, 1_500)}) == (2_000.0, 500.0)
    # The driver was reloaded: the counter restarted from zero and is now at 300/100.
    assert rates.update(3.0, {"eth0": (300, 100)}) == (300.0, 100.0)
    # A device that just appeared adds nothing: its history is unknown.
    assert rates.update(4.0, {"eth0": (400, 100), "eth1": (10**12, 10**12)}) == (100.0, 0.0)


# -- NVML through test doubles ------------------------------------------------------------


def test_without_the_nvml_library_sampling_continues_without_gpu_readings(caplog):
    clock = FakeClock()
    fake = FakeNvmlWithoutLibrary()
    sampler = HostSampler(nvml=NvmlReader(fake, retry_seconds=60, clock=clock))
    with caplog.at_level(logging.WARNING, logger="tuneboard.sampling"):
        first = sampler.sample()
        second = sampler.sample()

    for sample in (first, second):
        assert sample["gpus"] == []
        assert sample["ram_total"] == psutil.virtual_memory().total
        assert sample["cpu_percent"] is not None
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    assert "NVMLError_LibraryNotFound" in warnings[0]
    assert "without GPU readings" in warnings[0]
    assert fake.init_calls == 1  # no retry before the retry interval

    clock.now += 61
    sampler.sample()
    assert fake.init_calls == 2  # retried once the interval passed


def test_two_gpus_are_both_read_with_power_in_watts():
    reader = NvmlReader(FakeNvmlTwoGpus())
    gpus = reader.read()

    assert [g["index"] for g in gpus] == [0, 1]
    first, second = gpus
    assert first == {
        "index": 0,
        "name": "NVIDIA H100 80GB HBM3",
        "util": 97.0,
        "mem_used": 61 * 2**30,
        "mem_total": 80 * 2**30,
        "temp": 71.0,
        "power": 612.5,
        "power_limit": 700.0,
    }
    assert second["util"] == 12.0 and second["power"] == 98.0


def test_a_reading_the_gpu_does_not_support_is_none():
    gpus = NvmlReader(FakeNvmlTwoGpus(unsupported_power=True)).read()
    assert [g["power"] for g in gpus] == [None, None]
    assert [g["util"] for g in gpus] == [97.0, 12.0]


def test_a_gpu_lost_mid_run_drops_gpu_readings_until_nvml_is_back(caplog):
    clock = FakeClock()
    fake = FakeNvmlTwoGpus()
    reader = NvmlReader(fake, retry_seconds=60, clock=clock)
    assert len(reader.read()) == 2

    fake.lose_gpu = True
    with caplog.at_level(logging.WARNING, logger="tuneboard.sampling"):
        assert reader.read() == []
        clock.now += 10
        assert reader.read() == []
    assert fake.shutdown_calls == 1
    assert len(caplog.records) == 1
    assert "NVMLError_GpuIsLost" in caplog.records[0].getMessage()

    fake.lose_gpu = False
    clock.now += 60
    assert len(reader.read()) == 2
    assert fake.init_calls == 2


def test_without_pynvml_installed_there_are_no_gpu_readings():
    assert NvmlReader(None).read() == []


def test_back_to_back_samples_never_raise():
    sampler = HostSampler(nvml=NvmlReader(None))
    sampler.sample()
    sample = sampler.sample()
    assert sample["ram_total"] > 0
