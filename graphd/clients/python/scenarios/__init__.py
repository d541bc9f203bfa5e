"""NebulaGraph's acceptance scenarios that need no storage service, transcribed as data
(`scenario.py` describes the format). Each module is one upstream feature file of
vesoft-inc/nebula; its statements and expected results are NebulaGraph's. Where graphd cannot
run a scenario as written, `fails` says why (a bug of ours, or a documented deliberate
difference); the README's table lists them."""

from scenarios import drop_root_user, kill_slow_query, sessions, slow_query_permission, user

FEATURES = [user, sessions, drop_root_user, kill_slow_query, slow_query_permission]
