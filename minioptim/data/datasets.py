"""Image datasets as plain host arrays: ``ImageSplit`` (images, labels) and ``ImageDataset``.

Images are uint8 arrays of shape (N, C, H, W) (channels first, as the layers expect), labels
int64 arrays of shape (N,). ``ImageDataset`` has ``.train``, ``.test``, ``.classes`` and
``describe()``, which states the size and how the dataset differs from the paper-scale one.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .loader import DataLoader
from .transforms import Compose, Normalize, RandomCrop, RandomHorizontalFlip, ToFloat, channel_stats


@dataclass(eq=False)
class ImageSplit:
    """One split: ``images`` uint8 (N, C, H, W) and ``labels`` int64 (N,)."""

    images: np.ndarray
    labels: np.ndarray

    def __post_init__(self):
        if not isinstance(self.images, np.ndarray) or self.images.ndim != 4 \
                or self.images.dtype != np.uint8:
            raise ValueError(f"images must be a uint8 NumPy array (N, C, H, W); got "
                             f"{getattr(self.images, 'dtype', type(self.images).__name__)} of "
                             f"shape {getattr(self.images, 'shape', '?')}")
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if self.labels.shape != (len(self.images),):
            raise ValueError(f"labels must have shape ({len(self.images)},) to match the "
                             f"images; got {self.labels.shape}")

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index):
        return self.images[index], self.labels[index]

    @property
    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return self.images, self.labels

    def __repr__(self):
        return f"ImageSplit({len(self)} images of shape {self.images.shape[1:]})"


@dataclass(eq=False)
class ImageDataset:
    """A train/test pair of image splits with class names and a description.

    ``source`` says where the data comes from; ``differs`` how it differs from CIFAR-10, the
    paper-scale image dataset ("" for CIFAR-10 itself). ``crop_padding`` and ``flip`` give the
    standard augmentation for this dataset (digits are not flipped: a mirrored 3 is no 3).
    """

    name: str
    train: ImageSplit
    test: ImageSplit
    classes: tuple[str, ...]
    source: str = ""
    differs: str = ""
    crop_padding: int = 4
    flip: bool = True
    _stats: tuple | None = field(default=None, repr=False, init=False)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train.images.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def channel_stats(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel mean and std of the training images, on the [0, 1] scale."""
        if self._stats is None:
            self._stats = channel_stats(self.train.images)
        return self._stats

    def transforms(self, augment: bool = True):
        """(train transform, evaluation transform): the standard augmentation (random crop with
        zero padding, flips where they make sense) then ``ToFloat`` and ``Normalize`` with the
        training split's statistics; evaluation only converts and normalizes."""
        norm = Normalize(*self.channel_stats())
        aug = []
        if augment and self.crop_padding:
            aug.append(RandomCrop(padding=self.crop_padding))
        if augment and self.flip:
            aug.append(RandomHorizontalFlip())
        return Compose(aug + [ToFloat(), norm]), Compose([ToFloat(), norm])

    def loaders(self, batch_size: int = 128, seed: int = 0, augment: bool = True,
                prefetch: bool = False, eval_batch_size: int | None = None):
        """(train loader: shuffled, augmented; test loader: in order), yielding float32 images
        and int64 labels on the active backend."""
        train_tf, eval_tf = self.transforms(augment)
        return (DataLoader(self.train, batch_size, shuffle=True, seed=seed, transform=train_tf,
                           prefetch=prefetch),
                DataLoader(self.test, eval_batch_size or batch_size, shuffle=False,
                           transform=eval_tf, prefetch=prefetch))

    def describe(self) -> str:
        c, h, w = self.image_shape
        lines = [f"{self.name}: {len(self.train) + len(self.test):,} images of {c}x{h}x{w} "
                 f"(train {len(self.train):,} / test {len(self.test):,}), "
                 f"{self.num_classes} classes: {', '.join(self.classes)}."]
        if self.source:
            lines.append(f"Source: {self.source}")
        lines.append(f"Compared with the paper-scale dataset: {self.differs}" if self.differs
                     else "This is the paper-scale dataset of the talk's image experiments.")
        return "\n".join(lines)

    def __repr__(self):
        return (f"ImageDataset({self.name!r}, train={len(self.train)}, test={len(self.test)}, "
                f"shape={self.image_shape}, classes={self.num_classes})")
