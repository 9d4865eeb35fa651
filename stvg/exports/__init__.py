"""Exports of stvg datasets to the RL engines users scale up on: verl and TRL.

Both start from the same :class:`~stvg.exports.samples.ExportSample` of a sample (what
:class:`~stvg.policies.vlm.prompter.VLMPrompter` builds for the VLM policy: the prompt,
the shown frames, their times, and the ground-truth record with the answer contract), so an
engine trains on exactly what ``stvg``'s own trainer and evaluation show the model, and
scores with the same verifier (:mod:`stvg.verifiers.adapters`).

* :mod:`stvg.exports.verl` — a parquet file for verl's ``RLHFDataset`` and the dataset class
  ``StvgRLHFDataset`` that hands verl the frames with their exact times (``stvg export verl``).
* :mod:`stvg.exports.trl` — a ``datasets.Dataset`` for TRL's ``GRPOTrainer``, the frames as
  images (``stvg export trl``).
"""
