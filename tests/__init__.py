"""fabricx's tests: unit/ (in-process, mirrors the package), e2e/ (the CLI as a user types
it), helpers/ (what both import, as `tests.helpers.X`). See docs/testing.md."""
