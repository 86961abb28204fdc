"""Peak bytes of CPU tensor memory over a block of code: the CPU counterpart of torch.cuda.max_memory_allocated.

The process's peak resident set also counts the allocator's retained and fragmented pages, which vary from
run to run; the bytes the tensors themselves hold do not. They are read from the profiler's allocation
events (`profile_memory=True`: every block c10's CPU allocator hands out or takes back while profiling,
operators' internal buffers included), summed in time order.
"""
from __future__ import annotations

from collections.abc import Iterable

import torch
from torch._C._autograd import DeviceType
from torch.profiler import ProfilerActivity, profile

__all__ = ["CPUTensorMemory", "peak_and_net", "state_bytes"]


class CPUTensorMemory:
    """Context manager: `peak_increase_bytes` and `net_bytes` of CPU tensor memory allocated inside it.

    Blocks allocated before entering and freed inside are not seen (the allocator reports no size for
    them), so the peak is never under-counted. Run the block with nothing else allocating in the process.
    """

    def __init__(self) -> None:
        self._profile = profile(activities=[ProfilerActivity.CPU], profile_memory=True)
        self.peak_increase_bytes = 0
        self.net_bytes = 0

    def __enter__(self) -> CPUTensorMemory:
        self._profile.__enter__()
        return self

    def __exit__(self, *exc_info) -> None:
        self._profile.__exit__(*exc_info)
        results = getattr(self._profile.profiler, "kineto_results", None)
        if results is None:
            raise RuntimeError(
                "this torch's profiler exposes no allocation events (profiler.kineto_results); "
                "CPU tensor memory cannot be measured with it"
            )
        events = sorted(
            (e for e in results.events() if e.name() == "[memory]" and e.device_type() == DeviceType.CPU),
            key=lambda e: e.start_ns(),
        )
        self.peak_increase_bytes, self.net_bytes = peak_and_net(e.nbytes() for e in events)


def peak_and_net(deltas: Iterable[int]) -> tuple[int, int]:
    """The highest running sum of signed allocation sizes (at least 0, the start) and the final sum."""
    live = peak = 0
    for delta in deltas:
        live += delta
        peak = max(peak, live)
    return peak, live


def state_bytes(tensors: Iterable[torch.Tensor]) -> int:
    """Bytes held by the distinct storages of `tensors` (shared and tied tensors counted once)."""
    storages = {}
    for tensor in tensors:
        storage = tensor.untyped_storage()
        storages[(storage.device, storage.data_ptr())] = storage.nbytes()
    return sum(storages.values())
