"""The DAG, built by one function that every runner calls."""

from __future__ import annotations

import os

import tensorflow_data_validation as tfdv
import tensorflow_model_analysis as tfma
from tfx import v1 as tfx
from tfx.dsl.components.base import executor_spec

from components import cache_keys, code_fingerprints, features
from components.ingest import executor, spans
from components.validation import anomalies_gate, drift
from pipeline import configs, span_resolvers

STOP_AFTER = (None, "AnomaliesGate", "Transform", "Trainer")


def make_eval_config(min_accuracy: float) -> tfma.EvalConfig:
    """Accuracy on the eval split, above `min_accuracy` and not below the baseline."""
    accuracy = tfma.MetricConfig(
        class_name="SparseCategoricalAccuracy",
        threshold=tfma.MetricThreshold(
            value_threshold=tfma.GenericValueThreshold(lower_bound={"value": min_accuracy}),
            change_threshold=tfma.GenericChangeThreshold(
                direction=tfma.MetricDirection.HIGHER_IS_BETTER, absolute={"value": -1e-10}
            ),
        ),
    )
    return tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(signature_name="serving_default", label_key=features.LABEL_KEY,
                           prediction_key="probabilities")
        ],
        slicing_specs=[tfma.SlicingSpec()],
        metrics_specs=[tfma.MetricsSpec(metrics=[accuracy, tfma.MetricConfig(class_name="ExampleCount")])],
    )


def create_pipeline(
    config: configs.RunConfig,
    class_names: tuple[str, ...],
    source: str | None = None,
    metadata_connection_config=None,
    enable_cache: bool = True,
    stop_after: str | None = None,
    trainer_factory=None,
    for_kfp: bool = False,
    vocabulary_file: str = "",
) -> tfx.dsl.Pipeline:
    """ExampleGen -> statistics, schema, validation, drift -> Transform -> Trainer -> Evaluator -> Pusher.

    `stop_after` ("AnomaliesGate", "Transform" or "Trainer") builds only the DAG
    up to that component, for `ingest`, `bench` and the nightly tests. A span
    root (`<root>/span-<N>/...`, `components.ingest.spans`) ingests its newest span, and
    Transform, the Trainer and the Evaluator read the window of the last
    `config.spans` spans; `for_kfp` uses the resolvers KFP v2 compiles instead
    (`pipeline.span_resolvers`).
    """
    if stop_after not in STOP_AFTER:
        raise ValueError(f"stop_after must be AnomaliesGate, Transform or Trainer, not {stop_after!r}")
    source = source or config.data
    span_root = spans.is_span_root(source)
    # The executor reads the source named in its custom config, and the driver
    # fingerprints it where the step runs (components/cache_keys.py):
    # input_base and the pattern only name it.
    examples_gen = cache_keys.ExampleGen(
        input_base=source,
        input_config=tfx.proto.Input(
            splits=[tfx.proto.Input.Split(name="all", pattern=spans.SPAN_PATTERN if span_root else "*")]
        ),
        output_config=tfx.proto.Output(
            split_config=tfx.proto.SplitConfig(
                splits=[
                    tfx.proto.SplitConfig.Split(name="train", hash_buckets=8),
                    tfx.proto.SplitConfig.Split(name="eval", hash_buckets=1),
                    tfx.proto.SplitConfig.Split(name="test", hash_buckets=1),
                ],
                partition_feature_name=features.FILENAME_KEY,
            )
        ),
        custom_config=executor.make_custom_config(
            source,
            class_names,
            max_quarantine_fraction=config.max_quarantined,
            tfds_data_dir=config.tfds_data_dir,
            code_fingerprint=code_fingerprints.component_fingerprint("FileBasedExampleGen"),
            spans=span_root,
            vocabulary_file=vocabulary_file,
        ),
        custom_executor_spec=executor_spec.BeamExecutorSpec(executor.Executor),
    ).with_id("FileBasedExampleGen")
    schema_gen = cache_keys.SchemaGen(schema_file=os.path.join(config.schema_dir, "schema.pbtxt")).with_id(
        "ImportSchemaGen"
    )
    # The schema marks `image` with an image_domain; semantic-domain statistics
    # make TFDV compute image format and size statistics for it.
    statistics_gen = tfx.components.StatisticsGen(
        examples=examples_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        stats_options=tfdv.StatsOptions(enable_semantic_domain_stats=True),
    )
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    gate = anomalies_gate.AnomaliesGate(
        anomalies=example_validator.outputs["anomalies"],
        code_fingerprint=code_fingerprints.component_fingerprint("AnomaliesGate"),
    )
    baseline, drift_gate = _drift_check(config, examples_gen, statistics_gen, for_kfp)
    # Anomalies first: the drift check runs on data that passed the schema.
    baseline.add_upstream_node(gate)
    drift_gate.add_upstream_node(gate)
    ingest_components = [examples_gen, statistics_gen, schema_gen, example_validator, gate, baseline, drift_gate]
    pipeline_args = dict(
        pipeline_name=config.pipeline_name,
        pipeline_root=config.pipeline_root,
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(config.beam_args),
    )
    if stop_after == "AnomaliesGate":
        return tfx.dsl.Pipeline(components=ingest_components, **pipeline_args)
    # ExampleGen's JPEG bytes stay the only copy of the data: Transform writes the
    # graph (decode, resize, rescale) and no examples, and the Trainer's input
    # applies that graph to the raw examples once, caching the result. With no
    # analyzer and no statistics, TFX runs it in place, without a Beam pass.
    window = None
    examples = examples_gen.outputs["examples"]
    if span_root and not for_kfp:
        window = tfx.dsl.Resolver(
            strategy_class=span_resolvers.SpanWindowStrategy,
            config={"num_spans": config.spans,
                    "code_fingerprint": code_fingerprints.component_fingerprint("span_resolvers")},
            examples=tfx.dsl.Channel(
                type=tfx.types.standard_artifacts.Examples, producer_component_id=examples_gen.id, output_key="examples"
            ),
        ).with_id("span_window")
        window.add_upstream_node(drift_gate)
        ingest_components.append(window)
        examples = window.outputs["examples"]
    transform = tfx.components.Transform(
        examples=examples,
        schema=schema_gen.outputs["schema"],
        preprocessing_fn=configs.PREPROCESSING_FN,
        custom_config={"code_fingerprint": code_fingerprints.component_fingerprint("Transform")},
        splits_config=tfx.proto.SplitsConfig(analyze=["train"], transform=[]),
        materialize=False,
        disable_statistics=True,
    )
    transform.add_upstream_node(gate)
    transform.add_upstream_node(drift_gate)
    if stop_after == "Transform":
        return tfx.dsl.Pipeline(components=ingest_components + [transform], **pipeline_args)
    warm_start = None
    if config.warm_start:
        # The latest model the Trainer made, whether blessed or not: the night's fine-tuning starts from it.
        warm_start = tfx.dsl.Resolver(
            strategy_class=tfx.dsl.experimental.LatestArtifactStrategy,
            model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        ).with_id("latest_model_resolver")
    trainer = (trainer_factory or tfx.components.Trainer)(
        run_fn=configs.RUN_FN,
        examples=examples,
        base_model=warm_start.outputs["model"] if warm_start else None,
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        train_args=tfx.proto.TrainArgs(splits=["train"]),
        eval_args=tfx.proto.EvalArgs(splits=["eval"]),
        custom_config={
            "class_names": list(class_names),
            "epochs": config.epochs,
            "batch_size": config.batch_size,
            "learning_rate": config.learning_rate,
            "lr_schedule": config.lr_schedule,
            "patience": config.patience,
            "seed": config.seed,
            "augmentation": config.augmentation,
            "augment_in": config.augment_in,
            "precision": config.precision,
            "devices": list(config.devices),
            "data_service": config.data_service,
            "warm_start": config.warm_start,
            "code_fingerprint": code_fingerprints.component_fingerprint("Trainer"),
        },
    )
    nightly = [n for n in (warm_start,) if n is not None]
    if stop_after == "Trainer":
        return tfx.dsl.Pipeline(components=ingest_components + [transform] + nightly + [trainer], **pipeline_args)
    model_resolver = tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id("latest_blessed_model_resolver")
    evaluator = tfx.components.Evaluator(
        examples=examples,
        model=trainer.outputs["model"],
        baseline_model=model_resolver.outputs["model"],
        example_splits=["eval"],
        eval_config=make_eval_config(config.min_accuracy),
    )
    pusher = tfx.components.Pusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=config.serving_dir)
        ),
    )
    return tfx.dsl.Pipeline(
        components=ingest_components + [transform] + nightly + [trainer, model_resolver, evaluator, pusher],
        **pipeline_args,
    )


