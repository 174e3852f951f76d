"""Print the runtime dependencies of pyproject.toml, one per line (for the Dockerfile's cached layer).

The image installs dependencies before the package so that a code change does not reinstall them;
this reads them from the one place they are declared instead of a second, drifting list.
"""

import sys
import tomllib

with open(sys.argv[1] if len(sys.argv) > 1 else "pyproject.toml", "rb") as fh:
    print("\n".join(tomllib.load(fh)["project"]["dependencies"]))
