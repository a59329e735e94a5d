"""Validation, after StatisticsGen: the curated schema imported with a content key, the anomalies gate,
and the drift gate that compares the night's span with the one before it; each stops the run in one sentence."""
