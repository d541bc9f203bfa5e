"""tests/tck/slowquery/PermissionViaSameService.feature and PermissionViaDifferentService.feature:
who may kill whose slow query. `graphd_sleep(100001)` stands for `GO 100001 STEPS ...` (and so on);
as in kill_slow_query.py, the pipes are also done by the client in a second form."""

from scenario import (OK, As, Background, Error, Fails, Join, KillMatching, Login, Re, Rows,
                      Run, Scenario, Wait)
from scenarios.kill_slow_query import KILLED, NBA

SAME = "tests/tck/slowquery/PermissionViaSameService.feature"
DIFFERENT = "tests/tck/slowquery/PermissionViaDifferentService.feature"

PICKED = Rows(["sid", "eid", "dur"], [[Re(r"[-+]?\d+"), Re(r"\d+"), Re(r"\d+")]], "in order")
NOT_GOD = Error("PermissionError", "Only GOD role could kill others' queries.")
FIX_7 = Fails("a deliberate fix (docs/fixes.md, fix 7): SHOW QUERIES shows a user who is not GOD only "
              "its own user's queries, so test_permission's listing of root's query is empty",
              r"rows \[\] != ")
SETUP_USER = [
    Run("CREATE USER IF NOT EXISTS test_permission WITH PASSWORD 'test';\n"
        "GRANT ROLE USER ON nba TO test_permission;"),
    Wait(10),
]


def slow(n):
    return f"YIELD graphd_sleep({n}) AS go_{n}_steps"


def piped(n, kill=True):
    text = ("USE nba;\n"
            "SHOW QUERIES\n"
            "| YIELD $-.SessionID AS sid, $-.ExecutionPlanID AS eid, $-.DurationInUSec AS dur\n"
            f"WHERE $-.DurationInUSec > 1000000 AND $-.`Query` CONTAINS \"graphd_sleep({n})\"")
    if kill:
        text += "\n| ORDER BY $-.dur\n| KILL QUERY(session=$-.sid, plan=$-.eid)"
    return text


def runner_login(runner, node):
    if runner == "root":
        return Login("runner", node=node)
    return Login("runner", node=node, user="test_permission", password="test")


def upstream(feature, tag, runner, victim_node, n, killers):
    """Upstream's pair of scenarios: `runner` starts the slow query on `victim_node`; each
    (user, password, expect) of `killers` lists it and kills it through the pipe, on node 0."""
    # Upstream starts the slow query (its scenario x01, run in parallel) before the user's
    # setup and its 10-second wait, so the query has run for seconds when it is listed.
    steps = [SETUP_USER[0], runner_login(runner, victim_node), Run("USE nba", as_="runner"),
             Background("slow", slow(n), as_="runner"), SETUP_USER[1]]
    user, password, _ = killers[0]
    steps.append(As(user, password, piped(n, kill=False), PICKED))
    for user, password, expect in killers:
        steps.append(As(user, password, piped(n), expect))
    steps.append(Join("slow", KILLED))
    # A user who is not GOD sees only its own user's queries (fix 7).
    lister = killers[0][0]
    fails = FIX_7 if lister not in ("root", runner) else None
    return Scenario(tag, feature, steps, fails=fails, background=NBA)


def client_side(feature, tag, runner, victim_node, n, killers):
    """The same with the pipe done by the client: each killer lists the queries on the slow
    query's node and kills from node 0."""
    steps = list(SETUP_USER) + [runner_login(runner, victim_node)]
    steps += [Run("USE nba", as_="runner"), Background("slow", slow(n), as_="runner"), Wait(10)]
    steps.append(Login("lister", node=victim_node))
    for index, (user, password, expect) in enumerate(killers):
        name = f"killer{index}"
        steps += [Login(name, node=0, user=user, password=password), Run("USE nba", as_=name)]
        if index == 0:
            steps.append(KillMatching(f"graphd_sleep({n})", PICKED, as_=name, show_as="lister"))
        steps.append(KillMatching(f"graphd_sleep({n})", expect, as_=name, show_as="lister"))
    steps.append(Join("slow", KILLED))
    return Scenario(tag + " (client-side pipe)", feature, steps, background=NBA)


ROOT_FAILS_THEN_ROOT = [("test_permission", "test", NOT_GOD), ("root", "nebula", OK)]
OWN = [("test_permission", "test", OK)]
ROOT = [("root", "nebula", OK)]

CASES = [
    (SAME, "[slowquery_test_401] + [slowquery_test_402] Kill successful by user root",
     "root", 0, 100001, ROOT_FAILS_THEN_ROOT),
    (SAME, "[slowquery_test_403] + [slowquery_test_404] Kill successful by user test_permission",
     "test_permission", 0, 100002, OWN),
    (DIFFERENT, "[slowquery_test_301] + [slowquery_test_302] Kill successful by user root",
     "root", 1, 100001, ROOT_FAILS_THEN_ROOT),
    (DIFFERENT,
     "[slowquery_test_303] + [slowquery_test_304] Kill successful by user test_permission",
     "test_permission", 0, 100002, OWN),
    (DIFFERENT, "[slowquery_test_305] + [slowquery_test_306] Kill successful by user root",
     "test_permission", 0, 100003, ROOT),
]

SCENARIOS = [upstream(*case) for case in CASES] + [client_side(*case) for case in CASES]
