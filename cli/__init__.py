"""The `tally` command line and the processes it starts, apart from the HTTP API."""
