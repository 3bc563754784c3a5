"""The one Redis access layer: connection, key names, and one module per stored concept."""
