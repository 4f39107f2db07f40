"""The class-bias fix of Hinton's distillation experiments, for one class (the omitted digit) and for several together
(every digit a 7-and-8-only student never saw)."""
import torch

from slimtrain.distill import choose_bias, evaluate_with_bias, with_class_bias
from slimtrain.models import build_model, make_spec


def _model():
    torch.manual_seed(0)
    return build_model(make_spec("mlp", (1, 4, 4), 10, [8]))


def test_with_class_bias_raises_each_listed_class_and_restores_them():
    model = _model()
    before = model.classifier().bias.detach().clone()
    with with_class_bias(model, [1, 4, 9], 2.5):
        diff = model.classifier().bias.detach() - before
        assert torch.allclose(diff, torch.tensor([0, 2.5, 0, 0, 2.5, 0, 0, 0, 0, 2.5]))
    assert torch.allclose(model.classifier().bias.detach(), before, atol=1e-6)


def test_a_large_enough_raise_of_the_unseen_classes_wins_every_example_of_theirs():
    model = _model()
    x = torch.rand(200, 1, 4, 4)
    y = torch.randint(0, 10, (200,))
    unseen = [0, 1, 2, 3, 4, 5, 6, 9]
    with torch.no_grad():
        model.classifier().bias[[7, 8]] += 100.0  # the student only ever answers 7 or 8
    before = evaluate_with_bias(model, unseen, 0.0, x, y)
    assert before["errors_on_class"] == before["n_class"] == int(torch.isin(y, torch.tensor(unseen)).sum())
    delta, trace = choose_bias(model, unseen, x, y, grid=[0.0, 50.0, 200.0])
    assert delta == 200.0
    assert [t["delta"] for t in trace] == [0.0, 50.0, 200.0]
    after = evaluate_with_bias(model, unseen, delta, x, y)
    assert after["errors"] < before["errors"]
    # Every 7 and 8 is now answered as some other digit.
    assert after["errors"] - after["errors_on_class"] == int(torch.isin(y, torch.tensor([7, 8])).sum())
