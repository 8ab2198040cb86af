import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "system"))
from fixtures import check_binary, cluster, workdir  # noqa: E402,F401


def pytest_configure(config):
    check_binary()
