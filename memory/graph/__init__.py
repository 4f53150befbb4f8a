"""All Cypher lives in this package: one module per concern, parameterised queries only."""
