"""An experiment folder that is a symlink to another disk (data/sine -> /big/sine): does
`labmate status` see its acquisitions, and does `labmate sync` keep their pending records?
usage: symlinked_experiment.py ROOT"""
import sys, os, shutil, subprocess
from pathlib import Path
import numpy as np
from labmate_core.acquisition_notebook import AcquisitionAnalysisManager
from labmate_core.backends import MirrorDirectoryBackend
from labmate_core import DH5

root = Path(sys.argv[1]); data, big, mirror = root / "data", root / "big", root / "mirror"
shutil.rmtree(root, ignore_errors=True); data.mkdir(parents=True); (big / "sine").mkdir(parents=True); mirror.mkdir()
os.symlink(big / "sine", data / "sine")
aqm = AcquisitionAnalysisManager(str(data), shell=None, backend=MirrorDirectoryBackend(mirror))
with aqm.acquisition("sine"):
    aqm.save_acquisition(x=np.arange(3))
print("first delivered:", aqm.wait_backends(30), aqm.current_filepath)
h5 = str(aqm.current_filepath) + ".h5"
# the mirror goes offline; a result is added: pending
os.rename(mirror, str(mirror) + ".off")
aqm.configure_backends(max_attempts=1)
aqm.d["fit"] = 1.0
aqm.wait_backends(30); aqm.close()
print("pending records:", os.listdir(data / ".labmate" / "pending"))
os.rename(str(mirror) + ".off", mirror)
cli = [sys.executable, "-m", "labmate_core.cli"]
r = subprocess.run([*cli, "status", str(data)], capture_output=True, text=True); print("status rc", r.returncode, r.stdout)
r = subprocess.run([*cli, "sync", str(data)], capture_output=True, text=True); print("sync rc", r.returncode, r.stdout)
print("pending records after sync:", [p for p in os.listdir(data / ".labmate" / "pending") if not p.startswith(".")])
print("mirror has fit:", "fit" in DH5(str(mirror / "sine" / os.path.basename(h5))).keys())
# unsubmitted write: is it seen as stale?
DH5(h5, "a=")["fit2"] = 2.0
r = subprocess.run([*cli, "status", str(data)], capture_output=True, text=True); print("status after a=", r.returncode, r.stdout)
