"""Every error the store raises on purpose is a LabmateError, and still the built-in it was."""

import h5py
import numpy as np
import pytest

import labmate_core.dh5 as dh5_pkg
from labmate_core.dh5 import (
    DH5,
    DH5FileNotFoundError,
    FileAppearedError,
    FileBusyError,
    LabmateError,
    LockTimeoutError,
    ReadOnlyKeyError,
    UnstorableValueError,
    storage,
)


@pytest.mark.parametrize(
    "error, builtin",
    [
        (ReadOnlyKeyError, KeyError),
        (DH5FileNotFoundError, FileNotFoundError),
        (UnstorableValueError, TypeError),
        (LockTimeoutError, TimeoutError),
        (FileBusyError, BlockingIOError),
        (FileAppearedError, FileExistsError),
    ],
)
def test_one_base_and_the_old_builtin(error, builtin):
    assert issubclass(error, LabmateError) and issubclass(error, builtin)
    assert error.__name__.endswith("Error") and error.__name__ in dh5_pkg.__all__


def test_old_names_are_aliases():
    assert storage.LockTimeout is LockTimeoutError
    assert storage.FileBusyError is FileBusyError and storage.FileAppearedError is FileAppearedError


def test_real_failures_are_caught_as_labmate_errors(tmp_path):
    path = tmp_path / "d.h5"
    d = DH5(path, "w")
    d["x"] = np.arange(3)
    d.save()
    with pytest.raises(LabmateError):
        d["bad"] = object()
    with pytest.raises(LabmateError):
        DH5(tmp_path / "missing.h5")
    with h5py.File(path, "a"):  # a plain writer holds HDF5's lock: saving in place is refused
        d["y"] = 1
        with pytest.raises(LabmateError, match="open for writing elsewhere"):
            d.save()
    with storage.file_lock(path, shared=False), pytest.raises(LabmateError):
        with storage.file_lock(path, shared=True, timeout=0.05):
            pass
