"""gradcheck catches wrong derivatives; detect_anomaly names the culprit; errors say what to fix."""
import numpy as np
import pytest

import autodiff as ad
from autodiff import Function


class SquareWithWrongDerivative(Function):
    """y = x^2 with the derivative 3x instead of 2x: a student's typical slip."""

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, g):
        return (g * 3 * self.x,)


class TimesTwoWithWrongShape(Function):
    def forward(self, x):
        return 2 * x

    def backward(self, g):
        return (g.sum(),)


def test_gradcheck_passes_a_correct_function():
    x = ad.Tensor(np.array([[0.3, -1.2], [2.0, 0.7]]), requires_grad=True)
    w = ad.Tensor(np.array([0.5, -0.25]), requires_grad=True)
    assert ad.gradcheck(lambda x, w: (x @ w).sigmoid() * x.sum(), x, w)


def test_gradcheck_names_the_input_the_entry_and_both_values():
    x = ad.Tensor([1.0, -2.0, 0.5], requires_grad=True)
    scale = ad.Tensor([1.0, 1.0, 1.0], requires_grad=True)

    def f(scale, x):
        return scale * SquareWithWrongDerivative.apply(x)

    with pytest.raises(ad.GradcheckError) as info:
        ad.gradcheck(f, scale, x)
    msg = str(info.value)
    assert "input 'x' (argument 1, shape (3,))" in msg
    assert "analytic gradient (from backward)" in msg and "numerical gradient" in msg
    assert "3 of 3 entries disagree" in msg
    # the worst entry is where |3x - 2x| * |r| is largest; both numbers are reported
    assert "at index (" in msg


def test_gradcheck_does_not_blame_a_correct_input():
    x = ad.Tensor([1.0, -2.0], requires_grad=True)
    c = ad.Tensor([2.0, 3.0], requires_grad=True)

    def f(c, x):
        return c * SquareWithWrongDerivative.apply(x)

    with pytest.raises(ad.GradcheckError, match="input 'x'"):
        ad.gradcheck(f, c, x)


def test_gradcheck_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="requires_grad=True"):
        ad.gradcheck(lambda x: x * 2, ad.Tensor([1.0]))


def test_a_backward_with_the_wrong_shape_is_named():
    x = ad.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"backward of 'timestwowithwrongshape' returned a gradient of shape \(\) for an input of shape \(2,\)"):
        TimesTwoWithWrongShape.apply(x).sum().backward()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_anomaly_in_forward_names_the_operation_and_the_line():
    x = ad.Tensor([1.0, -1.0], requires_grad=True)
    with ad.detect_anomaly():
        y = x * 2
        with pytest.raises(ad.AnomalyError) as info:
            y.log()                                   # log(-2) = nan
    msg = str(info.value)
    assert "'log'" in msg and "produced nan in its forward output" in msg
    assert "test_gradcheck_anomaly_errors.py" in msg and "y.log()" in msg


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_anomaly_in_backward_names_the_operation():
    x = ad.Tensor([0.0, 4.0], requires_grad=True)
    with ad.detect_anomaly():
        y = x.sqrt().sum()                            # fine forward; d sqrt/dx at 0 is inf
        with pytest.raises(ad.AnomalyError) as info:
            y.backward()
    msg = str(info.value)
    assert "backward of 'sqrt'" in msg and "produced inf in the gradient for its input 0" in msg
    assert "x.sqrt().sum()" in msg


def test_anomaly_blames_the_data_when_it_arrives_broken():
    x = ad.Tensor([1.0, float("nan")])
    with ad.detect_anomaly(), pytest.raises(ad.AnomalyError, match="already contains nan"):
        x * 2


def test_without_anomaly_mode_nan_passes_silently():
    x = ad.Tensor([-1.0])
    with np.errstate(invalid="ignore"):
        assert np.isnan(x.log().numpy()).all()


@pytest.mark.parametrize("op,shapes,expected", [
    (lambda a, b: a + b, ((3, 4), (5,)), r"add: shapes \(3, 4\) and \(5,\) cannot be broadcast together"),
    (lambda a, b: a * b, ((2, 3), (3, 2)), r"mul: shapes \(2, 3\) and \(3, 2\) cannot be broadcast"),
    (lambda a, b: a @ b, ((3, 4), (5, 6)), r"matmul: shapes \(3, 4\) and \(5, 6\) do not fit: the last dimension of the first \(4\) must equal the second-to-last dimension of the second \(5\)"),
    (lambda a, b: ad.maximum(a, b), ((2,), (3,)), r"maximum: shapes \(2,\) and \(3,\)"),
    (lambda a, b: ad.concatenate([a, b], axis=0), ((2, 3), (2, 4)), r"concatenate: tensor 1 has shape \(2, 4\) but tensor 0 has shape \(2, 3\); all dimensions except axis 0 must match"),
    (lambda a, b: ad.stack([a, b]), ((2,), (3,)), r"stack: tensor 1 has shape \(3,\) but tensor 0 has shape \(2,\)"),
])
def test_shape_mismatches_name_the_operation_and_both_shapes(op, shapes, expected):
    a, b = (ad.zeros(*s, requires_grad=True) for s in shapes)
    with pytest.raises(ad.ShapeError, match=expected):
        op(a, b)


def test_reshape_mismatch_names_both_shapes():
    with pytest.raises(ad.ShapeError, match=r"reshape: cannot reshape a tensor of shape \(3, 4\) \(12 elements\) into \(5,\)"):
        ad.zeros(3, 4).reshape(5)


def test_backward_on_a_non_scalar_says_what_to_do():
    y = ad.Tensor([1.0, 2.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"needs a scalar output, but the tensor of shape \(2,\) has shape \(2,\).*loss.sum\(\).backward\(\)"):
        y.backward()


def test_gradients_of_an_integer_tensor_are_refused():
    with pytest.raises(TypeError, match=r"only floating-point tensors can require gradients.*dtype int64; create it with dtype='float32'"):
        ad.Tensor([1, 2, 3], requires_grad=True)


def test_backward_without_any_grad_input_is_explained():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (ad.Tensor([1.0]) * 2).sum().backward()


def test_item_on_many_elements_is_explained():
    with pytest.raises(ValueError, match=r"item\(\) needs a tensor with exactly one element.*shape \(3,\)"):
        ad.zeros(3).item()


def test_axis_out_of_range_is_named():
    with pytest.raises(ad.ShapeError, match="axis 2 is out of range for a tensor with 2 dimensions"):
        ad.zeros(2, 3).sum(axis=2)
