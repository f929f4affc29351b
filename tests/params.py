"""The smallest optimizer parameter and host/device helpers shared by the optimizer tests."""
import numpy as np

import autodiff as ad
from minioptim import Point as P  # noqa: F401  (.data: a float64 copy on the device, .grad)


def host(a):
    return np.array(ad.backend.to_numpy(a), dtype=np.float64, copy=True)


def dev(a):
    return ad.backend.asarray(np.array(a, dtype=np.float64, copy=True))
