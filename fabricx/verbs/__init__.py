"""One module per verb: its `run` only sequences steps that live in the packages below."""
