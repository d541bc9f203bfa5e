"""tests/tck/features/user/User.feature: CREATE/ALTER/DROP USER, CHANGE PASSWORD, GRANT and
REVOKE, SHOW USERS, SHOW ROLES, DESC USER. "Given an empty graph": the scenarios share one graphd,
in order, as upstream's share one cluster."""

from scenario import Error, Login, Rows, Run, Scenario, Wait

FEATURE = "tests/tck/features/user/User.feature"

SCENARIOS = [
    Scenario("Create User", FEATURE, [
        Run("DROP USER IF EXISTS user1"),
        Run('CREATE USER user1 WITH PASSWORD "pwd1"'),
        Run("DROP USER IF EXISTS user2"),
        Run("CREATE USER user2"),
        Run('CREATE USER user1 WITH PASSWORD "pwd1"', Error("ExecutionError")),
        Run('CREATE USER IF NOT EXISTS user1 WITH PASSWORD "pwd1"'),
        Run("SHOW USERS", Rows(["Account"], [["root"], ["user1"], ["user2"]])),
    ]),
    Scenario("Alter user", FEATURE, [
        Run("DROP USER IF EXISTS user_tmp"),
        Run('ALTER USER user_tmp WITH PASSWORD "pwd1"', Error("ExecutionError")),
        Run('CREATE USER IF NOT EXISTS user2 WITH PASSWORD "pwd2"'),
        Run('ALTER USER user2 WITH PASSWORD "pwd1"'),
        Run('CHANGE PASSWORD user2 FROM "pwd2" TO "pwd1"',
            Error("ExecutionError", "Invalid password!")),
        Run('CHANGE PASSWORD user2 FROM "pwd1" TO "pwd2"'),
    ]),
    Scenario("Drop user", FEATURE, [
        Run("CREATE USER IF NOT EXISTS usertmp"),
        Run("DROP USER usertmp"),
        Run("DROP USER IF EXISTS usertmp"),
        Run("DROP USER usertmp", Error("ExecutionError")),
    ]),
    Scenario("Change password of not existing user", FEATURE, [
        Run("DROP USER IF EXISTS usertmp"),
        Run('CHANGE PASSWORD usertmp FROM "pwd" TO "pwd"', Error("ExecutionError")),
    ]),
    Scenario("Change password", FEATURE, [
        Run('CREATE USER IF NOT EXISTS user1 WITH PASSWORD "pwd1"'),
        Run('CHANGE PASSWORD user1 FROM "pwd" TO "newpwd1"', Error("ExecutionError")),
        Run('CREATE USER IF NOT EXISTS user1 WITH PASSWORD "pwd1"'),
        Run('CHANGE PASSWORD user1 FROM "pwd1" TO "newpwd1"'),
        Run('CHANGE PASSWORD user1 FROM "newpwd1" TO "pwd1"'),
    ]),
    Scenario("Grant privilege", FEATURE, [
        Run("CREATE SPACE IF NOT EXISTS user_tmp_space(partition_num=1, replica_factor=1, "
            "vid_type=FIXED_STRING(8))"),
        Wait(10),
        Run("GRANT DBA TO user1", Error("SyntaxError")),
        Run("DROP USER IF EXISTS usertmp"),
        Run("GRANT DBA ON user_tmp_space TO usertmp", Error("ExecutionError")),
        Run('CREATE USER IF NOT EXISTS usertmp WITH PASSWORD "usertmp"'),
        Run("GRANT GOD ON user_tmp_space TO usertmp", Error("PermissionError")),
        Run("GRANT DBA ON user_tmp_space TO usertmp"),
        Run('CREATE USER IF NOT EXISTS usertmp_2 WITH PASSWORD "usertmp_2"'),
        Run("GRANT GUEST ON user_tmp_space TO usertmp_2"),
        Run("SHOW ROLES IN user_tmp_space", Rows(["Account", "Role Type"], [
            ["usertmp", "DBA"],
            ["usertmp_2", "GUEST"],
        ])),
        Run("DROP SPACE user_tmp_space;"),
    ]),
    Scenario("Grant privilege on not existing space", FEATURE, [
        Run("DROP SPACE IF EXISTS user_tmp_space_2"),
        Run('CREATE USER IF NOT EXISTS user1 WITH PASSWORD "pwd1"'),
        Run("GRANT ROLE DBA ON user_tmp_space_2 TO user1", Error("ExecutionError")),
    ]),
    Scenario("Revoke role", FEATURE, [
        Run("CREATE SPACE IF NOT EXISTS user_tmp_space_3(partition_num=1, replica_factor=1, "
            "vid_type=FIXED_STRING(8))"),
        Wait(10),
        Run('CREATE USER IF NOT EXISTS user1 WITH PASSWORD "pwd1"'),
        Run("GRANT ROLE DBA ON user_tmp_space_3 TO user1"),
        Run("REVOKE ROLE ADMIN ON user_tmp_space_3 FROM user1",
            Error("ExecutionError", "Improper role!")),
        Run("REVOKE ROLE DBA ON user_tmp_space_3 FROM user1"),
        Run("REVOKE ROLE DBA ON user_tmp_space_3 FROM user1",
            Error("ExecutionError", "Role not existed!")),
        Run("DROP SPACE IF EXISTS revoke_tmp_space"),
        Run("REVOKE ROLE DBA ON revoke_tmp_space FROM usertmp",
            Error("ExecutionError", "SpaceNotFound")),
        Run("DROP USER IF EXISTS user_revoke_tmp"),
        Run("REVOKE ROLE DBA ON user_tmp_space_3 FROM user_revoke_tmp",
            Error("ExecutionError", "User not existed!")),
        Run("DROP SPACE user_tmp_space_3;"),
    ]),
    Scenario("Describe User", FEATURE, [
        Run("CREATE SPACE IF NOT EXISTS user_tmp_space_4(partition_num=1, replica_factor=1, "
            "vid_type=FIXED_STRING(8))"),
        Wait(10),
        Run('CREATE USER IF NOT EXISTS user1 WITH PASSWORD "pwd1"'),
        Run("GRANT ROLE ADMIN ON user_tmp_space_4 TO user1"),
        Run('CREATE USER IF NOT EXISTS user2 WITH PASSWORD "pwd2"'),
        Run("GRANT ROLE ADMIN ON user_tmp_space_4 TO user2"),
        Run("SHOW USERS", Rows(["Account"], [["root"], ["user1"], ["user2"]])),
        Run("DESC USER root", Rows(["role", "space"], [["GOD", ""]], "any order")),
        Run("DESC USER user1", Rows(["role", "space"], [["ADMIN", "user_tmp_space_4"]],
                                    "any order")),
        Run("DESC USER user1 | YIELD $-.space as sp",
            Rows(["sp"], [["user_tmp_space_4"]], "any order")),
        Run("DESC USER user_not_exist", Error("ExecutionError")),
        # Upstream's "via graph 2" session: the feature does not say whose; the PermissionError
        # rows below imply a user who is not GOD, so user1 (ADMIN of the space) on node 1.
        Login("graph2", node=1, user="user1", password="pwd1"),
        Run("DESC USER user1", Rows(["role", "space"], [["ADMIN", "user_tmp_space_4"]],
                                    "any order"), as_="graph2"),
        Run("DESC USER user2", Error("PermissionError"), as_="graph2"),
        Run("GRANT ROLE GUEST ON user_tmp_space_4 TO user1"),
        Run("DESC USER root", Error("PermissionError"), as_="graph2"),
    ]),
]
