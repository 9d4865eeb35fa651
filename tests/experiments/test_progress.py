"""One progress display per long stage: a bar on a (pseudo-)terminal, periodic lines in a log,
nothing with ``--no-progress``; ``stvg run`` shows one for each of its long stages."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from stvg.progress import Progress, choose_mode, progress

ROOT = Path(__file__).resolve().parents[2]


def run_on_a_terminal(argv: list[str], timeout: float = 240.0, **env: str) -> tuple[int, str, str]:
    """Run ``argv`` with stderr on a pseudo-terminal (stdout a pipe); returns the exit
    status, stdout and what the terminal showed."""
    master, slave = pty.openpty()
    environ = {k: v for k, v in os.environ.items() if k != "STVG_PROGRESS"}
    environ.update(COLUMNS="160", **env)
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL, env=environ
    )
    os.close(slave)
    shown, deadline = b"", time.monotonic() + timeout
    while True:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the terminal closed: the process is gone
                break
            if not chunk:
                break
            shown += chunk
        elif process.poll() is not None:
            break
        assert time.monotonic() < deadline, shown.decode(errors="replace")[-2000:]
    os.close(master)
    out = process.stdout.read().decode()  # type: ignore[union-attr]
    return process.wait(), out, shown.decode(errors="replace")


STAGE = (
    "from stvg.progress import progress\n"
    "import time\n"
    "with progress(5, 'SFT', unit='epochs') as bar:\n"
    "    for epoch in range(5):\n"
    "        time.sleep(0.05)\n"
    "        bar.update(1, loss=0.5 - 0.1 * epoch)\n"
)


def test_a_bar_on_a_terminal() -> None:
    code, _, shown = run_on_a_terminal([sys.executable, "-c", STAGE])
    assert code == 0, shown
    assert "\r" in shown  # redrawn in place
    final = [piece for piece in re.split(r"[\r\n]+", shown) if piece.strip()][-1]
    assert re.search(r"SFT: 100%.*5/5", final) and "loss 0.100" in final, shown
    assert shown.count("\n") <= 2  # one bar, not a line per update


def test_lines_in_a_log_and_nothing_when_off() -> None:
    stream = io.StringIO()
    bar = Progress(5, "SFT", mode="lines", unit="epochs", stream=stream, every_s=0.0)
    for epoch in range(5):
        bar.update(1, **{"loss": 0.5, "val m_vIoU": 0.25 + epoch / 100})
    bar.write("early stop")
    bar.close()
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert lines[0].startswith("SFT: 1/5 epochs (20%), ") and ", ETA " in lines[0]
    assert lines[0].endswith("; loss 0.500, val m_vIoU 0.250")
    assert lines[-2] == "early stop" and lines[-1].startswith("SFT: 5/5 epochs (100%)")
    assert "ETA" not in lines[-1]  # done
    quiet = io.StringIO()
    with progress(3, "x", enabled=False, stream=quiet) as off:
        off.update(3, loss=1.0)
        off.write("a line")
    assert quiet.getvalue() == ""


def test_the_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STVG_PROGRESS", raising=False)
    assert choose_mode(True, io.StringIO()) == "lines"  # not a terminal
    assert choose_mode(False, io.StringIO()) == "off"
    monkeypatch.setenv("STVG_PROGRESS", "bar")
    assert choose_mode(True, io.StringIO()) == "bar"
    assert choose_mode(False, io.StringIO()) == "off"  # --no-progress wins


@pytest.mark.timeout(300)
def test_stvg_run_shows_one_bar_per_long_stage(tmp_path: Path) -> None:
    """SFT inside `stvg run` used to print nothing for minutes: on a terminal every long
    stage shows its bar (SFT epochs with the validation metric, the evaluations, RL with
    its reward), and --no-progress shows none."""
    from test_run import tiny_config

    config = tiny_config(tmp_path)
    config["sft"].update(epochs=2, eval_every=1, patience=2)
    config["data"].update(n_train=6, val_size=2)
    config["rl"]["progress_bar"] = True
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    argv = [sys.executable, "-m", "stvg.cli", "run", str(path)]
    code, out, shown = run_on_a_terminal(argv, PYTHONPATH=str(ROOT))
    assert code == 0, shown[-3000:]
    final = {}
    for piece in re.split(r"[\r\n]+", shown):
        match = re.match(r"\s*([A-Za-z][\w ]*?): +100%\|", piece)
        if match:
            final[match.group(1)] = piece
    stages = {"generate train", "generate test", "SFT", "evaluate sft", "RL grpo", "evaluate rl"}
    assert stages <= set(final), sorted(final)
    assert "2/2" in final["SFT"] and "val m_vIoU" in final["SFT"]
    assert "reward" in final["RL grpo"]
    assert "[6/6] report" in out
    code, out, shown = run_on_a_terminal(
        [*argv, "--no-progress", "--name", "quiet"], PYTHONPATH=str(ROOT)
    )
    assert code == 0 and "100%|" not in shown and "[6/6] report" in out
