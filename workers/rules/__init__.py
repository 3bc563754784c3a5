"""The rule engine's pure core: the rules file (SPEC §5), detectors, firing semantics."""
