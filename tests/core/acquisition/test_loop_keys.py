"""``loop["i", 1]`` is ``loop["i"][1]``, as in dh5 (labmate code indexes loops so)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from labmate_core import DH5
from labmate_core.acquisition import AcquisitionLoop, NotebookAcquisitionData


def test_tuple_keys_index_into_the_values(tmp_path: Path) -> None:
    aq = NotebookAcquisitionData(str(tmp_path / "acq"), cell="c", experiment_name="acq")
    aq.loop = loop = AcquisitionLoop()
    for i in loop(3):
        for j in loop(2):
            loop.append(v=10.0 * i + j)
    assert loop["v", 1].tolist() == [10.0, 11.0]
    assert loop["v", 2, 1] == 21.0 and loop["v", (2, 1)] == 21.0
    assert loop[("v",)] is not None and loop["v", 1:].shape == (2, 2)
    with pytest.raises(KeyError):
        loop["missing", 0]
    with pytest.raises(KeyError):
        loop[()]


def test_a_resumed_loop_is_indexed_the_same(tmp_path: Path) -> None:
    aq = NotebookAcquisitionData(str(tmp_path / "acq"), cell="c", experiment_name="acq")
    aq.loop = loop = AcquisitionLoop()
    for i in loop(4):
        loop.append(i=i**2)
        if i == 1:
            break
    resumed = AcquisitionLoop(DH5(str(tmp_path / "acq"), "a")["loop"])
    assert resumed["i", 1] == 1 and np.asarray(resumed["i"]).shape == (4,)
