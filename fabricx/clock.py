"""When this process imported fabricx: about when the command started.

The fit stage reports how long after this the first optimizer step ended
(`fit/first_step_s` in metrics.json). fabricx/__init__.py imports this module first.
"""

import time

IMPORTED_AT = time.time()
