"""Places: the districts the service delivers to."""
