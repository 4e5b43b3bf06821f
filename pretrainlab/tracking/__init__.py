"""Experiment trackers (``tracking:`` in params.yaml): the training and evaluate stages also log their
step metrics, results, params and provenance to DVCLive files, TensorBoard, MLflow or Weights & Biases.

Operational, like ``resources:``: no stage lists the section, so turning a tracker on or off reruns
nothing. Only rank 0 logs; a tracker's library is imported only when a run uses it
(:mod:`pretrainlab.tracking.registry`), and a tracker that fails is dropped with one warning
(:class:`pretrainlab.tracking.tracker.Tracker`).
"""
