"""Saves hitting a real write error other than a full disk: the file-size limit (``EFBIG``).

``RLIMIT_FSIZE`` makes the kernel cut a write short at the limit and fail the next one with
``EFBIG`` (SIGXFSZ ignored): short writes and an error, on a real filesystem, in a child process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np

LIMITED_SAVES = textwrap.dedent(
    """
    import json, os, resource, signal, sys
    import numpy as np
    from labmate_core.dh5 import DH5
    from labmate_core.dh5.errors import SaveFailedError
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    path = sys.argv[1]
    d = DH5(path, "w")
    d["x"] = np.arange(1000.0)
    d.save()
    size = os.path.getsize(path)
    results = []
    big = np.random.default_rng(0).random(100_000)
    for extra in range(0, 900_000, 60_000):
        before = open(path, "rb").read()
        resource.setrlimit(resource.RLIMIT_FSIZE, (size + extra, resource.RLIM_INFINITY))
        d["x"] = np.arange(1000.0) + extra  # overwritten in place
        d["big"] = big + extra  # makes the file grow past the limit
        try:
            d.save()
            outcome = "saved"
        except SaveFailedError as error:
            outcome = str(error)
            assert error.errno == 27, error.errno
            assert open(path, "rb").read() == before, "changed by a failed save"
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)
        if outcome != "saved":
            d.save()  # pending: written now that the limit is gone
        results.append(outcome)
        size = os.path.getsize(path)
    print(json.dumps(results))
    """
)


def test_short_writes_and_efbig_leave_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "limited.h5"
    done = subprocess.run(
        [sys.executable, "-c", LIMITED_SAVES, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.splitlines()[-1])
    failed = [r for r in results if r != "saved"]
    assert failed and len(failed) < len(results), results
    for message in failed:
        assert message.startswith("File too large while saving ")
        assert message.endswith(f" to {path}; nothing was written")
        assert "'x'" in message and "'big'" in message
    with h5py.File(path, "r") as f:  # the last save (after the last failure) is all there
        extra = 60_000 * (len(results) - 1)
        assert np.array_equal(f["x"][()], np.arange(1000.0) + extra)
        assert np.array_equal(f["big"][()], np.random.default_rng(0).random(100_000) + extra)
