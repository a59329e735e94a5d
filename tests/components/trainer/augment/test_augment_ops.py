"""The op registry: one entry per op, read by spec parsing, the fused pass and the README."""

import ast
import re

import numpy as np
import pytest
import tensorflow as tf

from components.trainer.augment import fused, registry, spec_parser
from tests.helpers import REPO


def test_every_op_is_registered_once_with_a_kind_parameters_and_a_meaning():
    assert len(registry.REGISTRY) == 11
    assert spec_parser.GEOMETRIC_OPS == ("flip", "rotate", "zoom", "crop", "rot90", "central_crop")
    assert spec_parser.COLOUR_OPS == ("contrast", "brightness", "saturation", "grayscale", "invert")
    for name, info in registry.REGISTRY.items():
        assert info.name == name and info.kind in (registry.GEOMETRIC, registry.COLOUR)
        assert info.tutorial and info.meaning and callable(info.contribution)
    with pytest.raises(ValueError, match="registered twice"):
        registry.register("rotate", registry.GEOMETRIC, ("f",), "-", "-")(lambda op, u, one, zero: None)


def test_each_op_has_its_own_test_on_a_known_image():
    tree = ast.parse((REPO / "tests" / "components" / "trainer" / "augment" / "test_augment.py").read_text())
    tests = [node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")]
    for name in registry.REGISTRY:
        assert any(re.match(rf"test_{name}_", test) for test in tests), f"no test_{name}_... in test_augment.py"


def test_the_readme_op_table_is_the_registrys():
    assert registry.table() in (REPO / "docs" / "augmentation.md").read_text()
    assert registry.table().count("\n") == 1 + len(registry.REGISTRY)


def test_arity_comes_from_the_registry():
    for name, info in registry.REGISTRY.items():
        if name == "flip":
            continue
        args = ",".join(["0.5"] * len(info.params))
        spec = f"{name}({args})" if args else name
        assert spec_parser.parse_spec(spec)[0].args == (0.5,) * len(info.params)
        with pytest.raises(ValueError, match=rf"takes {len(info.params)} argument"):
            spec_parser.parse_spec(f"{name}({','.join(['0.5'] * (len(info.params) + 1))})")
    assert spec_parser.parse_spec("flip")[0].args == ("horizontal_and_vertical",)


def test_a_new_op_is_one_entry():
    """Register a mirror (x -> -x) and a fixed darkening: the spec, the pass and both variants take them."""
    registry.register("mirror", registry.GEOMETRIC, (), "-", "-")(
        lambda op, u, one, zero: registry.affine([[-one, zero, zero], [zero, one, zero], [zero, zero, one]]))
    registry.register("halve", registry.COLOUR, (), "-", "-")(
        lambda op, u, mean: (0.5 * tf.eye(3, batch_shape=[tf.shape(mean)[0]]), tf.zeros_like(mean)))
    try:
        images = np.random.default_rng(3).integers(0, 256, (4, 41, 41, 3)).astype(np.uint8)
        ops = spec_parser.parse_spec("mirror|halve")
        keys, epochs = tf.range(4, dtype=tf.int64), tf.zeros([4], tf.int64)
        expected = images[:, :, ::-1] / 255.0 * 0.5
        for variant in fused.VARIANTS:
            out = fused.augment_batch(tf.constant(images), keys, epochs, 0, ops, variant=variant).numpy()
            np.testing.assert_allclose(out, expected, atol=1e-6)
    finally:
        del registry.REGISTRY["mirror"], registry.REGISTRY["halve"]
