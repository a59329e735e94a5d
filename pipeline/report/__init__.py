"""What a run leaves for people: the run summary read from ML Metadata (with its nightly part), and the
self-contained report page with its figures, for failed runs too."""
