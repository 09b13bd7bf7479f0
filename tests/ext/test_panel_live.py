"""A %%acquisition sweep in a real IPython shell: the panel's row shows its points while it runs."""

from __future__ import annotations

import time

from ext_helpers import run


def test_panel_row_follows_a_running_sweep(shell):
    run(shell, "%labmate_panel")
    from labmate_ext.session import SESSIONS

    (panel,) = SESSIONS[shell].panels
    panel.refresh_interval = 0.05
    shell.user_ns["panel"] = panel
    result = run(
        shell,
        """%%acquisition sweep
import time
import numpy as np
from labmate_core.acquisition import AcquisitionLoop
loop = AcquisitionLoop()
aqm.save_acquisition(loop=loop)
seen = []
for i, f in enumerate(loop(np.linspace(0, 1, 6))):
    loop.append(f=f, v=np.sin(f))
    deadline = time.monotonic() + 30
    while f">running {i}/6<" not in (panel.row_widgets(0).cells["status"].value if panel.rows else ""):
        assert time.monotonic() < deadline, (i, panel.rows)
        time.sleep(0.02)
    seen.append(i)
""",
    )
    result.raise_error()
    assert shell.user_ns["seen"] == list(range(6))
    deadline = time.monotonic() + 30  # the ticker shows the end without any index change
    while ">completed<" not in panel.row_widgets(0).cells["status"].value:
        assert time.monotonic() < deadline, panel.row_widgets(0).cells["status"].value
        time.sleep(0.02)


def test_acquisition_live_draws_the_loop(shell, monkeypatch):
    """``%%acquisition NAME --live``: the cell's loop shows a live plot (as in a kernel)."""
    from labmate_core.display import progress

    monkeypatch.setattr(progress, "has_frontend", lambda: True)
    cell = """%%acquisition sweep {flag}
import numpy as np
from labmate_core.acquisition import AcquisitionLoop
loop = AcquisitionLoop()
aqm.save_acquisition(loop=loop)
import time
for f in loop(np.linspace(0, 1, 20)):
    loop.append(f=f, v=np.cos(f))
    time.sleep(0.05)
shown = loop._progress
"""
    run(shell, cell.format(flag="--live")).raise_error()
    live = shell.user_ns["shown"].live
    assert live is not None
    live._executor.shutdown(wait=True)  # the last drawing is made after the loop ended
    assert live.drawings >= 1  # its final state at least (a 1 s loop is short for more)
    assert live.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    run(shell, cell.format(flag="")).raise_error()
    assert shell.user_ns["shown"].live is None and shell.user_ns["shown"].bar is not None
