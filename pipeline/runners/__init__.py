"""The orchestrators of the same DAG: LocalDagRunner here, the KFP v2 / Vertex AI spec compiler, and a dry
run of that spec on this machine, task by task, as the cloud would run it."""
