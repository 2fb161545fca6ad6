# Looking up the score of an id that is not in this batch selects an empty tensor.
# expect-cause: empty-tensor
import torch

ids = torch.tensor([3, 7, 11, 19])
scores = torch.tensor([0.2, 0.9, 0.4, 0.7])


def score_of(query):
    return scores[ids == query].item()  # expect: item-nonscalar


print(score_of(7), score_of(5))
