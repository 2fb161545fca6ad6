"""gradexplain: explain PyTorch autograd errors and how to fix them."""

__version__ = "0.1.0"
