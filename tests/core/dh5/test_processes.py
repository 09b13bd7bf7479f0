import subprocess
import sys
import textwrap

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
