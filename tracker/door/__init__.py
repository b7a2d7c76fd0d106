"""The door screen: check-in by scan or search, walk-ins, live counters."""
