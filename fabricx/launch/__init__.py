"""The Hydra layer: the only package that imports Hydra.

It composes configs, runs a verb's job under Hydra's main (one job or a multirun), builds
the command lines of DDP child ranks, and hands each verb a plain `Job` (fabricx.runs.job)
so that nothing below it asks Hydra where it runs.
"""
