"""Stops the run when ExampleValidator found anomalies, saying which.

ExampleValidator records anomalies but lets the run go on; a production run must
not train on data that breaks the curated schema. This component reads every
split's anomalies and fails with a message naming each feature and problem.
Transform runs after it.
"""


import os

from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import v1 as tfx
from tfx.types import artifact_utils


class DataAnomaliesError(RuntimeError):
    pass


def describe_anomalies(anomalies_uri: str, split_names: list) -> list:
    """One line per anomaly: `split: feature: short description`."""
    import tensorflow as tf

    lines = []
    for split in split_names:
        path = os.path.join(anomalies_uri, f"Split-{split}", "SchemaDiff.pb")
        if not tf.io.gfile.exists(path):
            continue
        anomalies = anomalies_pb2.Anomalies()
        with tf.io.gfile.GFile(path, "rb") as f:
            anomalies.ParseFromString(f.read())
        for feature, info in sorted(anomalies.anomaly_info.items()):
            lines.append(f"{split}: {feature}: {info.short_description} ({info.description})")
        if anomalies.HasField("dataset_anomaly_info"):
            info = anomalies.dataset_anomaly_info
            lines.append(f"{split}: <dataset>: {info.short_description} ({info.description})")
    return lines


@tfx.dsl.components.component
def AnomaliesGate(
    anomalies: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ExampleAnomalies],
    code_fingerprint: tfx.dsl.components.Parameter[str] = "",
) -> None:
    """Fails the run if any split has an anomaly."""
    del code_fingerprint  # in the settings so that the cache key follows this code
    splits = artifact_utils.decode_split_names(anomalies.split_names)
    found = describe_anomalies(anomalies.uri, splits)
    if found:
        raise DataAnomaliesError(
            "ExampleValidator found data anomalies; the run stops before Transform:\n  "
            + "\n  ".join(found)
            + "\nFix the data, or update schemas/schema.pbtxt if the change is intended."
        )
