"""Chain-of-thought synthesis with ground-truth replacement: the paper's SFT data."""
