"""graphd as a child process for the client suites: started from its binary on loopback ports
with a fresh --data_path, ready when every node accepts a connection, stopped by its pid.

The binary is $GRAPHD_BIN (xtask sets it to target/release/graphd)."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

ROOT_USER, ROOT_PASSWORD = "root", "nebula"


def graphd_bin():
    path = os.environ.get("GRAPHD_BIN")
    if not path or not os.path.exists(path):
        raise RuntimeError("set GRAPHD_BIN to graphd's binary (cargo xtask clients does)")
    return path


def free_port_block(count):
    """A first port such that `count` consecutive loopback ports are free just now."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        if first + count >= 65535:
            continue
        if all(port_free(first + i) for i in range(count)):
            return first
    raise RuntimeError("no block of free ports")


def port_free(port):
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Graphd:
    """One graphd process: `nodes` graph nodes on `port`, `port + 1`, ..."""

    def __init__(self, port=None, nodes=3, flags=(), log_name="graphd", control=False):
        self.nodes = nodes
        self.port = port if port is not None else free_port_block(nodes)
        self.dir = tempfile.mkdtemp(prefix=f"graphd-clients-{log_name}-")
        self.log_path = os.path.join(self.dir, "graphd.log")
        args = [
            graphd_bin(),
            f"--port={self.port}",
            f"--nodes={nodes}",
            f"--data_path={os.path.join(self.dir, 'data')}",
            *flags,
        ]
        if control:  # node crashes by command; graphd stops when this process's pipe closes
            args.append("--control_stdin")
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            args, stdin=subprocess.PIPE if control else None, stdout=self.log,
            stderr=subprocess.STDOUT)
        self._wait_ready(20.0)

    @property
    def addrs(self):
        return [("127.0.0.1", self.port + i) for i in range(self.nodes)]

    def addr_text(self, node):
        return f"127.0.0.1:{self.port + node}"

    def _wait_ready(self, seconds):
        deadline = time.monotonic() + seconds
        pending = list(self.addrs)
        while pending:
            if self.process.poll() is not None:
                raise RuntimeError(f"graphd exited with {self.process.returncode}: {self.log_tail()}")
            try:
                with socket.create_connection(pending[0], timeout=0.5):
                    pending.pop(0)
                    continue
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"graphd not listening on {pending}: {self.log_tail()}")
            time.sleep(0.05)

    def control(self, command, seconds=20.0):
        """Sends `crash N` or `restart N` (node N from 1; graphd started with control=True) and
        waits for graphd's acknowledgement (`crashed N` / `restarted N`) in its log."""
        verb, node = command.split()
        ack = {"crash": "crashed", "restart": "restarted"}[verb] + f" {node}"
        before = self._log_lines().count(ack)
        self.process.stdin.write((command + "\n").encode())
        self.process.stdin.flush()
        deadline = time.monotonic() + seconds
        while self._log_lines().count(ack) <= before:
            errors = [line for line in self._log_lines() if line.startswith("error: ")]
            if errors or time.monotonic() > deadline:
                raise RuntimeError(f"graphd did not {command}: {errors or self.log_tail()}")
            time.sleep(0.02)

    def _log_lines(self):
        self.log.flush()
        with open(self.log_path, "rb") as log:
            return log.read().decode(errors="replace").splitlines()

    def log_tail(self):
        self.log.flush()
        with open(self.log_path, "rb") as log:
            return log.read()[-2000:].decode(errors="replace")

    def stop(self):
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
