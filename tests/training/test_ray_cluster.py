"""``stvg train`` (and, slow, ``stvg sweep``) on a real two-node Ray cluster started on
this machine, and the one-line error for a ``ray.address`` where nothing listens.

The cluster is two ``ray start --block`` processes, each its own raylet with its own
``--temp-dir``, 4 CPUs and custom resource (``head_node`` / ``node_b``), each in its own
process session. They are stopped by killing those two process groups (their Ray
processes die with them), never with ``ray stop``, which would kill every Ray process on
the machine, other users' included.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import ray
import yaml
from rl_helpers import TINY_MODEL, grounding_config, make_native_checkpoint, make_split

from stvg.cli import main
from stvg.config import ConfigError, from_dict
from stvg.training.config import RayConfig, TrainConfig
from stvg.training.run_dir import read_metrics
from stvg.training.worker_setup import DRIVER_CWD_VAR, enter_driver_cwd
from stvg.training.workers import RayConnectError, init_ray

REPO = Path(__file__).resolve().parents[2]
RAY = Path(sys.executable).parent / "ray"
STVG = Path(sys.executable).parent / "stvg"
START_TIMEOUT_S = 90.0
#: CPUs of each node: room for both rollout workers on one node, so that only the spread
#: placement puts them on two (Ray's default fills a node to half before using another).
NODE_CPUS = 4
#: Waits (up to argv[2] s) until the cluster at argv[1] has 2 alive nodes; prints them.
NODES_PROBE = """
import json, sys, time
import ray
ray.init(address=sys.argv[1], log_to_driver=False)
deadline = time.monotonic() + float(sys.argv[2])
while len(alive := [n for n in ray.nodes() if n["Alive"]]) < 2 and time.monotonic() < deadline:
    time.sleep(0.3)
custom = ("head_node", "node_b")
print(json.dumps([
    {"id": n["NodeID"], "resource": next((k for k in n["Resources"] if k in custom), None)}
    for n in alive
]))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _node_ports() -> list[str]:
    """Ports two raylets on one machine would otherwise both take by default."""
    return [
        f"--dashboard-agent-listen-port={_free_port()}",
        f"--dashboard-agent-grpc-port={_free_port()}",
        f"--metrics-export-port={_free_port()}",
        f"--runtime-env-agent-port={_free_port()}",
    ]


