"""``algorithm: rllib_ppo``: RLlib's PPO (new API stack) on a tracking env, logged like the
other trainers.

RLlib builds its default model from the env's spaces (an MLP encoder over the flat
observation of ``stvg/SyntheticTrackingFlat-v0``; a categorical + Gaussian head for the
``present``/``box`` action), so ``policy`` in the config is not read. The run directory has
the same layout as :class:`~stvg.training.loop.Trainer`'s (``config.yaml``,
``metrics.jsonl``, ``tb/``, ``checkpoints/iter_*/`` with RLlib's state in ``rllib_state.pt``)
and, where RLlib reports them, the same metric names:

==============================  ==========================================================
ours                            RLlib result key
==============================  ==========================================================
``charts/episodic_return``      ``env_runners/episode_return_mean``
``charts/episodic_length``      ``env_runners/episode_len_mean``
``charts/episodes``             ``env_runners/num_episodes``
``rewards/...``, ``charts/...``  the final step's ``info`` (t_iou, v_iou, reward terms),
                                logged by :class:`EpisodeInfoCallback`
``losses/loss``                 ``learners/default_policy/total_loss``
``losses/policy_loss``          ``learners/default_policy/policy_loss``
``losses/value_loss``           ``learners/default_policy/vf_loss``
``losses/entropy``              ``learners/default_policy/entropy``
``losses/approx_kl``            ``learners/default_policy/mean_kl_loss``
``losses/explained_variance``   ``learners/default_policy/vf_explained_var``
``charts/SPS``                  ``env_runners/num_env_steps_sampled / time_this_iter_s``
==============================  ==========================================================

RLlib's own checkpoints (``Algorithm.save_to_path``) are pickles, which run code when
loaded; a run is resumed from ``rllib_state.pt`` instead: ``Algorithm.get_state()`` (module
weights, optimizer state, connector and metrics state: plain data and numeric arrays),
read back without running code (:func:`~stvg.checkpoint_files.load_checkpoint_file`) into
an algorithm built from the run's config (``Algorithm.set_state``). A checkpoint folder of
an older run that holds only RLlib's pickles (``rllib/``) is not loaded.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stvg.checkpoint_files import CorruptCheckpoint, load_checkpoint_file, save_checkpoint_file
from stvg.config import to_dict
from stvg.envs.make import make_env
from stvg.envs.scoring import set_verifier_iteration
from stvg.training.config import TrainConfig
from stvg.training.lifecycle import ResumePoint, TrainerLifecycle
from stvg.training.rollout import METRIC_KEYS, METRIC_PREFIXES
from stvg.training.run_dir import RunDir
from stvg.training.workers import init_ray

#: RLlib's own (pickle) checkpoint folder, written by older versions; never loaded.
RLLIB_DIR = "rllib"
#: ``Algorithm.get_state()`` of a checkpoint, read without running code.
RLLIB_STATE = "rllib_state.pt"
_INFO_PREFIX = "stvg_info/"

#: ``our name -> path of keys in RLlib's result dict``.
RESULT_KEYS: dict[str, tuple[str, ...]] = {
    "charts/episodic_return": ("env_runners", "episode_return_mean"),
    "charts/episodic_length": ("env_runners", "episode_len_mean"),
    "charts/episodes": ("env_runners", "num_episodes"),
    "losses/loss": ("learners", "default_policy", "total_loss"),
    "losses/policy_loss": ("learners", "default_policy", "policy_loss"),
    "losses/value_loss": ("learners", "default_policy", "vf_loss"),
    "losses/entropy": ("learners", "default_policy", "entropy"),
    "losses/approx_kl": ("learners", "default_policy", "mean_kl_loss"),
    "losses/explained_variance": ("learners", "default_policy", "vf_explained_var"),
    "charts/learning_rate": ("learners", "default_policy", "default_optimizer_learning_rate"),
    "charts/global_step": ("num_env_steps_sampled_lifetime",),
    "time/iteration_s": ("time_this_iter_s",),
}


def _episode_info_callback() -> type:
    """The RLlib callback class (built lazily so importing this module needs no Ray)."""
    from ray.rllib.callbacks.callbacks import RLlibCallback

    from stvg.training.metrics import metric_name

    class EpisodeInfoCallback(RLlibCallback):
        """Logs the numeric figures of each episode's final ``info`` (t_iou, v_iou, reward
        terms, cost) as means over the iteration's episodes."""

        def on_episode_end(
            self, *, episode: Any, metrics_logger: Any = None, **kwargs: Any
        ) -> None:
            if metrics_logger is None:
                return
            infos = episode.get_infos()
            info = infos[-1] if len(infos) else {}
            for key, value in info.items():
                if key in METRIC_KEYS or key.startswith(METRIC_PREFIXES):
                    if isinstance(value, (bool, int, float)):
                        metrics_logger.log_value(
                            _INFO_PREFIX + metric_name(key),
                            float(value),
                            reduce="mean",
                            window=1000,
                        )

    return EpisodeInfoCallback


