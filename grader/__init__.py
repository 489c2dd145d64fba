"""nndl-grader: grades the nndl / CS231n Optimization homework against the reference."""
__version__ = "0.1.0"
