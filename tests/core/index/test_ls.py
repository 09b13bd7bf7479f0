"""``labmate ls DIR [--name] [--since] [--status]``, called with argv."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest
from acquisition_files import stamp, write_acquisition

from labmate_core.index import main_ls, open_index, register_ls


def _fill(data_dir):
    write_acquisition(data_dir, "sine", stamp(3600), duration=75.0)
    write_acquisition(data_dir, "rabi", stamp(7200), status="failed", error="ValueError: bad")
    write_acquisition(data_dir, "sine", stamp(10800))


def test_lists_newest_first(data_dir, capsys):
    _fill(data_dir)
    assert main_ls([str(data_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["TIME", "NAME", "STATUS", "DURATION", "SIZE", "SYNC", "FILE"]
    assert [line.split()[2] for line in lines[1:]] == ["sine", "rabi", "sine"]
    assert "1 min 15 s" in lines[3]
    assert lines[1].endswith(f"{stamp(10800)}__sine")


def test_filters(data_dir, capsys):
    _fill(data_dir)
    open_index(data_dir).set_note(data_dir / "rabi" / f"{stamp(7200)}__rabi", "laser off")
    main_ls([str(data_dir), "--status", "failed"])
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and "rabi" in out[1] and "# laser off" in out[1]
    main_ls([str(data_dir), "--name", "sin", "--since", "2026-11-01 02:30"])
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and stamp(10800) in out[1]
    main_ls([str(data_dir), "--limit", "1", "--offset", "1"])
    out = capsys.readouterr().out.splitlines()
    assert "rabi" in out[1] and out[-1] == "(2-2 of 3; see --offset)"
    main_ls([str(data_dir), "--name", "nothing"])
    assert capsys.readouterr().out.startswith("no acquisitions")


def test_picks_up_files_written_without_hooks(data_dir, capsys):
    main_ls([str(data_dir), "--index"])
    assert "no acquisitions" in capsys.readouterr().out
    write_acquisition(data_dir, "late")
    main_ls([str(data_dir), "--no-reindex"])
    assert "late" not in capsys.readouterr().out
    main_ls([str(data_dir)])
    assert "late" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--since", "last tuesday"], "is not a date"),
        (["--status", "lost"], "invalid choice"),
        (["--limit", "-3"], "integer >= 0"),
    ],
)
def test_bad_arguments_are_clear_errors(data_dir, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        main_ls([str(data_dir), *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_missing_directory(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main_ls([str(tmp_path / "nowhere")])
    assert "is not a directory" in capsys.readouterr().err
    assert not (tmp_path / "nowhere").exists()


def test_register_ls_plugs_into_a_cli_parser(data_dir, capsys):
    _fill(data_dir)
    parser = argparse.ArgumentParser(prog="labmate")
    register_ls(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["ls", str(data_dir), "--status", "completed"])
    assert args.func(args) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_a_folder_that_is_not_a_data_directory_is_listed_without_an_index(data_dir, capsys):
    _fill(data_dir)
    (data_dir / ".labmate").mkdir()  # the data directory; its experiment folders are not
    for folder, inside in ((data_dir / "sine", True), (data_dir.parent, False)):
        assert main_ls([str(folder)]) == 0
        out, err = capsys.readouterr()
        assert f"{folder} is not a data directory" in err and "--index" in err
        assert ("inside the data directory" in err) is inside
        assert len(out.splitlines()) == (3 if inside else 4)  # the header and the rows
        assert not (folder / ".labmate").exists()
    mirror = data_dir.parent / "mirror"  # a copy: experiment folders, no .labmate, no temp.json
    write_acquisition(mirror, "sine", stamp(60))
    assert main_ls([str(mirror)]) == 0
    out, err = capsys.readouterr()
    assert stamp(60) in out and "not a data directory" in err
    assert not (mirror / ".labmate").exists()
    assert main_ls([str(mirror), "--index"]) == 0  # asked: kept
    assert "not a data directory" not in capsys.readouterr().err
    assert (mirror / ".labmate" / "index.sqlite").is_file()


def test_labmate_data_directory_is_recognised_by_temp_json(data_dir, capsys):
    write_acquisition(data_dir, "sine", stamp(60))
    (data_dir / "temp.json").write_text("{}")  # written by labmate 0.10.9
    assert main_ls([str(data_dir)]) == 0
    assert capsys.readouterr().err == ""
    assert (data_dir / ".labmate" / "index.sqlite").is_file()


@pytest.mark.parametrize("command", [["ls"], ["status"]])
def test_a_closed_pipe_ends_quietly(data_dir, command):
    _fill(data_dir)
    (data_dir / ".labmate").mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "labmate_core.cli", *command, str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process.stdout.close()  # `| head` that has read what it wanted, before anything is written
    err = process.stderr.read().decode()
    assert process.wait(timeout=120) == 141, err
    assert err == ""  # no BrokenPipeError traceback, now or at exit
