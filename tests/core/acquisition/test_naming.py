"""File naming: validation of hostile names, unique prefixes chosen atomically, resolution."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from labmate_core.acquisition import AcquisitionManager, naming
from labmate_core.dh5 import storage

HOSTILE = [
    "../x",
    "/abs",
    "a/b",
    "a\\b",
    "a\x00b",
    "",
    "x" * 300,
    "CON",
    "nul.txt",
    "com1",
    ".",
    "..",
    "a:b",
    "trail.",
    "tab\tname",
    ".hidden",
    ".labmate",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_refused_before_anything_is_written(tmp_path: Path, name: str) -> None:
    data = tmp_path / "DATA"
    aqm = AcquisitionManager(data)
    before = sorted(p.name for p in data.rglob("*"))
    with pytest.raises(ValueError):
        aqm.new_acquisition(name, cell="x")
    assert sorted(p.name for p in data.rglob("*")) == before
    assert not (data / "temp.json").exists()
    assert not (tmp_path / "x").exists()


def test_non_string_name_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        naming.validate_name(3)


@pytest.mark.parametrize("name", ["sine", "qubit_2", "T1 measurement", "élan", "a.b"])
def test_good_names_accepted(name: str) -> None:
    assert naming.validate_name(name) == name


def test_same_second_gets_labmate_suffixes(tmp_path: Path) -> None:
    prefixes = [naming.reserve_prefix(tmp_path, "2026_01_01__00_00_00", "s") for _ in range(3)]
    assert [os.path.basename(p) for p in prefixes] == [
        "2026_01_01__00_00_00__s",
        "2026_01_01__00_00_00__s__1",
        "2026_01_01__00_00_00__s__2",
    ]


def test_existing_h5_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "2026_01_01__00_00_00__s.h5").write_bytes(b"")
    prefix = naming.reserve_prefix(tmp_path, "2026_01_01__00_00_00", "s")
    assert prefix.endswith("__s__1")


def test_many_acquisitions_in_one_kernel_never_share_a_file(tmp_path: Path) -> None:
    aqm = AcquisitionManager(tmp_path / "DATA")
    paths = set()
    for i in range(20):
        aqm.new_acquisition("same", cell=f"cell {i}")
        aqm.save_acquisition(i=i)
        paths.add(aqm.current_filepath)
    assert len(paths) == 20
    files = sorted((tmp_path / "DATA" / "same").glob("*.h5"))
    assert len(files) == 20


_WORKER = """
import sys
from labmate_core.acquisition import AcquisitionManager
aqm = AcquisitionManager(sys.argv[1])
for i in range(int(sys.argv[2])):
    aqm.new_acquisition("race", cell="c")
    aqm.save_acquisition(worker=int(sys.argv[3]), i=i)
    print(aqm.current_filepath, flush=True)
"""


def test_two_processes_fifty_acquisitions_each_never_overwrite(tmp_path: Path) -> None:
    data = tmp_path / "DATA"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(data), "50", str(w)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(2)
    ]
    done = [p.communicate(timeout=240) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in done]
    names = done[0][0].split() + done[1][0].split()
    assert len(names) == 100 and len(set(names)) == 100
    # 100 acquisitions of one name take far less than 100 s: some shared a second, and the
    # suffix race was really run (not won by distinct time stamps alone)
    suffixed = [n for n in names if naming.split_file_name(os.path.basename(n))[2]]
    assert suffixed, names
    from labmate_core import DH5

    seen = set()
    for name in names:
        d = DH5(name)
        seen.add((int(d["worker"]), int(d["i"])))
    assert seen == {(w, i) for w in range(2) for i in range(50)}
    assert not list((data / "race").glob(".*reserved"))


def test_split_and_resolve(tmp_path: Path) -> None:
    assert naming.split_file_name("2026_11_24__16_56_38__sine__1.h5") == (
        "2026_11_24__16_56_38",
        "sine",
        "1",
    )
    assert naming.split_file_name("notes") is None
    folder = tmp_path / "sine"
    folder.mkdir()
    (folder / "2026_11_24__16_56_38__sine__1.h5").write_bytes(b"")
    resolved = naming.resolve_acquisition_path("2026_11_24__16_56_38__sine__1", tmp_path)
    assert resolved == str(folder / "2026_11_24__16_56_38__sine__1")
    with pytest.raises(ValueError):
        naming.resolve_acquisition_path("", tmp_path)


def test_the_reservation_is_the_files_storage_lock(tmp_path: Path) -> None:
    prefix = naming.reserve_prefix(tmp_path, "2026_01_01__00_00_01", "lock")
    lock = storage.lock_path(prefix + ".h5")
    assert lock.exists() and lock.stat().st_size == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [lock.name]
    naming.release_reservation(prefix)  # the file was never created: nothing is left
    assert not list(tmp_path.iterdir())


def test_an_acquisition_leaves_only_its_file_and_its_lock(tmp_path: Path) -> None:
    aqm = AcquisitionManager(tmp_path / "DATA")
    aqm.new_acquisition("only", cell="x = 1")
    aqm.save_acquisition(x=1)
    names = sorted(p.name for p in (tmp_path / "DATA" / "only").iterdir())
    h5 = os.path.basename(aqm.current_filepath) + ".h5"
    assert names == sorted([h5, f".{h5}.lock"])
    assert storage.generation(aqm.current_filepath + ".h5") % 2 == 0


def test_current_filepath_has_the_pathlib_api_of_labmates_path(tmp_path: Path) -> None:
    labmate_path = pytest.importorskip("dh5.path")  # labmate 0.10.9's dependency
    LabmatePath = labmate_path.Path  # noqa: N806

    manager = AcquisitionManager(tmp_path)
    manager.new_acquisition("sweep.v2", cell="c")
    ours = manager.current_filepath
    theirs = LabmatePath(str(ours))
    assert isinstance(ours, str) and ours == str(theirs)
    for attribute in ("stem", "suffix", "suffixes", "parts", "name", "anchor"):
        assert getattr(ours, attribute) == getattr(theirs, attribute), attribute
    for method, args in [
        ("with_suffix", (".txt",)),
        ("with_name", ("other",)),
        ("as_posix", ()),
        ("resolve", ()),
        ("absolute", ()),
        ("relative_to", (str(tmp_path),)),
        ("joinpath", ("x", "y")),
        ("is_absolute", ()),
        ("is_file", ()),
    ]:
        mine, labmate = getattr(ours, method)(*args), getattr(theirs, method)(*args)
        assert str(mine) == str(labmate), method
        expected = naming.FilePath if isinstance(labmate, os.PathLike) else type(labmate)
        assert type(mine) is expected, method
    assert isinstance(ours.with_suffix(".h5"), naming.FilePath)
    assert ours.with_suffix(".h5").name.endswith("__sweep.h5")  # pathlib's: ".v2" replaced
    assert (ours + ".h5").is_file()  # the acquisition's file
    found = sorted(ours.parent.glob("*.h5"))
    assert found == sorted(str(p) for p in theirs.parent.glob("*.h5")) == [ours + ".h5"]
    text_file = naming.FilePath(ours + "_notes.txt")
    Path(text_file).write_text("c")
    with text_file.open() as mine, LabmatePath(str(text_file)).open() as labmate:  # a file
        assert mine.read() == labmate.read() == "c"
    assert all(isinstance(p, naming.FilePath) for p in found)
    assert [str(p) for p in ours.parents] == [str(p) for p in theirs.parents]
    assert ours.replace("sweep", "x") == str(ours).replace("sweep", "x")  # str's method kept
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        ours.nope  # noqa: B018
