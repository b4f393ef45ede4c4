"""Host resource readings, shared with the client's host agent.

The code lives in the stdlib client package (`client/tuneboard/sampling.py`), so a GPU
host running only `python -m tuneboard.agent` samples exactly as `manage.py
sample_resources` does. This module *is* that module: importing `monitoring.sampling`
gives the same module object as `tuneboard.sampling` (whether the client is installed or
only present in the repository), so patches and loggers apply to both names alike.
"""

import sys
from pathlib import Path

try:
    from tuneboard import sampling as _shared
except ImportError:  # the client package is in the repo but not pip-installed
    sys.path.append(str(Path(__file__).resolve().parent.parent / "client"))
    from tuneboard import sampling as _shared

if __name__ == "__main__":  # python -m monitoring.sampling: print one sample
    _shared.main()
else:
    sys.modules[__name__] = _shared
