"""Dotted ``--set`` overrides and YAML numbers in exponent notation, on every config command."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stvg.cli import main
from stvg.config import (
    ConfigError,
    apply_overrides,
    from_yaml,
    load_yaml,
    parse_overrides,
    parse_yaml,
)
from stvg.experiments.run import load_run_config
from stvg.training.config import TrainConfig

CONFIGS = Path(__file__).resolve().parents[1] / "stvg" / "experiments" / "configs"


def test_exponent_numbers_are_floats_not_strings(tmp_path: Path) -> None:
    # PyYAML alone reads 1e-4 as the string "1e-4" (YAML 1.1 wants 1.0e-4).
    assert yaml.safe_load("lr: 1e-4") == {"lr": "1e-4"}
    assert parse_yaml("lr: 1e-4") == {"lr": 1e-4}
    assert parse_yaml("[1E5, -2e-3, +3e2, 1.5e1, 7, '1e-4', v1e4]") == [
        1e5,
        -2e-3,
        300.0,
        15.0,
        7,
        "1e-4",
        "v1e4",
    ]
    path = tmp_path / "train.yaml"
    path.write_text("learning_rate: 1e-4\nadam_eps: 1e-8\n", encoding="utf-8")
    config = from_yaml(TrainConfig, path)
    assert config.learning_rate == 1e-4 and config.adam_eps == 1e-8
    assert load_yaml(path)["adam_eps"] == 1e-8


def test_overrides_are_parsed_as_yaml_and_set_by_dotted_path() -> None:
    overrides = parse_overrides(
        ["rl.learning_rate=1e-5", "env.fps=2", "seed=3", "env.verifier=null", "rl.grpo.beta=0.04"]
    )
    assert overrides == {
        "rl.learning_rate": 1e-5,
        "env.fps": 2,
        "seed": 3,
        "env.verifier": None,
        "rl.grpo.beta": 0.04,
    }
    base = {"rl": {"learning_rate": 1e-4, "grpo": {"group_size": 8}}, "env": {"fps": 1.0}}
    merged = apply_overrides(base, overrides)
    assert merged["rl"] == {"learning_rate": 1e-5, "grpo": {"group_size": 8, "beta": 0.04}}
    assert merged["env"] == {"fps": 2, "verifier": None} and merged["seed"] == 3
    assert base["rl"]["learning_rate"] == 1e-4  # the input is not changed
    with pytest.raises(ConfigError, match="not KEY=VALUE"):
        parse_overrides(["rl.learning_rate"])
    with pytest.raises(ConfigError, match="not KEY=VALUE"):
        parse_overrides(["rl..lr=1"])
    with pytest.raises(ConfigError, match="config key env.fps is 1.0, not a mapping"):
        apply_overrides({"env": {"fps": 1.0}}, {"env.fps.x": 1})


def test_run_config_overrides_are_typed_and_validated() -> None:
    config = load_run_config(
        CONFIGS / "quickstart.yaml",
        parse_overrides(["rl.learning_rate=1e-5", "env.fps=2", "seed=3"]),
    )
    assert config.rl.learning_rate == 1e-5 and config.env.fps == 2.0 and config.seed == 3
    # the typed stage configs follow the run's sections
    assert config.rl.env.fps == config.sft.env.fps == 2.0 and config.rl.seed == 3
    with pytest.raises(ConfigError, match="env.bogus"):
        load_run_config(CONFIGS / "quickstart.yaml", {"env.bogus": 1})
    with pytest.raises(ConfigError, match="env.fps"):
        load_run_config(CONFIGS / "quickstart.yaml", {"env.fps": "fast"})


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", str(CONFIGS / "quickstart.yaml"), "--set", "rl.grpo.bogus=1"], "rl.grpo.bogus"),
        (["run", str(CONFIGS / "quickstart.yaml"), "--set", "seed"], "not KEY=VALUE"),
        (["train", str(CONFIGS / "hcstvg2_qwen25vl7b_grpo.yaml"), "--set", "bogus=1"], "bogus"),
        (
            ["train-sft", "--config", str(CONFIGS / "sft_native.yaml"), "--set", "lr=fast"],
            "lr",
        ),
        (
            ["synth-cot", "--config", str(CONFIGS / "synth_scene.yaml"), "--set", "keep=some"],
            "keep",
        ),
        (
            [
                "evaluate",
                "--policy",
                str(CONFIGS / "eval_native.yaml"),
                "--dataset",
                "synthetic",
                "--split",
                "test",
                "--set",
                "batch_size=0",
            ],
            "batch_size",
        ),
    ],
)
def test_every_config_command_takes_set_and_names_a_bad_key(argv, message, capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_an_empty_config_file_is_a_clear_error(tmp_path, capsys) -> None:
    """Issue 14.5: an empty YAML used to run every default (``stvg run``) or fail on an
    unrelated key (``stvg train``: policy.vocab)."""
    from stvg.cli import main

    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing here yet\n", encoding="utf-8")
    for command in (["run", str(empty)], ["train", str(empty)], ["sweep", str(empty)]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert f"{empty} is empty" in err and "Traceback" not in err
