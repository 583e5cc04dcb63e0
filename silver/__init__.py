"""Silver layer: deduplicated, validated product / user-session / event tables."""
