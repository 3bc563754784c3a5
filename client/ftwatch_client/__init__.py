"""ftwatch's trainer-side client: push a training loop's metrics, obey its decisions (SPEC §10).

Standard library only; each framework adapter (`ftwatch_client.transformers`, `.keras`,
`.lightning`) imports its framework itself, when it is imported.
"""

from ftwatch_client.decision import OUTCOME_DONE, OUTCOME_FAILED, Decision
from ftwatch_client.reporter import Reporter

__all__ = ["OUTCOME_DONE", "OUTCOME_FAILED", "Decision", "Reporter"]
