"""The drivers' pages (a run on a phone in the van)."""
