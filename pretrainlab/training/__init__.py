"""Training: planning, the loop, checkpoints, devices and distributed launch."""
