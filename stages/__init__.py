"""One thin module per DVC stage (see dvc.yaml)."""