def _auth_env() -> dict[str, str]:
    """Token authentication, as Ray 2.60 turns on for a head when a token exists: every
    process of the test (nodes, this driver, ``stvg train``) reads the same token."""
    if not (os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")):
        token = Path.home() / ".ray" / "auth_token"
        if not token.is_file():  # what Ray's own `ray get-auth-token --generate` writes
            token.parent.mkdir(parents=True, exist_ok=True)
            token.write_text(secrets.token_hex(32), encoding="utf-8")
    return {"RAY_AUTH_MODE": "token"}


@dataclass
class Cluster:
    """A running two-node cluster: its address, temp root, env and node processes."""

    address: str
    base: Path
    env: dict[str, str]
    procs: list[subprocess.Popen] = field(default_factory=list)

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}:\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(self.base.glob("*.log"))
        )

    def start_node(self, name: str, args: list[str]) -> None:
        log = open(self.base / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
        cmd = [str(RAY), "start", "--block", "--disable-usage-stats", f"--num-cpus={NODE_CPUS}"]
        cmd += ["--include-log-monitor=false", f"--temp-dir={self.base / name}"]
        cmd += [*_node_ports(), *args]
        proc = subprocess.Popen(
            cmd,
            env=self.env,
            cwd=self.base,  # where its workers start: not where `stvg train` runs
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.procs.append(proc)

    def check_alive(self) -> None:
        for proc in self.procs:
            if proc.poll() is not None:
                pytest.fail(f"a ray start process exited ({proc.returncode}):\n{self.logs()}")

    def stop(self) -> list[str]:
        """Kill both nodes' process groups; the command lines of whatever of theirs is
        still alive 15 s later."""
        for proc in reversed(self.procs):
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # its session's process group
            except ProcessLookupError:
                pass
            proc.wait(timeout=30)
        deadline = time.monotonic() + 15.0
        while True:
            found = subprocess.run(
                ["pgrep", "-af", str(self.base)], capture_output=True, text=True
            ).stdout.splitlines()
            if not found or time.monotonic() > deadline:
                return found
            time.sleep(0.5)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """Head (resource ``head_node``) and a second node (``node_b``) joined to it; both are
    seen alive by ``ray.nodes()`` before the tests start."""
    base = Path(tempfile.mkdtemp(prefix="stvg-ray-", dir="/tmp"))  # short: socket paths
    env = {**os.environ, **_auth_env(), "RAY_USAGE_STATS_ENABLED": "0"}
    env["RAY_enable_worker_prestart"] = "0"  # no idle workers: 2 CPUs shared by the tests
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    port = _free_port()
    c = Cluster(address=f"127.0.0.1:{port}", base=base, env=env)
    try:
        c.start_node(
            "head",
            [
                "--head",
                f"--port={port}",
                "--include-dashboard=false",  # still a minimal dashboard process:
                f"--dashboard-port={_free_port()}",  # not 8265, which others' Ray may hold
                f"--ray-client-server-port={_free_port()}",
                '--resources={"head_node": 1}',
            ],
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            c.check_alive()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"the head did not listen on {port}:\n{c.logs()}")
                time.sleep(0.3)
        c.start_node("node_b", [f"--address={c.address}", '--resources={"node_b": 1}'])
        # From another process, as a user would: this one's Ray has its auth mode fixed.
        probe = subprocess.run(
            [sys.executable, "-c", NODES_PROBE, c.address, str(START_TIMEOUT_S)],
            env=env,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S + 60,
        )
        c.check_alive()
        assert probe.returncode == 0, probe.stderr[-3000:] + c.logs()
        nodes = json.loads(probe.stdout.strip().splitlines()[-1])
        assert len({n["id"] for n in nodes}) == 2  # two raylets, alive
        assert sorted(n["resource"] for n in nodes) == ["head_node", "node_b"]
        yield c
    finally:
        left = c.stop()
        shutil.rmtree(base, ignore_errors=True)
        assert not left, f"Ray processes left behind: {left}"


@pytest.mark.parametrize(
    "placement, nodes",
    [("spread", 2), pytest.param("default", 1, marks=pytest.mark.slow)],
)
def test_train_on_two_nodes_plays_on_both(
    placement: str, nodes: int, cluster: Cluster, tmp_path: Path
) -> None:
    root = make_split(tmp_path / "data")
    make_native_checkpoint(root, root / "init.pt")
    # Paths relative to the directory of `stvg train`, not of `ray start` (the workers
    # start there), and 4 one-prompt tasks: the pool queues 2 on each of the 2 workers.
    config = grounding_config(
        Path("data"),
        Path("data/init.pt"),
        Path("runs"),
        iterations=1,
        batch_size=4,
        rollout={
            "num_workers": 2,
            "task_size": 1,
            "num_cpus_per_worker": 1,
            "placement": placement,
        },
    )
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    done = subprocess.run(
        [str(STVG), "train", str(path), "--set", f"ray.address={cluster.address}"],
        env=cluster.env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:] + cluster.logs()
    (run,) = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    (line,) = read_metrics(run)
    # Each worker reported its own node id with every task it played: spread, the two
    # workers played on the two nodes; Ray's default put both on one (either fits both).
    assert line["workers/nodes"] == nodes
    assert line["workers/restarts"] == 0.0
    assert line["charts/trained_rows"] == 16  # 4 prompts x group of 4
    saved = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))
    assert saved["ray"]["address"] == cluster.address


