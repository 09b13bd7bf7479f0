"""Another process holds delivered.sqlite's write lock (a stuck `labmate status`, a stopped
process mid-transaction): does the kernel's save wait?  usage: sqlite_locked.py ROOT"""
import sys, time, shutil, subprocess, sqlite3
from pathlib import Path
import numpy as np
from labmate_core.acquisition_notebook import AcquisitionAnalysisManager
from labmate_core.backends import MirrorDirectoryBackend

root = Path(sys.argv[1]); data, mirror = root / "data", root / "mirror"
for p in (data, mirror):
    shutil.rmtree(p, ignore_errors=True); p.mkdir(parents=True)
aqm = AcquisitionAnalysisManager(str(data), shell=None, backend=MirrorDirectoryBackend(mirror))
with aqm.acquisition("warm"):
    aqm.save_acquisition(x=np.arange(3))
aqm.wait_backends(30)
holder = subprocess.Popen([sys.executable, "-c", f"""
import sqlite3, time
c = sqlite3.connect({str(data / '.labmate' / 'delivered.sqlite')!r}, isolation_level=None)
c.execute('BEGIN EXCLUSIVE'); print('held', flush=True); time.sleep(20)
"""], stdout=subprocess.PIPE, text=True)
holder.stdout.readline()
for i in range(4):
    t0 = time.monotonic()
    with aqm.acquisition(f"r{i}"):
        aqm.save_acquisition(x=np.arange(3))
    print(f"acquisition r{i} took {time.monotonic() - t0:.2f} s in the kernel thread", flush=True)
    time.sleep(0.5)
holder.kill(); holder.wait()
print("wait", aqm.wait_backends(60))
