"""Privacy by design: the notice and its version, the retention of personal data, and
the person's rights (access to their data, erasure)."""
