"""Fixtures of graphd's nebula3-python suite.

`cluster`: the graphd --nodes 3 every test shares (authorization on, one-second sync rounds).
`cargo xtask clients` starts it on 9669-9671 and passes GRAPHD_PORT; run alone (GRAPHD_BIN set,
no GRAPHD_PORT) the suite starts its own on free ports. `start_graphd` starts another graphd with
other flags (idle expiry, the per-(user, ip) limit) for one test and stops it after."""

import os

import pytest

from harness import Graphd
from client import Cluster

# The flags `cargo xtask clients` starts the shared graphd with; a graphd started here uses the same.
SHARED_FLAGS = ("--enable_authorize=true", "--session_reclaim_interval_secs=1")


@pytest.fixture(scope="session")
def cluster():
    port = os.environ.get("GRAPHD_PORT")
    if port:
        yield Cluster([("127.0.0.1", int(port) + i) for i in range(3)], sync_secs=1)
        return
    graphd = Graphd(nodes=3, flags=SHARED_FLAGS, log_name="shared")
    try:
        yield Cluster(graphd.addrs, sync_secs=1)
    finally:
        graphd.stop()


@pytest.fixture
def start_graphd():
    started = []

    def start(flags, nodes=3, name="extra"):
        graphd = Graphd(nodes=nodes, flags=("--enable_authorize=true", *flags), log_name=name)
        started.append(graphd)
        return graphd

    yield start
    for graphd in started:
        graphd.stop()