def _lookup(result: Mapping[str, Any], path: tuple[str, ...]) -> float | None:
    node: Any = result
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    try:
        return float(node)
    except (TypeError, ValueError):
        return None


def result_metrics(result: Mapping[str, Any]) -> dict[str, float]:
    """Our metric names from one ``Algorithm.train()`` result (see the module table)."""
    out: dict[str, float] = {}
    for name, path in RESULT_KEYS.items():
        value = _lookup(result, path)
        if value is not None:
            out[name] = value
    runners = result.get("env_runners", {})
    for key, value in sorted(runners.items()):
        if key.startswith(_INFO_PREFIX):
            out[key[len(_INFO_PREFIX) :]] = float(value)
    sampled = _lookup(result, ("env_runners", "num_env_steps_sampled"))
    seconds = out.get("time/iteration_s")
    if sampled is not None and seconds:
        out["charts/SPS"] = sampled / seconds
    return out


def rllib_config(config: TrainConfig) -> Any:
    """The RLlib ``PPOConfig`` of a :class:`TrainConfig` (env registered as
    ``stvg_rllib_env``)."""
    from ray.rllib.algorithms.ppo import PPOConfig as RLlibPPOConfig
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig
    from ray.tune.registry import register_env

    env = config.env
    register_env(
        "stvg_rllib_env",
        lambda _ctx: make_env(env.id, env.env_kwargs(), env.max_episode_steps),
    )
    r, rollout = config.rllib, config.rollout
    return (
        RLlibPPOConfig()
        .environment("stvg_rllib_env")
        .env_runners(
            num_env_runners=rollout.num_workers,
            num_envs_per_env_runner=r.num_envs_per_env_runner,
            num_cpus_per_env_runner=rollout.num_cpus_per_worker,
            num_gpus_per_env_runner=rollout.num_gpus_per_worker,
        )
        .training(
            train_batch_size_per_learner=r.train_batch_size,
            minibatch_size=r.minibatch_size,
            num_epochs=r.num_epochs,
            gamma=r.gamma,
            lambda_=r.lambda_,
            clip_param=r.clip_param,
            entropy_coeff=r.entropy_coeff,
            vf_loss_coeff=r.vf_loss_coeff,
            lr=config.learning_rate,
            grad_clip=config.max_grad_norm,
        )
        .rl_module(model_config=DefaultModelConfig(fcnet_hiddens=list(r.fcnet_hiddens)))
        .callbacks(_episode_info_callback())
        .debugging(seed=config.seed)
        .fault_tolerance(restart_failed_env_runners=True)
    )


