# Quantised integer weights are loaded by assigning to .data.
# expect-cause: integer-data-assignment
# expect-fix: with torch.no_grad(): layer.weight.copy_(torch.from_numpy(q_weights))
import numpy as np
import torch
import torch.nn as nn

layer = nn.Linear(4, 3)
q_weights = np.random.randint(-8, 8, size=(3, 4)).astype(np.int8)


def load_quantised(layer, q_weights):
    layer.weight.data = torch.from_numpy(q_weights)  # expect: non-float-requires-grad
    return layer


load_quantised(layer, q_weights)
