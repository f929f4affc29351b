"""minioptim: the optimizers of "Understanding Adam and AdamW through Proximal Updates,
Scale-Freeness, and Relaxed Smoothness", and everything that exercises them."""
__version__ = "0.1.0"
