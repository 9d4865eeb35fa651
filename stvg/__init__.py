"""stvg."""
