"""Modules the tests import (`from tests.helpers.cli import run_cli`); none holds a test."""
