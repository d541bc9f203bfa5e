"""tests/tck/slowquery/KillSlowQueryBaseTest.feature, KillSlowQueryViaSameService.feature and
KillSlowQueryViaDiffrentService.feature. `graphd_sleep(ms)` stands for upstream's
`GO 100000 STEPS FROM "Tim Duncan" OVER like` (graphd stores no graph); the slow query, which
upstream runs as a parallel scenario, is a Background step joined at the end. Scenarios whose
statements use pipes also come in a "client-side pipe" form (KillMatching) that runs the same
filter and kills from the client (they were written before graphd's parser knew pipes, and still
show the kill idiom working with the listing read on another node: `show_as`)."""

from scenario import (OK, Background, Error, Fails, Join, KillMatching, Login, Re, Rows, Run, Scenario,
                      Wait)

BASE = "tests/tck/slowquery/KillSlowQueryBaseTest.feature"
SAME = "tests/tck/slowquery/KillSlowQueryViaSameService.feature"
DIFFERENT = "tests/tck/slowquery/KillSlowQueryViaDiffrentService.feature"

NBA = [Run("CREATE SPACE IF NOT EXISTS nba(vid_type=FIXED_STRING(30))"), Run("USE nba")]
SLOW = "YIELD graphd_sleep(100000) AS go_100000_steps"
KILLED = Error("ExecutionError", "Execution had been killed")
QUERY_COLUMNS = ["SessionID", "ExecutionPlanID", "User", "Host", "StartTime", "DurationInUSec",
                 "Status", "Query"]
PICKED = Rows(["sid", "eid", "dur"], [[Re(r"[-+]?\d+"), Re(r"\d+"), Re(r"\d+")]], "in order")

SHOW_ALL = Fails("SHOW ALL QUERIES is NebulaGraph 2.x grammar (3.x and graphd: SHOW [LOCAL] QUERIES, "
                 "which lists every query)",
                 "syntax error near `ALL'")


def base(number, title, stmt, expect, fails=None):
    return Scenario(f"[slowquery_test_{number:03}] {title}", BASE, [Run(stmt, expect)],
                    fails=fails, background=NBA)