class RLlibPPOTrainer(TrainerLifecycle):
    """Runs RLlib's PPO for ``config.iterations`` iterations into a run directory.

    The lifecycle (:meth:`create`, :meth:`resume`, :meth:`train`, :meth:`step`,
    :meth:`close`) is :class:`~stvg.training.lifecycle.TrainerLifecycle`'s, as for
    :class:`~stvg.training.loop.Trainer`; an iteration is one ``Algorithm.train()``, and a
    checkpoint holds RLlib's own (``checkpoints/iter_*/rllib``) beside ``trainer.pt``.

    Args:
        config: the run's config (``algorithm: rllib_ppo``).
        run_dir: its run directory.
        resume_from: the checkpoint to continue from (``None`` = fresh start).
    """

    def __init__(
        self, config: TrainConfig, run_dir: RunDir, resume_from: ResumePoint | None = None
    ) -> None:
        if config.algorithm != "rllib_ppo":
            raise ValueError(
                f"RLlibPPOTrainer runs algorithm 'rllib_ppo', got {config.algorithm!r}"
            )
        self.config = config
        self.run_dir = run_dir
        self._take_threads()
        self._owns_ray = init_ray(config.ray)
        self.algo = rllib_config(config).build_algo()
        self.iteration = 0
        if resume_from is not None:
            path = resume_from.checkpoint / RLLIB_STATE
            state = load_checkpoint_file(path, "RLlib state")
            if not isinstance(state, Mapping):
                raise CorruptCheckpoint(
                    f"{path} holds {type(state).__name__}, not RLlib's state (a mapping)"
                )
            try:
                self.algo.set_state(dict(state))
            except (KeyError, TypeError, ValueError, RuntimeError) as exc:
                raise CorruptCheckpoint(
                    f"{path} does not fit this run's algorithm ({type(exc).__name__}: "
                    f"{str(exc).strip()[:300]}); resume from a checkpoint of this run"
                ) from None
            self.iteration = int(resume_from.state["iteration"])

    @classmethod
    def check_checkpoint(cls, folder: Path, state: Mapping[str, Any]) -> None:
        """A checkpoint to resume from needs ``rllib_state.pt`` (RLlib's own pickle
        checkpoint of older runs is not loaded)."""
        if (folder / RLLIB_STATE).is_file():
            return
        if (folder / RLLIB_DIR).is_dir():
            raise CorruptCheckpoint(
                f"{folder} holds only RLlib's pickle checkpoint ({RLLIB_DIR}/), which could run "
                f"code when loaded, so stvg does not load it; it resumes RLlib runs from "
                f"{RLLIB_STATE}: start a new run"
            )
        raise CorruptCheckpoint(f"{folder} has no {RLLIB_STATE}")

    def _iterate(self) -> dict[str, float]:
        """One ``Algorithm.train()``; its results as stvg's metric keys."""
        start = time.perf_counter()
        self._tell_iteration(self.iteration + 1)
        result = self.algo.train()
        self.iteration += 1
        metrics = result_metrics(result)
        metrics.setdefault("time/iteration_s", time.perf_counter() - start)
        return metrics

    def _tell_iteration(self, iteration: int) -> None:
        """Tell every env runner's envs' verifiers the iteration they score next (terms with
        a schedule over training, such as ``gate`` with ``schedule_iterations``, read it), as
        the loop trainers do before each iteration's rollouts. RLlib's env runners hold a
        synchronous vector env (``env.unwrapped.envs``); an env runner that RLlib restarts
        within an iteration scores with no iteration (the gate's final threshold) until the
        next one."""

        def tell(runner: Any) -> None:
            vector = getattr(getattr(runner, "env", None), "unwrapped", None)
            for env in getattr(vector, "envs", None) or ():
                set_verifier_iteration(env, iteration)

        self.algo.env_runner_group.foreach_env_runner(tell, local_env_runner=True)

    def save_checkpoint(self) -> Path:
        """``Algorithm.get_state()`` in ``checkpoints/iter_*/rllib_state.pt`` plus
        ``trainer.pt``."""
        state = {
            "iteration": self.iteration,
            "algorithm": "rllib_ppo",
            "config": to_dict(self.config),
        }
        return self.run_dir.save_checkpoint(
            self.iteration,
            state,
            write_extra=lambda folder: save_checkpoint_file(
                self.algo.get_state(), folder / RLLIB_STATE
            ),
        )

    def _stop(self) -> None:
        """Stop RLlib's algorithm (its env runners)."""
        self.algo.stop()


__all__ = ["RESULT_KEYS", "RLLIB_STATE", "RLlibPPOTrainer", "result_metrics", "rllib_config"]