def _sweep_file(tmp_path: Path, rl: dict) -> Path:
    """A one-trial sweep of a tiny pipeline (data, SFT, RL, evaluations)."""
    base = {
        "name": "tiny",
        "seed": 1,
        "data": {"root": str(tmp_path / "data"), "n_train": 4, "n_test": 2},
        "env": {"fps": 1.0, "max_frames": 4, "max_side": 32},
        "sft": {"epochs": 1, "batch_size": 4, "model": TINY_MODEL, "threads": 1},
        "rl": {
            "algorithm": "grpo",
            "iterations": 1,
            "batch_size": 2,
            "progress_bar": False,
            "torch_threads": 1,
            "grpo": {"group_size": 2},
            **rl,
        },
        "eval": {"batch_size": 4},
    }
    sweep = {
        "name": "cluster",
        "out_dir": str(tmp_path / "sweeps"),
        "base": base,
        "grid": {"seed": [0]},
        "resources": {"cpu": 1},
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.slow
def test_sweep_runs_its_trial_on_the_cluster(cluster: Cluster, tmp_path: Path) -> None:
    # The trial's placement group holds the trial and its 2 rollout workers (1 CPU each).
    path = _sweep_file(tmp_path, {"rollout": {"num_workers": 2, "task_size": 1}})
    done = subprocess.run(
        [str(STVG), "sweep", str(path), "--set", f"ray.address={cluster.address}"],
        env=cluster.env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-4000:]
    with (tmp_path / "sweeps" / "cluster" / "results.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(r["trial"], r["status"]) for r in rows] == [("seed=0", "ok")]


@pytest.mark.parametrize("command", ["train", "sweep"])
def test_unreachable_address_is_one_clear_error(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if command == "train":
        root = make_split(tmp_path / "data", n=2)
        checkpoint = make_native_checkpoint(root, root / "init.pt")
        config = grounding_config(
            root, checkpoint, tmp_path / "runs", rollout={"num_workers": 2, "task_size": 1}
        )
        path = tmp_path / "run.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
    else:
        path = _sweep_file(tmp_path, {"rollout": {"num_workers": 0}})
    port = _free_port()  # closed again: nothing listens there
    ray.shutdown()
    start = time.monotonic()
    code = main([command, str(path), "--set", f"ray.address=127.0.0.1:{port}"])
    elapsed = time.monotonic() - start
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"stvg {command}: error: ray.address='127.0.0.1:{port}': ")
    assert f"cannot reach 127.0.0.1:{port}: Connection refused" in err
    assert "ray start --head" in err and "Traceback" not in err
    assert elapsed < 30  # Ray alone retries for minutes
    assert not ray.is_initialized()


def test_connect_timeout_and_config_checks() -> None:
    ray.shutdown()
    # A listening socket whose accept queue (backlog 0: one connection) is full drops the
    # next handshake: the TCP check waits connect_timeout_s, then says so.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            start = time.monotonic()
            with pytest.raises(RayConnectError, match=r"no answer within 0\.5 s") as error:
                init_ray(RayConfig(address=f"127.0.0.1:{port}", connect_timeout_s=0.5))
            assert 0.4 < time.monotonic() - start < 5
    assert str(error.value).startswith(f"ray.address='127.0.0.1:{port}': cannot reach")
    closed = _free_port()
    with pytest.raises(RayConnectError, match=f"cannot reach 127.0.0.1:{closed}: Connection"):
        init_ray(RayConfig(address=f"ray://127.0.0.1:{closed}"))
    assert not ray.is_initialized()
    with pytest.raises(ConfigError, match=r"ray\.connect_timeout_s.*> 0, got 0"):
        from_dict(TrainConfig, {"ray": {"connect_timeout_s": 0}})
    with pytest.raises(ConfigError, match=r"rollout\.placement"):
        from_dict(TrainConfig, {"rollout": {"placement": "pack"}})


def test_worker_setup_enters_the_driver_directory_where_it_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    driver, node = tmp_path / "driver", tmp_path / "node"
    driver.mkdir()
    node.mkdir()
    monkeypatch.chdir(node)
    monkeypatch.setenv(DRIVER_CWD_VAR, str(tmp_path / "missing"))
    enter_driver_cwd()  # this node lacks the directory: stay, and say so
    assert Path.cwd() == node
    assert f"{tmp_path / 'missing'} does not exist on this node" in caplog.text
    monkeypatch.setenv(DRIVER_CWD_VAR, str(driver))
    enter_driver_cwd()
    assert Path.cwd() == driver
