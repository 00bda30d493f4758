"""Hash-chained audit events: who did what to which object, when, with what outcome."""