def _drift_check(config, examples_gen, statistics_gen, for_kfp: bool):
    """The previous accepted span's examples and the gate that compares the new span with them.

    Locally the baseline is the newest examples of an earlier accepted span
    (`span_resolvers.PreviousSpanStrategy`). KFP v2 compiles only TFX's
    latest-artifact resolver: its task runs as the job starts, so it finds the
    previous run's examples, and the gate compares only when their span is
    below the new one.
    """
    history = tfx.dsl.Channel(
        type=tfx.types.standard_artifacts.Examples, producer_component_id=examples_gen.id, output_key="examples"
    )
    if for_kfp:
        baseline = tfx.dsl.Resolver(strategy_class=tfx.dsl.experimental.LatestArtifactStrategy, baseline=history)
    else:
        # This run's span comes from its statistics: two channels of one producer's output would be
        # merged into one by TFX's compiler, and the resolver would fail.
        baseline = tfx.dsl.Resolver(
            strategy_class=span_resolvers.PreviousSpanStrategy,
            config={"code_fingerprint": code_fingerprints.component_fingerprint("span_resolvers")},
            baseline=history,
            statistics=statistics_gen.outputs["statistics"],
        )
    baseline = baseline.with_id("previous_span_examples")
    gate = drift.DriftGate(
        examples=examples_gen.outputs["examples"],
        baseline=baseline.outputs["baseline"],
        accept_drift=int(config.accept_drift),
        drift_config=drift.read_config(config.schema_dir),
        code_fingerprint=code_fingerprints.component_fingerprint("DriftGate"),
    )
    return baseline, gate
