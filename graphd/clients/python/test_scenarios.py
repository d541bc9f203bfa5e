"""NebulaGraph's acceptance scenarios (scenarios/) played through nebula3-python against graphd
--nodes 3. Each feature gets a fresh graphd (upstream's features each start from an empty graph or
a new cluster) and runs its scenarios in order. A scenario with `fails` set must fail, and with a
message matching its evidence (then it is reported as xfail with its reason); should it pass or
fail otherwise, the run fails until its `fails` and the README's table are updated."""

import re

import pytest

from client import Cluster
from harness import Graphd
from scenario import Runner
from scenarios import FEATURES

CASES = [(feature, scenario) for feature in FEATURES for scenario in feature.SCENARIOS]


@pytest.fixture(scope="module")
def graphds():
    started = {}
    yield started
    for graphd in started.values():
        graphd.stop()


def cluster_for(graphds, feature):
    if feature.__name__ not in graphds:
        graphds[feature.__name__] = Graphd(
            nodes=3, flags=("--enable_authorize=true", "--session_reclaim_interval_secs=1"),
            log_name=feature.__name__.rsplit(".", 1)[-1])
    return Cluster(graphds[feature.__name__].addrs, sync_secs=1)


@pytest.mark.parametrize(
    "feature, scenario", CASES,
    ids=[f"{f.__name__.rsplit('.', 1)[-1]}: {s.name}" for f, s in CASES])
def test_scenario(graphds, feature, scenario):
    runner = Runner(cluster_for(graphds, feature))
    if scenario.fails is None:
        runner.play(scenario)
        return
    try:
        runner.play(scenario)
    except AssertionError as error:
        message = str(error)
        assert re.search(scenario.fails.evidence, message), (
            f"failed, but not as documented ({scenario.fails.evidence!r}): {message}")
        pytest.xfail(scenario.fails.why)
    pytest.fail(f"passes now: drop its `fails` ({scenario.fails.why}) and update the README")
