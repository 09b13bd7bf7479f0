"""A pending record whose fields have the wrong JSON types (valid JSON, right shape).
usage: damaged_pending.py ROOT VARIANT   (VARIANT: submitted_str | attempts_str | state_int | legacy_bad)"""
import sys, json, shutil, subprocess, os
from pathlib import Path
import numpy as np
from labmate_core.acquisition_notebook import AcquisitionAnalysisManager
from labmate_core.backends import MirrorDirectoryBackend

root = Path(sys.argv[1]); variant = sys.argv[2]
data, mirror = root / "data", root / "mirror"
for p in (data, mirror):
    shutil.rmtree(p, ignore_errors=True)
data.mkdir(); mirror.mkdir()
aqm = AcquisitionAnalysisManager(str(data), shell=None, backend=MirrorDirectoryBackend(mirror))
for name in ("a", "b"):
    with aqm.acquisition(name):
        aqm.save_acquisition(x=np.arange(3))
    aqm.wait_backends(30)
aqm.close()
# a second, pending acquisition: mirror removed while it is delivered
os.rename(mirror, str(mirror) + ".away")
aqm = AcquisitionAnalysisManager(str(data), shell=None)
aqm.configure_backends(max_attempts=1) if hasattr(aqm, "configure_backends") else None
for name in ("c", "d"):
    with aqm.acquisition(name):
        aqm.save_acquisition(x=np.arange(3))
aqm.wait_backends(30)
aqm.close()
os.rename(str(mirror) + ".away", mirror)
pending = sorted((data / ".labmate" / "pending").glob("*.json"))
print("pending records:", [p.name for p in pending])
rec = json.loads(pending[0].read_text())
print(json.dumps(rec)[:400])
name = next(iter(rec["backends"]))
if variant == "submitted_str":
    rec["backends"][name]["submitted"] = "yesterday"
elif variant == "attempts_str":
    rec["backends"][name]["attempts"] = "3"
elif variant == "state_int":
    rec["backends"][name]["state"] = 7
elif variant == "prefix_int":
    rec["prefix"] = 5
if variant == "legacy_bad":
    legacy = data / ".labmate" / "pending" / "mirror-0000000000"
    legacy.mkdir()
    (legacy / "x.json").write_text("{broken")
else:
    pending[0].write_text(json.dumps(rec))
r = subprocess.run([sys.executable, "-m", "labmate_core.cli", "status", str(data)], capture_output=True, text=True)
print("status rc", r.returncode, "\nstdout:", r.stdout[-800:], "\nstderr:", r.stderr[-800:])
r = subprocess.run([sys.executable, "-c", "import sys\nfrom labmate_core.acquisition_notebook import AcquisitionAnalysisManager\naqm = AcquisitionAnalysisManager(sys.argv[1], shell=None)\nprint('wait', aqm.wait_backends(30))", str(data)], capture_output=True, text=True)
print("next process rc", r.returncode, r.stdout[-300:], r.stderr[-800:])
r = subprocess.run([sys.executable, "-m", "labmate_core.cli", "sync", str(data)], capture_output=True, text=True)
print("sync rc", r.returncode, "\nstdout:", r.stdout[-600:], "\nstderr:", r.stderr[-800:])
r = subprocess.run([sys.executable, "-m", "labmate_core.cli", "status", str(data)], capture_output=True, text=True)
print("final status rc", r.returncode, "\nstdout:", r.stdout[-800:], "\nstderr:", r.stderr[-800:])
print("mirror has:", sorted(p.name for p in mirror.rglob("*.h5")))
