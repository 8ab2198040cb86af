import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "system"))
from conftest import cluster, workdir  # noqa: E402,F401  (the same fixtures)
