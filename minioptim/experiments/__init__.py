"""Experiments that reproduce the talk's figures; ``minioptim reproduce NAME`` runs them."""
from . import scale_free

# name -> (function(out_dir, seed, progress) -> {label: path}, one-line description)
REPRODUCIBLE = {
    "scale-free": (scale_free.reproduce,
                   "GD, Adam, AdaGrad and Lion with and without preconditioning on "
                   "ill-conditioned quadratics (the talk's scale-freeness panels)"),
}
