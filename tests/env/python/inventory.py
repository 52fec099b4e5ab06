"""Build-time inventory of /opt/app/venv, run by build.sh inside the rootfs.

Prints JSON: every installed distribution (name, version, dist-info path) and
the ones the app loads, found by importing the app module exactly as its
process does at start (app.py only serves when run as __main__).
"""

import importlib.metadata
import json
import sys

sys.path.insert(0, "/opt/app/python")
import app  # noqa: E402


def installed_distributions():
    installed = []
    for dist in importlib.metadata.distributions():
        metadata_file = next(f for f in dist.files if f.name == "METADATA")
        installed.append(
            {
                "name": dist.metadata["Name"],
                "version": dist.version,
                "path": str(metadata_file.locate().parent),
            }
        )
    return sorted(installed, key=lambda d: d["name"].lower())


json.dump(
    {"installed": installed_distributions(), "loaded": app.loaded_distributions()},
    sys.stdout,
    indent=1,
)
sys.stdout.write("\n")