SCENARIOS = [
    base(1, "without sessionId and planId", "KILL QUERY ()",
         Error("SyntaxError", "syntax error near `)'")),
    base(2, "without sessionId", "KILL QUERY (session=123)",
         Error("SyntaxError", "syntax error near `)'")),
    base(3, "without planId", "KILL QUERY (plan=987654321)",
         Error("ExecutionError", "ExecutionPlanId[987654321] does not exist in current Session.")),
    base(4, "wrong sessionId and planId", "KILL QUERY (session=987654321, plan=987654321)",
         Error("ExecutionError", "SessionId[987654321] does not exist")),
    base(5, "sessionId is STRING", 'KILL QUERY (session="100", plan=101)',
         Error("SyntaxError", "syntax error near `\", plan='")),
    base(6, "planId is STRING", 'KILL QUERY (session=100, plan="101")',
         Error("SyntaxError", "syntax error near `\")'")),
    base(7, "sessionId and planId are STRING", 'KILL QUERY (session="100", plan="101")',
         Error("SyntaxError", "syntax error near `\", plan='")),
    base(8, "wrong sessionId", "KILL QUERY (session=$-.sid)",
         Error("SyntaxError", "syntax error near `)'")),
    base(9, "wrong planId", "KILL QUERY (plan=$-.eid)",
         Error("SemanticError", "`$-.eid', not exist prop `eid'")),
    base(10, "wrong sessionId and planId", "KILL QUERY (session=$-.sid, plan=$-.eid)",
         Error("SemanticError", "`$-.sid', not exist prop `sid'")),
    base(11, "show queries", "SHOW LOCAL QUERIES", OK),
    base(12, "show queries", "SHOW QUERIES", OK),
    Scenario("[slowquery_test_013] sessionId is string", BASE, [
        Login("graph1", node=1),
        Run("SHOW QUERIES\n"
            "| YIELD $-.SessionID AS sid, $-.`Query` AS eid, $-.DurationInUSec AS dur "
            "WHERE $-.DurationInUSec > 10000000\n"
            "| ORDER BY $-.dur\n"
            "| KILL QUERY (session=$-.sid, plan=$-.eid)",
            Error("SemanticError", "$-.eid, Session ID must be an integer but was STRING"),
            as_="graph1"),
    ], background=NBA),
    # Upstream's two scenarios of this feature run in parallel: the first's slow query is the
    # one the second shows and kills.
    Scenario("Set up slow query + Show all queries and kill all slow queries", SAME, [
        Login("slow"),
        Background("slow", SLOW, as_="slow"),
        Run("SHOW QUERIES"),
        Run("SHOW ALL QUERIES"),
        Wait(10),
        Run("SHOW ALL QUERIES", Rows(QUERY_COLUMNS, [
            [Re(r"\d+"), Re(r"\d+"), "root", Re(".*"), Re(".*"), Re(r"\d+"), "RUNNING", SLOW],
        ], "in order")),
        Run("SHOW ALL QUERIES\n"
            "| YIELD $-.SessionID AS sid, $-.ExecutionPlanID AS eid, $-.DurationInUSec AS dur\n"
            "WHERE $-.DurationInUSec > 1000000 AND $-.`Query` CONTAINS \"graphd_sleep(100000)\";",
            PICKED),
        Run("KILL QUERY ()", Error("SyntaxError", "syntax error near `)'")),
        Run("KILL QUERY (session=123)", Error("SyntaxError", "syntax error near `)'")),
        Run("KILL QUERY (plan=987654321)", Error(
            "ExecutionError", "ExecutionPlanId[987654321] does not exist in current Session.")),
        Run("KILL QUERY (session=987654321, plan=987654321)",
            Error("ExecutionError", "SessionId[987654321] does not exist")),
        Run("KILL QUERY (session=$-.sid, plan=$-.eid)",
            Error("SemanticError", "`$-.sid', not exist prop `sid'")),
        Run("KILL QUERY (plan=$-.eid)", Error("SemanticError", "`$-.eid', not exist prop `eid'")),
        Run("SHOW ALL QUERIES\n"
            "| YIELD $-.SessionID AS sid, $-.`Query` AS eid, $-.DurationInUSec AS dur "
            "WHERE $-.DurationInUSec > 10000000\n"
            "| ORDER BY $-.dur\n"
            "| KILL QUERY (session=$-.sid, plan=$-.eid)",
            Error("SemanticError", "$-.eid, Session ID must be an integer but was STRING")),
        Run("SHOW ALL QUERIES\n"
            "| YIELD $-.SessionID AS sid, $-.ExecutionPlanID AS eid, $-.DurationInUSec AS dur\n"
            "WHERE $-.DurationInUSec > 1000000 AND $-.`Query` CONTAINS \"graphd\"\n"
            "| ORDER BY $-.dur\n"
            "| KILL QUERY(session=$-.sid, plan=$-.eid)"),
        Join("slow", KILLED),
    ], fails=SHOW_ALL, background=NBA),
    Scenario("[slowquery_test_101] + [slowquery_test_102] Kill go sentence", DIFFERENT, [
        Login("slow"),
        Background("slow", SLOW, as_="slow"),
        Login("graph1", node=1),
        Run("SHOW QUERIES", as_="graph1"),
        Wait(10),
        Run("SHOW QUERIES\n"
            "| YIELD $-.SessionID AS sid, $-.ExecutionPlanID AS eid, $-.DurationInUSec AS dur\n"
            "WHERE $-.DurationInUSec > 1000000 AND $-.`Query` CONTAINS \"graphd_sleep(100000)\";",
            PICKED, as_="graph1"),
        Run("SHOW QUERIES\n"
            "| YIELD $-.SessionID AS sid, $-.ExecutionPlanID AS eid, $-.DurationInUSec AS dur\n"
            "WHERE $-.DurationInUSec > 1000000 AND $-.`Query` CONTAINS \"graphd_sleep(100000)\"\n"
            "| ORDER BY $-.dur\n"
            "| KILL QUERY(session=200, plan=$-.eid)",
            Error("ExecutionError", "SessionId[200] does not exist"), as_="graph1"),
        Run("SHOW QUERIES\n"
            "| YIELD $-.SessionID AS sid, $-.ExecutionPlanID AS eid, $-.DurationInUSec AS dur\n"
            "WHERE $-.DurationInUSec > 1000000 AND $-.`Query` CONTAINS \"graphd_sleep(100000)\"\n"
            "| ORDER BY $-.dur\n"
            "| KILL QUERY(session=$-.sid, plan=201)",
            Error("ExecutionError"), as_="graph1"),
        Run("SHOW QUERIES\n"
            "| YIELD $-.SessionID AS sid, $-.ExecutionPlanID AS eid, $-.DurationInUSec AS dur\n"
            "WHERE $-.DurationInUSec > 1000000 AND $-.`Query` CONTAINS \"graphd_sleep(100000)\"\n"
            "| ORDER BY $-.dur\n"
            "| KILL QUERY(session=$-.sid, plan=$-.eid)", as_="graph1"),
        Join("slow", KILLED),
    ], background=NBA),
    # The same two features with the pipes done by the client.
    Scenario("Show queries and kill all slow queries (client-side pipe)", SAME, [
        Login("slow"),
        Background("slow", SLOW, as_="slow"),
        Run("SHOW QUERIES"),
        Wait(10),
        Run("SHOW QUERIES", Rows(QUERY_COLUMNS, [
            [Re(r"\d+"), Re(r"\d+"), "root", Re(".*"), Re(".*"), Re(r"\d+"), "RUNNING", SLOW],
        ])),
        KillMatching("graphd_sleep(100000)", PICKED),
        KillMatching("graphd", OK),
        Join("slow", KILLED),
    ], background=NBA),
    Scenario("Kill go sentence via graph 1 (client-side pipe)", DIFFERENT, [
        Login("slow"),
        Background("slow", SLOW, as_="slow"),
        Login("graph1", node=1),
        Wait(10),
        KillMatching("graphd_sleep(100000)", PICKED, as_="graph1"),
        KillMatching("graphd_sleep(100000)", OK, as_="graph1"),
        Join("slow", KILLED),
    ], background=NBA),
    Scenario("Kill go sentence via graph 1, listed on graph 0 (client-side pipe)", DIFFERENT, [
        Login("slow"),
        Background("slow", SLOW, as_="slow"),
        Login("graph1", node=1),
        Wait(10),
        KillMatching("graphd_sleep(100000)", PICKED, as_="graph1", show_as="root"),
        KillMatching("graphd_sleep(100000)", OK, as_="graph1", show_as="root"),
        Join("slow", KILLED),
    ], background=NBA),
]
