"""Delivered .h5, then hard-linked (a backup with `cp -l`/rsync --link-dest) and rewritten by
DH5(path, "a=") in the same second (1-s timestamps, same size): labmate status must say stale.
usage: hardlink_same_second.py ROOT(on ext2 -I 128) [N]"""
import sys, time, subprocess, json, shutil, os
import numpy as np, h5py
from pathlib import Path
from labmate_core.acquisition_notebook import AcquisitionAnalysisManager
from labmate_core.backends import MirrorDirectoryBackend
from labmate_core import DH5

root = Path(sys.argv[1]); N = int(sys.argv[2]) if len(sys.argv) > 2 else 5
WRITES = int(sys.argv[3]) if len(sys.argv) > 3 else 1
data, mirror, backup = root / "data", root / "mirror", root / "backup"
for p in (data, mirror, backup):
    shutil.rmtree(p, ignore_errors=True); p.mkdir()
aqm = AcquisitionAnalysisManager(str(data), shell=None, backend=MirrorDirectoryBackend(mirror))
bad = 0
for trial in range(N):
    time.sleep(1 - time.time() % 1 + 0.01)
    with aqm.acquisition(f"t{trial}"):
        aqm.save_acquisition(x=np.array([1.0, 2.0, 3.0]))
    prefix = Path(aqm.current_filepath); h5 = Path(str(prefix) + ".h5")
    aqm.wait_backends(30)
    from labmate_core.dh5 import storage
    g0 = storage.generation(h5)
    os.link(h5, backup / h5.name)
    for w in range(WRITES):
        d = DH5(str(h5), "a=")
        d["x"] = np.array([7.0 - WRITES + 1 + w, 8.0, 9.0])
    print("generation before link", g0, "after writes", storage.generation(h5), "sibling", storage._read_generation(os.open(h5.with_name("." + h5.name + ".lock"), os.O_RDONLY)))
    r = subprocess.run([sys.executable, "-m", "labmate_core.cli", "status", str(data), "--json"], capture_output=True, text=True)
    st = json.loads(r.stdout)
    states = [s["state"] for a in st["acquisitions"] if a["prefix"].endswith(prefix.name) for s in a["backends"].values()]
    with h5py.File(mirror / prefix.parent.name / h5.name) as f:
        m = f["x"][0]
    print(f"trial {trial}: local x[0]=7.0 mirror x[0]={m} status={states} rc={r.returncode}", flush=True)
    if states != ["stale"]:
        bad += 1
print("status wrongly 'delivered':", bad, "/", N)
aqm.close()
# the next process on the directory: does it deliver?
r = subprocess.run([sys.executable, "-c", "import sys\nfrom labmate_core.acquisition_notebook import AcquisitionAnalysisManager\naqm = AcquisitionAnalysisManager(sys.argv[1], shell=None)\nprint('wait', aqm.wait_backends(30))", str(data)], capture_output=True, text=True)
r = subprocess.run([sys.executable, "-m", "labmate_core.cli", "sync", str(data)], capture_output=True, text=True)
wrong = 0
for h5 in data.rglob("*.h5"):
    with h5py.File(mirror / h5.parent.name / h5.name) as f:
        wrong += f["x"][0] != 7.0
print("after next process + labmate sync, mirror copies still old:", wrong, "/", N)
