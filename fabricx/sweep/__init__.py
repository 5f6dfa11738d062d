"""`fabricx sweep`: an Optuna study whose trials are ordinary `fabricx train` runs.

driver (the verb) -> plan (sweep.json) -> workers (local processes or a SLURM array) that
pull trials from the shared study -> each trial a `fabricx train` subprocess with pruning
-> report (best, trials.csv, plots).
"""
