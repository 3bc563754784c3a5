"""Every detector kind a rule's `when` may name, registered once.

A new kind is its module (parameters model, state, step, optional timer tick, a `KIND`)
and one line here: the rules file's `when` union, its error messages, the stored state's
union, the engine's dispatch and the backtest are all built from this registry
(tests/rules/test_registry.py shows a kind registered in a test working end to end).
"""

from __future__ import annotations

from workers.rules.detectors import error_rate, plateau, stalled, status, threshold
from workers.rules.detectors.kind import DetectorKind, Registry, RegistryError

__all__ = ["DETECTORS", "DetectorKind", "RegistryError", "register"]

# In the order messages list them ("must be one of plateau, error_rate, ...").
DETECTORS = Registry([plateau.KIND, error_rate.KIND, threshold.KIND, stalled.KIND, status.KIND])
# For a kind defined outside this package; before workers.rules.config is imported.
register = DETECTORS.register
