"""Runs nebula3-python's own tests (the sdist's tests/, unchanged) against a graphd --nodes 3
already listening on 127.0.0.1:9669-9671, and compares each test's outcome with EXPECTED below:
any difference (a test that should pass fails, or one explained as failing passes) fails the run.

    python upstream.py SDIST_TESTS_DIR

The upstream tests also dial [::1]:9669 (their docker-compose publishes graphd there); a
forwarder from [::1]:9669-9671 to 127.0.0.1 stands in for docker's port publishing."""

import os
import socket
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree

from tcp_proxy import Proxy

# The files run: every test that needs no storage or meta service, SSL or sample data.
FILES = ["test_connection.py", "test_pool.py", "test_session.py", "test_session_pool.py",
         "test_data_type.py"]

PASS, FAIL, SKIP = "passed", "failed", "skipped"
NO_DOCKER = ("stops graphd containers with `docker stop` (graphd runs its 3 nodes in one process "
             "and no docker here), so the node it expects down is still up")
# Not listed: passes. Listed: (outcome, why), or ((outcome, outcome), why) for a test whose
# outcome depends on the machine's speed.
EXPECTED = {
    "test_pool.py::test_remove_invalid_connection": (FAIL, NO_DOCKER),
    "test_session.py::TestSession::test_4_timeout": (
        (FAIL, PASS), "expects 500 `show hosts;` in one request to take over 100 ms (the "
        "client's timeout); graphd answers them in a few ms on an idle machine, so no time-out "
        "comes, but on a loaded one they can take longer and the test passes"),
    "test_pool.py::TestConnectionPool::test_timeout": (SKIP, "skipped upstream (needs nba data)"),
}
NOTES = {
    "test_session.py::TestSession::test_2_reconnect": "passes, but its `docker stop` of two "
    "graphds does nothing here: the reconnection path is not exercised",
    "test_connection.py::TestConnection::test_create": "its [::1] half goes through the forwarder",
}


def outcomes(junit_path):
    tree = ElementTree.parse(junit_path)
    found = {}
    for case in tree.iter("testcase"):
        parts = case.get("classname", "").split(".")
        at = next(i for i, part in enumerate(parts) if part.startswith("test_"))
        file, klass = parts[at] + ".py", ".".join(parts[at + 1:])
        test_id = "::".join(part for part in (file, klass, case.get("name")) if part)
        if case.find("skipped") is not None:
            found[test_id] = SKIP
        elif case.find("failure") is not None or case.find("error") is not None:
            found[test_id] = FAIL
        else:
            found[test_id] = PASS
    return found


def ipv6_forwarders(first_port):
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return []
    return [Proxy(("127.0.0.1", first_port + i), host="::1", port=first_port + i)
            for i in range(3)]


def main():
    tests_dir = sys.argv[1]
    forwarders = ipv6_forwarders(9669)
    work = tempfile.mkdtemp(prefix="upstream-")
    junit, log_path = os.path.join(work, "junit.xml"), os.path.join(work, "pytest.log")
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfE",
               f"--junitxml={junit}", *[os.path.join(tests_dir, f) for f in FILES]]
    try:
        with open(log_path, "wb") as log:
            status = subprocess.run(command, cwd=os.path.dirname(tests_dir), timeout=240,
                                    stdout=log, stderr=subprocess.STDOUT).returncode
    except subprocess.TimeoutExpired:
        print(f"upstream tests: timed out after 240 s (log: {log_path})")
        return 1
    finally:
        for forwarder in forwarders:
            forwarder.close()
    # The upstream suite logs at DEBUG: show pytest's own summary, keep the rest in the file.
    with open(log_path, errors="replace") as log:
        lines = log.read().splitlines()
    summary = [line for line in lines if line.startswith(("FAILED", "ERROR", "=", "SKIPPED"))]
    print("\n".join(summary[-20:]))
    print(f"(the upstream run's full output: {log_path})")
    if status not in (0, 1) or not os.path.exists(junit):
        print(f"upstream tests: pytest exited {status} (5: no tests collected)")
        return 1
    found = outcomes(junit)
    wrong = []
    print("\nupstream test                                                        outcome  expected")
    for test_id, outcome in sorted(found.items()):
        expected = EXPECTED.get(test_id, (PASS, ""))[0]
        allowed = expected if isinstance(expected, tuple) else (expected,)
        mark = "" if outcome in allowed else "   <-- differs"
        print(f"{test_id:<69} {outcome:<8} {' or '.join(allowed)}{mark}")
        if outcome not in allowed:
            wrong.append(test_id)
    missing = [test_id for test_id in EXPECTED if test_id not in found]
    for test_id in missing:
        print(f"{test_id}: expected {EXPECTED[test_id][0]!r} but did not run")
    counts = {kind: sum(1 for o in found.values() if o == kind) for kind in (PASS, FAIL, SKIP)}
    print(f"upstream: {counts[PASS]} passed, {counts[FAIL]} failed, {counts[SKIP]} skipped "
          f"({len(found)} run); {len(wrong) + len(missing)} differ from the expected table")
    if not found:
        return 1
    return 1 if wrong or missing else 0


if __name__ == "__main__":
    sys.exit(main())
