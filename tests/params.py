"""The smallest optimizer parameter and host/device helpers shared by the optimizer tests."""
import numpy as np

import autodiff as ad


class P:
    """The smallest parameter: .data on the device (a copy of the host array) and .grad."""

    def __init__(self, host):
        self.data = ad.backend.asarray(np.array(host, dtype=np.float64, copy=True))
        self.grad = None


def host(a):
    return np.array(ad.backend.to_numpy(a), dtype=np.float64, copy=True)


def dev(a):
    return ad.backend.asarray(np.array(a, dtype=np.float64, copy=True))
