"""pretrainlab: declarative, versioned pipelines for pretraining-objective research."""

__version__ = "0.1.0"
