from fixtures import check_binary, cluster, workdir  # noqa: F401


def pytest_configure(config):
    check_binary()
