"""Two kernels (processes) writing to one data directory at once lose no row."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from labmate_core.index import open_index

N = 40

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[3])
    from acquisition_files import write_acquisition
    from labmate_core import index
    from labmate_core.dh5 import storage
    from labmate_core.backends.status import SnapshotStatus, State

    data, tag = Path(sys.argv[1]), sys.argv[2]
    for i in range(int(sys.argv[4])):
        prefix = write_acquisition(
            data, f"kernel{tag}", f"2026_11_24__16_{i // 60:02d}_{i % 60:02d}", status="running"
        )
        index.record_start(prefix, data_directory=data)
        with storage.open_write(f"{prefix}.h5") as file:
            file["info/status"][()] = "completed"
        index.record_end(prefix, "completed", data_directory=data)
        index.on_backend_status(SnapshotStatus(str(prefix), "mirror", State.DONE, 1, None, 1.0 + i))
        index.set_note(data, prefix, f"note {tag} {i}")
        if i % 10 == 0:
            index.reindex(data)
    """
)


def test_two_processes_lose_no_row(data_dir):
    from pathlib import Path

    helpers = str(Path(__file__).parents[2])
    (data_dir / ".labmate").mkdir()  # so both hooks find the data directory the same way
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(data_dir), tag, helpers, str(N)],
            stderr=subprocess.PIPE,
        )
        for tag in ("A", "B")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err.decode()
        assert b"could not index" not in err, err.decode()
    index = open_index(data_dir)
    rows = index.list(limit=1000)
    assert len(rows) == 2 * N
    assert {r.status for r in rows} == {"completed"}
    assert all(r.sync["mirror"].state == "done" for r in rows)
    assert sorted(r.notes for r in rows) == sorted(f"note {t} {i}" for t in "AB" for i in range(N))
