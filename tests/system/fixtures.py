"""pytest fixtures shared by tests/system and tests/clients."""

import os
import shutil
import tempfile

import pytest

from cluster import CORRAL, Cluster


def check_binary():
    if not os.path.exists(CORRAL):
        raise pytest.UsageError(f"corral binary not found at {CORRAL}; run 'make' first")


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="corral-test-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def cluster(workdir, request):
    c = Cluster(workdir, agents=getattr(request, "param", 2))
    yield c
    problems = c.close()
    if problems:
        for d in c.daemons():
            print(f"----- {d.name} -----\n{d.output()[-20000:]}")
    assert not problems, problems
