"""One command line: every config-driven command takes its config positionally (``--config``
kept as an alias), and each ``--set`` help shows an example that is valid for that command."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from stvg.cli import build_parser, main
from stvg.config import parse_overrides

CONFIGS = Path(__file__).resolve().parents[1] / "stvg" / "experiments" / "configs"
CONFIG_COMMANDS = ("run", "train", "sweep", "train-sft", "synth-cot")


def _subparser(*words: str) -> argparse.ArgumentParser:
    parser = build_parser()
    for word in words:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[word]
    return parser


@pytest.mark.parametrize("command", CONFIG_COMMANDS)
def test_config_positional_or_as_an_alias(command: str) -> None:
    parser = build_parser()
    assert parser.parse_args([command, "a.yaml"]).config == "a.yaml"
    assert parser.parse_args([command, "--config", "a.yaml"]).config == "a.yaml"
    assert parser.parse_args([command, "a.yaml", "--config", "a.yaml"]).config == "a.yaml"


@pytest.mark.parametrize("command", ["run", "sweep", "train-sft", "synth-cot"])
def test_a_missing_or_doubled_config_is_a_usage_error(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as missing:
        main([command])
    assert missing.value.code == 2
    assert "the following arguments are required: CONFIG" in capsys.readouterr().err
    with pytest.raises(SystemExit) as twice:
        main([command, "a.yaml", "--config", "b.yaml"])
    assert twice.value.code == 2
    assert "the config is given twice (a.yaml and b.yaml)" in capsys.readouterr().err


def _set_example(*words: str) -> dict:
    """The overrides of the ``--set`` example in the help of ``stvg <words>``."""
    parser = _subparser(*words)
    action = next(a for a in parser._actions if a.dest == "overrides")
    example = re.search(r"e\.g\. --set (.+?) \(values", action.help).group(1)
    return parse_overrides(example.split())


def test_each_set_example_is_valid_for_its_command() -> None:
    """Before, every command showed run's `rl.learning_rate=1e-5 env.fps=2 seed=3`: not a
    key of train-sft, sweep, synth-cot or the exports."""
    from stvg.evaluation import load_policy_eval_config
    from stvg.experiments.run import load_run_config
    from stvg.experiments.sweep import load_sweep_config
    from stvg.synthesis import load_synthesis_config
    from stvg.training.rl_commands import load_train_config
    from stvg.training.sft import load_sft_config

    examples = {
        words: _set_example(*words)
        for words in [
            ("run",),
            ("train",),
            ("sweep",),
            ("train-sft",),
            ("synth-cot",),
            ("evaluate",),
            ("export", "verl"),
            ("export", "trl"),
        ]
    }
    assert len({str(e) for e in examples.values()}) >= 6  # each command its own
    run = load_run_config(CONFIGS / "quickstart.yaml", examples[("run",)])
    assert run.rl.learning_rate == 1e-5 and run.seed == 3
    train = load_train_config(str(CONFIGS / "hcstvg2_qwen25vl7b_grpo.yaml"), examples[("train",)])
    assert train.iterations == 20 and train.learning_rate == 1e-5
    sweep, _ = load_sweep_config(CONFIGS / "sweeps" / "fps.yaml", examples[("sweep",)])
    assert sweep.max_concurrent_trials == 1
    for name in ("sft_native.yaml", "sft_vlm_tiny.yaml"):
        assert load_sft_config(CONFIGS / name, examples[("train-sft",)]).epochs == 5
    synth = load_synthesis_config(CONFIGS / "synth_scene.yaml", examples[("synth-cot",)])
    assert synth.limit == 10 and synth.keep == "consistent"
    evaluation = load_policy_eval_config(CONFIGS / "eval_native.yaml", examples[("evaluate",)])
    assert evaluation.limit == 10
    from stvg.config import from_dict
    from stvg.envs.config import EnvConfig
    from stvg.exports.commands import _split_overrides
    from stvg.policies.vlm.config import VLMPolicyConfig

    for engine in ("verl", "trl"):
        policy, env = _split_overrides(examples[("export", engine)])
        assert from_dict(VLMPolicyConfig, {**policy, "model_path": "m"}).min_pixels == 3136
        assert from_dict(EnvConfig, {"dataset": "synthetic", **env}).max_frames == 16


def test_run_help_names_every_policy() -> None:
    """`stvg run` runs the VLM and the tracking policy too, not only the native one."""
    description = _subparser("run").description
    assert "native policy" not in description and "VLM" in description


def test_train_on_a_run_config_says_which_command_reads_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`stvg train quickstart.yaml` said only `unknown config key data`."""
    assert main(["train", str(CONFIGS / "quickstart.yaml")]) == 2
    err = capsys.readouterr().err
    assert "is a `stvg run` config" in err and "grpo_native.yaml" in err
