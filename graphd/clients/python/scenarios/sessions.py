"""tests/tck/features/admin/Sessions.feature: SHOW SESSIONS and SHOW LOCAL SESSIONS on a cluster
of 3 graph nodes, each row's GraphAddr the node that holds the session. Upstream's "login" steps
only open sessions: its queries keep running on the scenario's first session (root on graphd[0],
the class-scoped `session` fixture), which is what the expected rows of SHOW LOCAL SESSIONS say."""

from scenario import Login, Re, Rows, Run, Scenario, Wait

FEATURE = "tests/tck/features/admin/Sessions.feature"

COLUMNS = ["SessionId", "UserName", "SpaceName", "CreateTime", "UpdateTime", "GraphAddr",
           "Timezone", "ClientIp"]
ANY = Re(".*")
ID = Re(r"\d+")
LOCAL_IP = Re(r".*\b127\.0\.0\.1\b.*")

SCENARIOS = [
    Scenario("Show sessions", FEATURE, [
        Run("SHOW SESSIONS;", Rows(COLUMNS, [[ID, "root", "", ANY, ANY, ANY, 0, LOCAL_IP]])),
        Run("CREATE USER user1 WITH PASSWORD 'nebula1';\n"
            "CREATE SPACE IF NOT EXISTS s1(vid_type=int);\n"
            "USE s1;"),
        Wait(3),
        Login("user1", node=1, user="user1", password="nebula1"),
        Run("SHOW SESSIONS;", Rows(COLUMNS, [
            [ID, "root", "s1", ANY, ANY, "{addr0}", 0, LOCAL_IP],
            [ID, "user1", "", ANY, ANY, "{addr1}", 0, LOCAL_IP],
        ])),
    ]),
    Scenario("Show local sessions", FEATURE, [
        Run("SHOW SESSIONS;", Rows(COLUMNS, [[ID, "root", "", ANY, ANY, ANY, 0, LOCAL_IP]])),
        Run("CREATE USER IF NOT EXISTS user1 WITH PASSWORD 'nebula1';\n"
            "CREATE USER IF NOT EXISTS user2 WITH PASSWORD 'nebula2';\n"
            "CREATE SPACE IF NOT EXISTS root_space(vid_type=int);\n"
            "USE root_space;"),
        Wait(3),
        Login("user1", node=1, user="user1", password="nebula1"),
        Login("user2", node=2, user="user2", password="nebula2"),
        Wait(3),
        Run("SHOW SESSIONS;", Rows(COLUMNS, [
            [ID, "root", "root_space", ANY, ANY, "{addr0}", 0, LOCAL_IP],
            [ID, "user1", "", ANY, ANY, "{addr1}", 0, LOCAL_IP],
            [ID, "user2", "", ANY, ANY, "{addr2}", 0, LOCAL_IP],
        ])),
        Run("SHOW LOCAL SESSIONS;", Rows(COLUMNS, [
            [ID, "root", "root_space", ANY, ANY, "{addr0}", 0, LOCAL_IP],
        ])),
    ]),
]
