"""The op registry: one entry per op, read by spec parsing, the fused pass and the README."""

import ast
import re
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from components import augment, augment_ops, augment_spec

REPO = Path(__file__).resolve().parents[1]


def test_every_op_is_registered_once_with_a_kind_parameters_and_a_meaning():
    assert len(augment_ops.REGISTRY) == 11
    assert augment_spec.GEOMETRIC_OPS == ("flip", "rotate", "zoom", "crop", "rot90", "central_crop")
    assert augment_spec.COLOUR_OPS == ("contrast", "brightness", "saturation", "grayscale", "invert")
    for name, info in augment_ops.REGISTRY.items():
        assert info.name == name and info.kind in (augment_ops.GEOMETRIC, augment_ops.COLOUR)
        assert info.tutorial and info.meaning and callable(info.contribution)
    with pytest.raises(ValueError, match="registered twice"):
        augment_ops.register("rotate", augment_ops.GEOMETRIC, ("f",), "-", "-")(lambda op, u, one, zero: None)


def test_each_op_has_its_own_test_on_a_known_image():
    tree = ast.parse((REPO / "tests" / "test_augment.py").read_text())
    tests = [node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")]
    for name in augment_ops.REGISTRY:
        assert any(re.match(rf"test_{name}_", test) for test in tests), f"no test_{name}_... in test_augment.py"


def test_the_readme_op_table_is_the_registrys():
    assert augment_ops.table() in (REPO / "README.md").read_text()
    assert augment_ops.table().count("\n") == 1 + len(augment_ops.REGISTRY)


def test_arity_comes_from_the_registry():
    for name, info in augment_ops.REGISTRY.items():
        if name == "flip":
            continue
        args = ",".join(["0.5"] * len(info.params))
        spec = f"{name}({args})" if args else name
        assert augment_spec.parse_spec(spec)[0].args == (0.5,) * len(info.params)
        with pytest.raises(ValueError, match=rf"takes {len(info.params)} argument"):
            augment_spec.parse_spec(f"{name}({','.join(['0.5'] * (len(info.params) + 1))})")
    assert augment_spec.parse_spec("flip")[0].args == ("horizontal_and_vertical",)


def test_a_new_op_is_one_entry():
    """Register a mirror (x -> -x) and a fixed darkening: the spec, the pass and both variants take them."""
    augment_ops.register("mirror", augment_ops.GEOMETRIC, (), "-", "-")(
        lambda op, u, one, zero: augment_ops.affine([[-one, zero, zero], [zero, one, zero], [zero, zero, one]]))
    augment_ops.register("halve", augment_ops.COLOUR, (), "-", "-")(
        lambda op, u, mean: (0.5 * tf.eye(3, batch_shape=[tf.shape(mean)[0]]), tf.zeros_like(mean)))
    try:
        images = np.random.default_rng(3).integers(0, 256, (4, 41, 41, 3)).astype(np.uint8)
        ops = augment_spec.parse_spec("mirror|halve")
        keys, epochs = tf.range(4, dtype=tf.int64), tf.zeros([4], tf.int64)
        expected = images[:, :, ::-1] / 255.0 * 0.5
        for variant in augment.VARIANTS:
            out = augment.augment_batch(tf.constant(images), keys, epochs, 0, ops, variant=variant).numpy()
            np.testing.assert_allclose(out, expected, atol=1e-6)
    finally:
        del augment_ops.REGISTRY["mirror"], augment_ops.REGISTRY["halve"]
