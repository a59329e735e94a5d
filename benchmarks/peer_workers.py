"""The peers' side of benchmarks/bench_peers.py: albumentations' pipelines and NVIDIA DALI's CPU pipeline.

These run in the peers' own venv (requirements-peers.lock: numpy, OpenCV,
albumentations; DALI when installed), so nothing here imports TensorFlow or
the project. A worker returns `epoch(number) -> images seen` and a function
naming its child processes, whose CPU time counts too.
"""

from __future__ import annotations

SIZE, BATCH, SEED = 180, 32, 42
REFLECT = 2  # cv2.BORDER_REFLECT: d c b a | a b c d, the fill of ours


def _albumentations(chain: str, one_affine: bool):
    import albumentations as A

    flips = [A.HorizontalFlip(p=0.5), A.VerticalFlip(p=0.5)]
    if chain == "tutorial":
        return A.Compose([*flips, A.Rotate(limit=72, border_mode=REFLECT, p=1.0)])
    if one_affine:
        geometry = [A.Affine(rotate=(-72, 72), scale=(0.9, 1.1), translate_px=(-3, 3), border_mode=REFLECT, p=1.0)]
    else:
        geometry = [A.Rotate(limit=72, border_mode=REFLECT, p=1.0),
                    A.Affine(scale=(0.9, 1.1), border_mode=REFLECT, p=1.0),
                    A.PadIfNeeded(SIZE + 6, SIZE + 6, border_mode=REFLECT, p=1.0),
                    A.RandomCrop(SIZE, SIZE, p=1.0)]
    colour = [A.RandomBrightnessContrast(brightness_limit=0.2, contrast_limit=0.0, brightness_by_max=True, p=1.0),
              A.ColorJitter(brightness=(1.0, 1.0), contrast=(0.8, 1.2), saturation=(0.8, 1.2), hue=0.0, p=1.0),
              A.InvertImg(p=0.05)]
    return A.Compose([*flips, *geometry, *colour])


_POOL_STATE: dict = {}


def _pool_batch(index):
    transform, images = _POOL_STATE["transform"], _POOL_STATE["images"]
    import numpy as np

    return np.stack([transform(image=images[i])["image"] for i in index])


def alb_worker(photos, chain: str, variant: str):
    """`variant`: loop, pool or fused; a trailing "1" (loop1, fused1, pool1) pins OpenCV to one
    thread per process (`cv2.setNumThreads(1)`), its best figure per CPU-second: OpenCV's own
    threads (two here by default) cost CPU time to share the work of one warp."""
    import numpy as np

    images = photos["images"]
    count = len(images)
    if variant.endswith("1"):
        import cv2

        cv2.setNumThreads(1)  # inherited by a fork pool's workers
        variant = variant[:-1]
    transform = _albumentations(chain, one_affine=variant == "fused")
    rng = np.random.default_rng(SEED)
    pool = None
    if variant == "pool":
        import multiprocessing

        _POOL_STATE.update(transform=transform, images=images)  # inherited by fork
        pool = multiprocessing.get_context("fork").Pool(2)

    def to_float(batch):
        return np.multiply(batch, np.float32(1.0 / 255.0), dtype=np.float32)

    def epoch(number: int) -> int:
        order = rng.permutation(count)
        batches = [order[i:i + BATCH] for i in range(0, count - BATCH + 1, BATCH)]
        if pool is None:
            outs = (to_float(np.stack([transform(image=images[i])["image"] for i in b])) for b in batches)
        else:
            outs = (to_float(b) for b in pool.imap(_pool_batch, batches))
        seen = 0
        for out in outs:
            seen += out.shape[0]
        return seen

    children = (lambda: [p.pid for p in pool._pool]) if pool else (lambda: [])
    return epoch, children


def _dali_pipeline(chain: str, threads: int):
    """NVIDIA DALI's CPU pipeline (device_id=None) for the chain, fed one uint8 batch per run."""
    from nvidia.dali import fn, pipeline_def, types

    @pipeline_def(batch_size=BATCH, num_threads=threads, device_id=None, seed=SEED,
                  exec_async=False, exec_pipelined=False, prefetch_queue_depth=1)
    def pipe():
        images = fn.external_source(name="images", device="cpu", layout="HWC")
        images = fn.flip(images, horizontal=fn.random.coin_flip(), vertical=fn.random.coin_flip())
        centre = [SIZE / 2.0, SIZE / 2.0]
        angle = fn.random.uniform(range=(-72.0, 72.0))
        if chain == "tutorial":
            return fn.rotate(images, angle=angle, keep_size=True, interp_type=types.INTERP_LINEAR) * (1.0 / 255.0)
        matrix = fn.transforms.rotation(angle=angle, center=centre)
        matrix = fn.transforms.scale(matrix, scale=fn.stack(*[fn.random.uniform(range=(0.9, 1.1))] * 2),
                                     center=centre)
        matrix = fn.transforms.translation(matrix, offset=fn.random.uniform(range=(-3.0, 3.0), shape=[2]))
        images = fn.warp_affine(images, matrix=matrix, inverse_map=False, interp_type=types.INTERP_LINEAR)
        images = fn.brightness_contrast(images, brightness_shift=fn.random.uniform(range=(-0.2, 0.2)),
                                        contrast=fn.random.uniform(range=(0.8, 1.2)))
        images = fn.saturation(images, saturation=fn.random.uniform(range=(0.8, 1.2)))
        invert = fn.cast(fn.random.coin_flip(probability=0.05), dtype=types.UINT8)
        images = invert * (255 - images) + (1 - invert) * images
        return fn.cast(images, dtype=types.FLOAT) * (1.0 / 255.0)

    built = pipe()
    built.build()
    return built


def dali_worker(photos, chain: str, variant: str):
    import numpy as np

    images = photos["images"]
    count = len(images)
    threads = int(variant[len("cpu"):] or 1) if variant.startswith("cpu") else 1
    pipe = _dali_pipeline(chain, threads)
    rng = np.random.default_rng(SEED)

    def epoch(number: int) -> int:
        order = rng.permutation(count)
        seen = 0
        for start in range(0, count - BATCH + 1, BATCH):
            pipe.feed_input("images", [images[i] for i in order[start:start + BATCH]], layout="HWC")
            (out,) = pipe.run()
            array = out.as_array()
            assert array.dtype == np.float32 and array.shape == (BATCH, SIZE, SIZE, 3)
            seen += array.shape[0]
        return seen

    return epoch, lambda: []
