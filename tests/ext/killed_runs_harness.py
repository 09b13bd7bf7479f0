"""What a kernel runs in tests/ext/test_killed_runs.py: one entry point right after a restart,
then acquisitions of every kind, back to back, until it is SIGKILLed.

Every acquisition body notes in a log (line-buffered, so a kill loses no finished line):
``start PREFIX STATUS`` at its first line, as plain h5py finds the file then (``missing
PREFIX`` if it is not there), ``end PREFIX`` when the body finished, and the harness notes
``failed PREFIX`` once a failing cell returned (its traceback is recorded by then).
"""

from __future__ import annotations

import os
import random
import sys
from typing import Any

ENTRY_POINTS = ("labmate", "labmate_backend", "analysis", "cli_status", "acquisition", "save")

_HELPERS = """
import h5py, numpy as np

def note(*words):
    LOG.write(" ".join(str(w) for w in words) + "\\n")

def first_line():
    prefix = aqm.current_filepath
    try:
        with h5py.File(prefix + ".h5", "r") as file:  # plain h5py
            note("start", prefix, file["info/status"][()].decode())
    except Exception as error:
        note("missing", prefix, type(error).__name__)
"""

#: name -> the cells of one acquisition
SCENARIOS: dict[str, list[str]] = {
    "magic": [
        "%%acquisition good\nfirst_line()\nfor i in range(3):\n"
        "    aqm.save_acquisition(**{f'v{i}': np.arange(2000)})\n"
        "note('end', aqm.current_filepath)"
    ],
    "failing": [
        "%%acquisition bad\nfirst_line()\naqm.save_acquisition(before=1)\n"
        "note('end', aqm.current_filepath)\nraise RuntimeError('probe broke')",
        "aqm.save_acquisition(z=1)",  # a plain cell after the failure
    ],
    "context": [
        "with aqm.acquisition('ctx', cell='c'):\n    first_line()\n"
        "    aqm.save_acquisition(w=np.ones(1000))\n    note('end', aqm.current_filepath)"
    ],
    "labmate_cells": [
        "aqm.acquisition_cell('cells')\nfirst_line()",
        "note('end', aqm.current_filepath)\naqm.save_acquisition(k=np.arange(500))",
    ],
    "long": [
        "%%acquisition long\nfirst_line()\nfor i in range(30):\n"
        "    aqm.save_acquisition(**{f'p{i}': np.arange(100)})\n"
        "note('end', aqm.current_filepath)"
    ],
    "loop": [
        "%%acquisition loop\nfirst_line()\n"
        "from labmate_core.acquisition import AcquisitionLoop\n"
        "aqm.aq.loop = loop = AcquisitionLoop()\n"
        "for i in loop(4):\n    for j in loop(5):\n        loop.append(x=i * j, y=np.ones(8))\n"
        "note('end', aqm.current_filepath)"
    ],
    "empty": ["%%acquisition empty\nfirst_line()\nnote('end', aqm.current_filepath)"],
}


def entry_point(kind: str, data: str, shell: Any) -> None:
    """What the restarted kernel runs first."""
    if kind == "cli_status":
        from labmate_core.cli import main

        main(["status", data])
        return
    if kind == "save":  # labmate's API without the extension: the manager of temp.json's run
        from labmate_core.acquisition_notebook import AcquisitionAnalysisManager

        manager = AcquisitionAnalysisManager(data, shell=None)
        try:
            manager.save_acquisition(q=1)
        except (ValueError, FileNotFoundError):  # nothing to save to yet
            pass
        return
    load(shell, data)
    cell = {
        "labmate": "%labmate",
        "labmate_backend": "%labmate_backend",
        "analysis": "%%analysis\nx = 1",
        "acquisition": "%%acquisition next --save x\nx = 3",
    }[kind]
    shell.run_cell(cell, store_history=True)


def load(shell: Any, data: str) -> None:
    if "labmate_ext" not in shell.extension_manager.loaded:
        shell.config.Labmate.data_directory = data
        shell.run_line_magic("load_ext", "labmate_ext")


def run_forever(shell: Any, data: str, log: str, seed: int) -> None:
    """Acquisitions in a seeded random order until the process is killed."""
    load(shell, data)
    shell.user_ns["LOG"] = open(log, "a", buffering=1, encoding="utf-8")  # noqa: SIM115
    shell.run_cell(_HELPERS)
    note = shell.user_ns["note"]
    rng = random.Random(seed)
    names = sorted(SCENARIOS)
    sys.stdout.write("started\n")
    sys.stdout.flush()
    while True:
        name = rng.choice(names)
        for cell in SCENARIOS[name]:
            result = shell.run_cell(cell, store_history=True)
            if name == "failing" and cell.startswith("%%acquisition"):
                assert not result.success
                note("failed", shell.user_ns["aqm"].current_filepath)


def main() -> None:
    """``python killed_runs_harness.py DATA LOG ENTRY SEED``: the entry point, ``ready``,
    then (after a line on stdin) acquisitions until killed; ENTRY ``last``: none."""
    data, log, kind, seed = sys.argv[1:5]
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    entry_point(kind, data, shell)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    if sys.stdin.readline().strip() != "go":
        os._exit(0)
    run_forever(shell, data, log, int(seed))


if __name__ == "__main__":
    main()
