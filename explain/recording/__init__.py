"""Recording: hooks that fill a Trace during real forward passes (see api.record)."""
