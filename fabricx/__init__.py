"""fabricx: declarative deep-learning experiments.

Importing the package is cheap on purpose: torch and lightning load only inside the verbs
that need them, so `fabricx --help` and `fabricx config` answer at once.
"""

import time

__version__ = "0.1.0"

# When this process imported fabricx (about when the command started): the fit stage reports
# how long after this the first optimizer step ended (fit/first_step_s in metrics.json).
IMPORTED_AT = time.time()
