#!/usr/bin/env bash
# GRPO on Qwen2.5-VL-7B-Instruct with verl 0.9.1, on stvg's exported parquet and verifier.
# Every option is explained in docs/verl.md. First export the data (any machine, no GPU):
#
#   stvg export verl --model $MODEL --dataset hcstvg2 --split train --root $HCSTVG2 --fps 1 \
#       --max-side 448 --image-format jpeg --out $DATA/train.parquet
#   stvg export verl --model $MODEL --dataset hcstvg2 --split val --root $HCSTVG2 --fps 1 \
#       --max-side 448 --image-format jpeg --out $DATA/val.parquet
#
# (HC-STVG v2 ships train and val; v1, --dataset hcstvg, ships train and test.)
#
# then, on the head node of a Ray cluster with stvg installed on every node (docs/cluster.md):
#
#   MODEL=... DATA=... NGPUS=8 NNODES=1 bash examples/verl/run_grpo_qwen2_5_vl_7b.sh
#
# Extra arguments are passed on to verl as Hydra overrides (they win over the ones below).
# PRINT_OVERRIDES=1 prints the overrides instead of launching (the tests compose them with
# verl's own config: tests/exports/test_verl_launch.py).
set -euo pipefail

MODEL=${MODEL:-$HOME/models/Qwen2.5-VL-7B-Instruct}
DATA=${DATA:-$HOME/data/stvg}
NGPUS=${NGPUS:-8}
NNODES=${NNODES:-1}

overrides=(
  # --- algorithm: GRPO (group-normalised advantages, no critic), KL as a loss term
  algorithm.adv_estimator=grpo
  algorithm.use_kl_in_reward=False
  # --- data: stvg's parquet, read by StvgRLHFDataset (exact frames and frame times)
  "data.train_files=$DATA/train.parquet"
  "data.val_files=$DATA/val.parquet"
  data.custom_cls.path=pkg://stvg.exports.verl_dataset
  data.custom_cls.name=StvgRLHFDataset
  data.train_batch_size=128
  data.max_prompt_length=8192
  data.max_response_length=512
  data.filter_overlong_prompts=True
  data.truncation=error
  # --- the policy (FSDP learner)
  "actor_rollout_ref.model.path=$MODEL"
  actor_rollout_ref.model.use_remove_padding=True
  actor_rollout_ref.model.enable_gradient_checkpointing=True
  actor_rollout_ref.actor.optim.lr=1e-6
  actor_rollout_ref.actor.ppo_mini_batch_size=32
  actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=2
  actor_rollout_ref.actor.use_kl_loss=True
  actor_rollout_ref.actor.kl_loss_coef=0.01
  actor_rollout_ref.actor.kl_loss_type=low_var_kl
  actor_rollout_ref.actor.entropy_coeff=0
  actor_rollout_ref.actor.loss_agg_mode=token-mean
  actor_rollout_ref.actor.fsdp_config.param_offload=False
  actor_rollout_ref.actor.fsdp_config.optimizer_offload=False
  # --- rollouts (vLLM): 8 answers per prompt, sampled at temperature 1
  actor_rollout_ref.rollout.name=vllm
  actor_rollout_ref.rollout.n=8
  actor_rollout_ref.rollout.temperature=1.0
  actor_rollout_ref.rollout.tensor_model_parallel_size=2
  actor_rollout_ref.rollout.gpu_memory_utilization=0.6
  actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=4
  # --- the frozen reference of the KL term
  actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=4
  actor_rollout_ref.ref.fsdp_config.param_offload=True
  # --- reward: stvg's verifier (tIoU + vIoU), scored by verl's naive reward manager
  reward.custom_reward_function.path=pkg://stvg.verifiers.adapters.verl
  reward.custom_reward_function.name=compute_score
  reward.reward_manager.name=naive
  # --- trainer
  "trainer.n_gpus_per_node=$NGPUS"
  "trainer.nnodes=$NNODES"
  'trainer.logger=["console","tensorboard"]'
  trainer.project_name=stvg
  trainer.experiment_name=grpo_qwen2_5_vl_7b
  trainer.total_epochs=2
  trainer.save_freq=50
  trainer.test_freq=25
  trainer.val_before_train=True
  trainer.critic_warmup=0
)

if [[ "${PRINT_OVERRIDES:-0}" == 1 ]]; then
  printf '%s\n' "${overrides[@]}" "$@"
  exit 0
fi
exec python3 -m verl.trainer.main_ppo "${overrides[@]}" "$@"
