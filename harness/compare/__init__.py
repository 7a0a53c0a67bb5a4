"""`locust-llm compare BASE NEW`: did a change make it slower? (docs/compare.md)."""
