"""The data-quality suites: one great-expectations suite per JSON file, read by
:func:`lakehouse.quality.load_suite`. A package so that an installed wheel ships them."""
