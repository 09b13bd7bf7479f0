"""DH5 against raw h5py (and dh5 0.8.1 when importable). Prints ratios; best of a few repeats."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

from labmate_core.dh5 import DH5

try:
    import dh5 as old_dh5
except ImportError:  # pragma: no cover
    old_dh5 = None

REPEATS = 3


def best(func: Callable[[], object], setup: Callable[[], object] | None = None) -> float:
    """Best wall time of ``func`` over REPEATS runs (``setup`` runs untimed before each)."""
    times = []
    for _ in range(REPEATS):
        if setup is not None:
            setup()
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def _clean(directory: Path) -> None:
    for entry in directory.iterdir():
        entry.unlink()


def bench_bulk_write(tmp: Path) -> None:
    arrays = {f"a{i}": np.random.default_rng(i).random(10 * 2**20 // 8) for i in range(10)}
    path = tmp / "bulk.h5"

    def ours() -> None:
        d = DH5(path, "w")
        d.update(arrays)
        d.save()

    def raw() -> None:
        with h5py.File(path, "w") as f:
            for key, value in arrays.items():
                f.create_dataset(key, data=value)

    def theirs() -> None:
        d = old_dh5.DH5(str(path), "w")
        d.update(**arrays)
        d.save()

    t_ours = best(ours, lambda: _clean(tmp))
    t_raw = best(raw, lambda: _clean(tmp))
    line = f"bulk write 100 MB / 10 arrays: DH5 {t_ours * 1e3:.0f} ms, h5py {t_raw * 1e3:.0f} ms"
    line += f", ratio DH5/h5py {t_ours / t_raw:.2f}"
    if old_dh5 is not None:
        t_old = best(theirs, lambda: _clean(tmp))
        line += f", dh5 0.8.1 {t_old * 1e3:.0f} ms, ratio DH5/dh5 {t_ours / t_old:.2f}"
    print(line)
    _clean(tmp)


def bench_single_key_saves(tmp: Path, count: int = 200) -> None:
    path = tmp / "keys.h5"

    def ours() -> None:
        d = DH5(path, "w=")
        for i in range(count):
            d[f"k{i}"] = float(i)

    def raw() -> None:
        for i in range(count):
            with h5py.File(path, "a") as f:
                f.create_dataset(f"k{i}", data=float(i))

    t_ours = best(ours, lambda: _clean(tmp))
    t_raw = best(raw, lambda: _clean(tmp))
    print(
        f"{count} single-key saves (save_on_edit): DH5 {t_ours * 1e3:.0f} ms, "
        f"h5py open-write-close {t_raw * 1e3:.0f} ms, ratio {t_ours / t_raw:.2f}"
    )
    _clean(tmp)


def bench_lazy_open(tmp: Path) -> None:
    path = tmp / "big.h5"
    chunk = np.ones(2**24, dtype=np.float64)  # 128 MB
    with h5py.File(path, "w") as f:
        for i in range(8):
            f.create_dataset(f"x{i}", data=chunk)
    size_gb = os.path.getsize(path) / 2**30
    t_lazy = best(lambda: DH5(path, open_on_init=False))
    lazy = DH5(path, open_on_init=False)
    t_slice = best(lambda: lazy.get_lazy("x3")[1000:2000])
    print(
        f"open {size_gb:.2f} GB file with open_on_init=False: {t_lazy * 1e3:.1f} ms; "
        f"LazyArray slice of 1000 values: {t_slice * 1e3:.1f} ms"
    )
    _clean(tmp)


def bench_locked_access(tmp: Path, count: int = 1000) -> None:
    path = tmp / "locked.h5"
    d = DH5(path, "w")
    d.x = np.zeros(100 * 2**20 // 8)
    d.save()
    d = DH5(path, "a")
    d.lock_data("x")

    class Plain:
        x = 1

    plain = Plain()

    class Dynamic:
        """The least a dict-backed object with attribute access (like DH5's d.x) can cost."""

        def __init__(self) -> None:
            self._data = {"x": d.x}

        def __getattr__(self, name: str):
            return self._data[name]

    dynamic = Dynamic()

    def dyn() -> None:
        for _ in range(count):
            dynamic.x  # noqa: B018

    def access() -> None:
        for _ in range(count):
            d.x  # noqa: B018

    def attr() -> None:
        for _ in range(count):
            plain.x  # noqa: B018

    t_access = best(access)
    t_attr = best(attr)
    t_dyn = best(dyn)
    print(
        f"  vs {count} dynamic (__getattr__) lookups {t_dyn * 1e3:.3f} ms: "
        f"ratio {t_access / t_dyn:.1f}"
    )
    print(
        f"{count} reads of a locked 100 MB array: {t_access * 1e3:.2f} ms vs {count} attribute "
        f"lookups {t_attr * 1e3:.3f} ms, ratio {t_access / t_attr:.0f} "
        f"({t_access / count * 1e6:.1f} us per read, no copy)"
    )
    if old_dh5 is not None:
        old = old_dh5.DH5(str(path), "a")
        old.lock_data(["x"])
        t_old = best(lambda: old.x)
        print(f"  dh5 0.8.1 deep-copies: one locked read takes {t_old * 1e3:.1f} ms")
    _clean(tmp)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench_dh5_") as name:
        tmp = Path(name)
        bench_bulk_write(tmp)
        bench_single_key_saves(tmp)
        bench_lazy_open(tmp)
        bench_locked_access(tmp)


if __name__ == "__main__":
    main()
