"""The compiled Vertex / KFP v2 spec run on this machine, task by task (`pipeline.dry_run.vertex`): a harness
that proves the spec's commands work before an image is built and a paid run starts, not a runner.
`flowers compile --dry-run-local DIR` and the tests use it."""
