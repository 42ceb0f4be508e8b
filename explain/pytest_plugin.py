"""The pytest plugin (registered via the ``pytest11`` entry point); its fixtures arrive with the testing issue."""
