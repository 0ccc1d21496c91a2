"""The rule packs shipped with the auditor, one YAML file per Segment setup document; loaded as package data."""
