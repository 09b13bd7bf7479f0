"""Damaged delivered.sqlite: a row whose identity is JSON of the wrong shape, or a table of another
schema.  usage: damaged_delivered.py ROOT VARIANT (row_files_int | row_key_str | schema)"""
import sys, shutil, subprocess, sqlite3, json
from pathlib import Path
import numpy as np
from labmate_core.acquisition_notebook import AcquisitionAnalysisManager
from labmate_core.backends import MirrorDirectoryBackend

root = Path(sys.argv[1]); variant = sys.argv[2]
data, mirror = root / "data", root / "mirror"
shutil.rmtree(root, ignore_errors=True); data.mkdir(parents=True); mirror.mkdir()
aqm = AcquisitionAnalysisManager(str(data), shell=None, backend=MirrorDirectoryBackend(mirror))
for n in ("a", "b"):
    with aqm.acquisition(n):
        aqm.save_acquisition(x=np.arange(3))
aqm.wait_backends(30); aqm.close()
db = sqlite3.connect(data / ".labmate" / "delivered.sqlite")
rows = db.execute("select backend, prefix, identity from delivered").fetchall()
if variant == "schema":
    db.execute("drop table delivered"); db.execute("create table delivered (x)")
else:
    ident = json.loads(rows[0][2])
    name = next(iter(ident["files"]))
    if variant == "row_files_int":
        ident["files"][name] = 5
    elif variant == "row_key_str":
        ident["files"][name]["key"] = "zz"
    db.execute("update delivered set identity=? where prefix=?", (json.dumps(ident), rows[0][1]))
db.commit(); db.close()
for cmd in (["status", str(data)], ["sync", str(data)], ["status", str(data)]):
    r = subprocess.run([sys.executable, "-m", "labmate_core.cli", *cmd], capture_output=True, text=True)
    print(cmd[0], "rc", r.returncode, "|", r.stdout.strip()[-300:], "|", r.stderr.strip()[-300:])
