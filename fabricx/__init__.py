"""fabricx: declarative deep-learning experiments.

Importing the package is cheap on purpose: torch and lightning load only inside the verbs
that need them, so `fabricx --help` and `fabricx config` answer at once.
"""

__version__ = "0.1.0"
