"""The tutorial's `data_augmentation`, random per image: spec strings parsed, each op registered once, and the
whole chain applied as one fused warp and one colour map per batch, in pure TensorFlow ops."""
