"""Transform: the tutorial's deterministic `resize_and_rescale` (decode, orientation, 180x180, [0, 1]) as a
tensorflow-transform `preprocessing_fn`, the same graph in training and in the served model."""
