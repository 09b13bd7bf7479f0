import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from labmate_core.dh5 import DH5

WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from labmate_core.dh5 import DH5
    d = DH5(sys.argv[1], "a=")
    d["from_child"] = np.arange(int(sys.argv[2]))
    d["g/x"] = "nested"
    """
)


def test_other_process_writes_and_we_pull(tmp_path):
    path = tmp_path / "f.h5"
    d = DH5(path, "w")
    d.mine = 1
    d.save()
    reader = DH5(path)
    subprocess.run([sys.executable, "-c", WRITER, str(path), "5"], check=True, timeout=120)
    assert reader.pull_available()
    reader.pull()
    assert list(reader.from_child) == [0, 1, 2, 3, 4] and reader.g.x == "nested"
    assert reader.mine == 1
    d.mine = 2
    d.save()  # our incremental save does not drop what the other process wrote
    assert DH5(path).keys() == {"mine", "from_child", "g"}


DH5_SAVER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from labmate_core.dh5 import DH5
    path, seed, on_edit = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
    rng = np.random.default_rng(seed)
    d = DH5(path, "w=" if on_edit else "w")
    print("ready", flush=True)
    i = 0
    while True:
        d["a"] = np.full(int(rng.integers(1, 40_000)), i)  # new size: the dataset is replaced
        d["b"] = np.full(int(rng.integers(1, 40_000)), i)
        d[f"n/{i}"] = np.full(int(rng.integers(1, 3_000)), i)  # a growing group
        d["s"] = f"save {i} " * int(rng.integers(1, 20_000))
        d["count"] = i
        if not on_edit:
            d.save()
        print(i, flush=True)  # every save of step i has returned
        i += 1
    """
)


@pytest.mark.parametrize("trial", range(24))
def test_sigkill_during_dh5_saves_keeps_every_returned_save(tmp_path, trial):
    """A writer killed at a random point of its DH5 saves (d.save() or save_on_edit) leaves a
    file that opens and holds every save that had returned."""
    on_edit = trial % 2 == 1
    path = tmp_path / "crash.h5"
    rng = np.random.default_rng(2000 + trial)
    proc = subprocess.Popen(
        [sys.executable, "-c", DH5_SAVER, str(path), str(trial), "1" if on_edit else "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        for _ in range(int(rng.integers(0, 12))):  # let some saves return, then kill
            assert proc.stdout.readline().strip()
        if rng.random() < 0.5:
            time.sleep(float(rng.uniform(0, 0.05)))  # vary where the kill lands in a save
    finally:
        proc.kill()
    out, _ = proc.communicate()
    done = [int(line) for line in out.split()]
    if not done:
        assert not path.exists() or DH5(path).keys() <= {"a", "b", "n", "s", "count"}
        return
    last = done[-1]
    d = DH5(path)
    count = int(d.count)
    assert count in (last, last + 1)
    for i in range(last + 1):
        stored = d.n[str(i)]
        assert stored.size and np.all(stored == i)
    step_of_s = int(d.s.split(" ")[1])
    saved_steps = {str(i) for i in range(count + 1)}
    if on_edit:  # one save per assignment, in order a, b, n, s, count: later ones may lag
        assert count <= step_of_s <= int(d.b[0]) <= int(d.a[0]) <= count + 1
        assert np.all(d.a == d.a[0]) and np.all(d.b == d.b[0])
        assert d.n.keys() - {str(count + 1)} == saved_steps
    else:  # one d.save() per step: all of it or nothing of it
        assert np.all(d.a == count) and np.all(d.b == count) and step_of_s == count
        assert d.n.keys() == saved_steps
