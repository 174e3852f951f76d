"""Print the runtime dependencies of pyproject.toml, one per line (for the Dockerfile's cached layer).

The image installs dependencies before the package so that a code change does not reinstall them;
this reads them from the one place they are declared instead of a second, drifting list.
A second argument names optional extras to add (comma-separated, e.g. `k8s`).
"""

import sys
import tomllib

path = sys.argv[1] if len(sys.argv) > 1 else "pyproject.toml"
extras = [e for e in (sys.argv[2] if len(sys.argv) > 2 else "").split(",") if e]
with open(path, "rb") as fh:
    project = tomllib.load(fh)["project"]
requirements = list(project["dependencies"])
for extra in extras:
    requirements += project["optional-dependencies"][extra]
print("\n".join(requirements))
