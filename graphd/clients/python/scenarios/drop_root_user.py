"""tests/tck/features/bugfix/DropRootUser.feature (NebulaGraph issue 4879)."""

from scenario import Error, Run, Scenario

FEATURE = "tests/tck/features/bugfix/DropRootUser.feature"

SCENARIOS = [
    Scenario("Drop root user", FEATURE, [
        Run("DROP USER root", Error("SemanticError", "Can't drop root user.")),
    ]),
]
