"""A fast index of the acquisitions of a data directory (``<data>/.labmate/index.sqlite``).

``open_index(data_dir).list(name=None, since=None, status=None, limit=50, offset=0)`` lists
acquisitions newest first; the hooks ``record_start`` / ``record_save`` / ``record_end`` /
``on_backend_status`` keep it current; ``reindex`` rebuilds it from the files alone;
``subscribe`` tells the panel about changes; ``register_ls`` adds ``labmate ls`` to the CLI;
``flush`` waits for the records written in the background (the first of a process).
"""

from .events import (
    IndexEvent,
    data_directory_of,
    flush,
    is_open,
    notify,
    on_acquisition_saved,
    on_backend_status,
    open_index,
    record_end,
    record_save,
    record_start,
    reindex,
    reset,
    set_note,
    subscribe,
    unsubscribe,
)
from .ls import main_ls, register_ls, run_ls
from .store import Acquisition, AcquisitionIndex, ReindexReport, SyncState
from .summary import FileSummary, read_summary, summary_of_data

__all__ = [
    "Acquisition",
    "AcquisitionIndex",
    "FileSummary",
    "IndexEvent",
    "ReindexReport",
    "SyncState",
    "data_directory_of",
    "flush",
    "is_open",
    "main_ls",
    "notify",
    "on_acquisition_saved",
    "on_backend_status",
    "open_index",
    "read_summary",
    "record_end",
    "record_save",
    "record_start",
    "register_ls",
    "reindex",
    "reset",
    "run_ls",
    "set_note",
    "subscribe",
    "summary_of_data",
    "unsubscribe",
]
