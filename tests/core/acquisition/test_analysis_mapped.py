"""AnalysisData's locked big arrays: read-only views of the file's pages that behave as arrays."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from labmate_core.acquisition.analysis_data import AnalysisData
from labmate_core.dh5 import DH5
from labmate_core.dh5.mapped import MIN_MAPPED_BYTES, is_mapped

N = MIN_MAPPED_BYTES // 8 * 2
BIG = np.random.default_rng(1).random(N)


@pytest.fixture(params=[False, None], ids=["lazy", "eager"])
def data(request, tmp_path):
    path = tmp_path / "run.h5"
    d = DH5(path, "w")
    d.update(big=BIG, grid=np.arange(N, dtype=np.int32).reshape(4, -1), small=np.arange(5.0))
    d.update(text="hello", number=3.5, names=["a", "b"])
    d.save()
    with h5py.File(path, "a") as file:  # what labmate_core does not write itself
        file.create_dataset("chunked", data=BIG, chunks=(4096,))
        file.create_dataset("gzip", data=BIG, compression="gzip")
        file.create_dataset("fixed", data=np.array([b"abc", b"de"] * (N // 2)))
    return AnalysisData(path, open_on_init=request.param)


def test_big_arrays_are_mapped_numpy_arrays(data):
    big = data.big
    assert is_mapped(big) and type(big) is np.ndarray and isinstance(big, np.ndarray)
    assert big.dtype == BIG.dtype and big.shape == BIG.shape and len(big) == N
    assert np.array_equal(big[:10], BIG[:10]) and np.array_equal(big, BIG)
    assert np.array_equal(big + 1, BIG + 1) and np.allclose(np.sin(big), np.sin(BIG))
    # (a sum depends on the memory alignment by an ulp: the values are compared exactly below)
    assert np.mean(big) == pytest.approx(np.mean(BIG), rel=1e-12) and big.max() == BIG.max()
    assert (big == BIG).all() and not (big != BIG).any()
    assert type(big * 2) is np.ndarray and not is_mapped(big * 2)
    assert np.array_equal(data["grid"][2], np.arange(N, dtype=np.int32).reshape(4, -1)[2])
    assert repr(big[:2]).startswith("array(")


def test_mapped_arrays_are_read_only(data):
    with pytest.raises(ValueError, match="read-only"):
        data.big[0] = 1.0
    view = data.big
    with pytest.raises(ValueError):
        view.flags.writeable = True
    assert np.array_equal(data.big, BIG)


def test_other_values_are_read_as_before(data):
    assert data.small.tolist() == [0, 1, 2, 3, 4] and not is_mapped(data.small)
    assert data.text == "hello" and data.number == 3.5 and data.names == ["a", "b"]
    for name in ("chunked", "gzip"):
        assert not is_mapped(data[name]) and np.array_equal(data[name], BIG)
    fixed = data.fixed
    assert not is_mapped(fixed) and list(fixed[:3]) == ["abc", "de", "abc"]


def test_plotting_a_mapped_array(data):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots()
    (line,) = ax.plot(data.big[:100])
    assert np.array_equal(line.get_ydata(), BIG[:100])
    plt.close(fig)


def test_file_written_meanwhile(data, tmp_path):
    """Writers add, replace and delete other keys (and the file gets compacted, replaced
    atomically): what was handed out keeps its values, and new reads see the file."""
    held = data.big
    path = tmp_path / "run.h5"
    other = DH5(path, "a")
    other["fit"] = np.ones(N)
    other.save()
    other["fit"] = np.zeros(N)
    other.save()
    del other["fit"]
    del other["chunked"]
    del other["gzip"]
    other.save()  # more than a third of the file free: compacted into a new inode
    assert np.array_equal(held, BIG)
    data["result"] = 1.5  # this analysis writes too
    assert np.array_equal(held, BIG) and np.array_equal(data.big, BIG)
    again = AnalysisData(path, open_on_init=False)
    assert is_mapped(again.big) and np.array_equal(again.big, BIG) and again.result == 1.5


def test_unlocked_key_becomes_a_copy_that_saves(data, tmp_path):
    """Unlocking gives this object a copy in memory; arrays handed out before keep their values
    (their pages become private memory before the key is rewritten)."""
    held = data.big
    data.unlock_data("big")
    mine = data.big
    assert not is_mapped(mine) and mine.flags.writeable
    mine[:3] = -1.0
    data["big"] = mine  # same shape and dtype: rewritten in place in the file
    back = AnalysisData(tmp_path / "run.h5", open_on_init=False)
    assert back.big[:3].tolist() == [-1.0, -1.0, -1.0] and np.array_equal(back.big[3:], BIG[3:])
    assert np.array_equal(held, BIG)


_HELD_AFTER_DELETE = """
import sys, numpy as np
from labmate_core.acquisition.analysis_data import AnalysisData
from labmate_core.dh5 import DH5
path = sys.argv[1]
held = AnalysisData(path, open_on_init=False).big
expected = held.copy()
other = DH5(path, "a")
del other["big"]          # the last dataset of the file: HDF5 shrinks the file in place
other.save()
other["tiny"] = 1         # and again, to be sure the old pages are gone
other.save()
assert np.array_equal(held, expected)  # without detaching: SIGBUS here
print("ok")
"""


def test_deleting_a_mapped_key_in_this_process_keeps_held_arrays(tmp_path):
    """Run in a child process: reading an array whose file was shrunk under it would kill the
    interpreter (SIGBUS), which must not take the test run with it."""
    import os
    import subprocess
    import sys

    path = tmp_path / "run.h5"
    d = DH5(path, "w")
    d["a"] = 1
    d.save()
    d["big"] = BIG
    d.save()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    result = subprocess.run(
        [sys.executable, "-c", _HELD_AFTER_DELETE, str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", (
        result.returncode,
        result.stderr[-2000:],
    )


def test_mapping_can_be_switched_off(tmp_path, monkeypatch):
    path = tmp_path / "run.h5"
    DH5(path, "w").update(big=BIG).save()
    monkeypatch.setattr(AnalysisData, "map_arrays", False)
    for open_on_init in (False, None):
        big = AnalysisData(path, open_on_init=open_on_init).big
        assert not is_mapped(big) and not big.flags.writeable and np.array_equal(big, BIG)


_OTHER_WRITER = """
import sys, numpy as np
from labmate_core.dh5 import DH5
d = DH5(sys.argv[1], "a")
d["added"] = np.full(300_000, 7.0)    # new space at the end of the file
d.save()
del d["small"]                        # frees space inside the file
del d["added"]                        # frees the end: HDF5 shrinks the file in place
d.save()
d["other"] = np.arange(1000)
d.save()
"""


def test_another_process_writes_other_keys_meanwhile(data, tmp_path):
    """Another process adds and deletes keys (the file grows, shrinks in place, and may be
    compacted into a new inode) while arrays of this one are held: they keep their values."""
    import os
    import subprocess
    import sys

    held, grid = data.big, data.grid
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    result = subprocess.run(
        [sys.executable, "-c", _OTHER_WRITER, str(tmp_path / "run.h5")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert np.array_equal(held, BIG) and np.array_equal(grid.ravel(), np.arange(N, dtype=np.int32))
    data.pull()
    assert "small" not in data and data.other[-1] == 999 and np.array_equal(data.big, BIG)
