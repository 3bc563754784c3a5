"""Workers: pollers, rule engine, actions and notifications."""
