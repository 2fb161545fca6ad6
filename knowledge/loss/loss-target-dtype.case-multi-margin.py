# A multi-class hinge loss (SVM-style head) with labels read as floats from NumPy.
# expect-cause: class-indices-not-int64
# expect-fix: loss = hinge(scores, labels.long())
import numpy as np
import torch
import torch.nn as nn

rng = np.random.default_rng(0)
features = torch.from_numpy(rng.normal(size=(20, 6)).astype(np.float32))
labels = torch.from_numpy(rng.integers(0, 3, 20).astype(np.float32))

svm = nn.Linear(6, 3)
hinge = nn.MultiMarginLoss()
scores = svm(features)
loss = hinge(scores, labels)  # expect: loss-target-dtype
loss.backward()
