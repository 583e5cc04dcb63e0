"""Bronze layer: raw export files -> Delta, every line kept or quarantined, each file once."""
