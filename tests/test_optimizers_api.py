"""The optimizer API a student meets: parameter groups, changing lr, zero_grad, gradient clipping,
error messages that name what to fix, and real training with autodiff tensors."""
import numpy as np
import pytest

import autodiff as ad
import minioptim as mo
from params import P, host, dev


def adam_ref(ws, gs, ms, vs, t, lr, b1, b2, eps, lam=0.0, mode="l2"):
    """One step of Adam in a decay mode, from the equations (host NumPy); returns w, m, v."""
    if mode == "l2":
        gs = gs + lam * ws
    m = b1 * ms + (1 - b1) * gs
    v = b2 * vs + (1 - b2) * gs * gs
    u = (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
    if mode == "decoupled":
        return ws - lr * (lam * ws + u), m, v
    if mode == "proximal":
        return (ws - lr * u) / (1 + lr * lam), m, v
    return ws - lr * u, m, v


# -- parameter groups and lr schedules -----------------------------------------------------------
def test_param_groups_use_their_own_lr_and_weight_decay():
    """Group 1 has its own lr, weight decay and mode; group 2 takes the constructor's defaults.
    Three steps of each parameter follow Adam's equations with its group's hyperparameters."""
    r = np.random.default_rng(0)
    w1, w2 = r.normal(size=3), r.normal(size=(2, 2))
    p1, p2 = P(w1), P(w2)
    opt = mo.Adam([{"params": [p1], "lr": 0.1, "weight_decay": 0.5,
                    "weight_decay_mode": "decoupled"},
                   {"params": [p2]}], lr=0.01, betas=(0.8, 0.9), eps=1e-3, weight_decay=0.2)
    m1 = v1 = np.zeros(3)
    m2 = v2 = np.zeros((2, 2))
    for t in range(1, 4):
        g1, g2 = r.normal(size=3), r.normal(size=(2, 2))
        p1.grad, p2.grad = dev(g1), dev(g2)
        opt.step()
        w1, m1, v1 = adam_ref(w1, g1, m1, v1, t, 0.1, 0.8, 0.9, 1e-3, 0.5, "decoupled")
        w2, m2, v2 = adam_ref(w2, g2, m2, v2, t, 0.01, 0.8, 0.9, 1e-3, 0.2, "l2")
        np.testing.assert_allclose(host(p1.data), w1, rtol=1e-12)
        np.testing.assert_allclose(host(p2.data), w2, rtol=1e-12)


def test_param_groups_share_the_global_norm_of_clipped_sgd():
    """SGDClipGrad with two groups: each takes min(eta_group, gamma / ||g||) g with ONE norm
    over all parameters, whatever their group."""
    p1, p2 = P([1.0, 2.0]), P([3.0])
    opt = mo.SGDClipGrad([{"params": [p1], "lr": 0.5}, {"params": [p2], "lr": 0.01}],
                         lr=0.1, gamma=1.0)
    g1, g2 = np.array([3.0, 0.0]), np.array([4.0])            # ||g|| = 5: gamma/||g|| = 0.2
    p1.grad, p2.grad = dev(g1), dev(g2)
    opt.step()
    np.testing.assert_allclose(host(p1.data), [1.0, 2.0] - 0.2 * g1, rtol=1e-14)   # clipped
    np.testing.assert_allclose(host(p2.data), [3.0] - 0.01 * g2, rtol=1e-14)       # not


def test_add_param_group_later():
    """add_param_group adds a group with the constructor's defaults filled in."""
    p1, p2 = P([1.0]), P([1.0])
    opt = mo.SGD([p1], lr=0.1, momentum=0.5)
    opt.add_param_group({"params": [p2], "lr": 0.2})
    assert opt.param_groups[1]["momentum"] == 0.5 and opt.param_groups[1]["lr"] == 0.2
    p1.grad, p2.grad = dev([1.0]), dev([1.0])
    opt.step()
    np.testing.assert_allclose(host(p2.data), [1.0 - 0.2 * 0.5], rtol=1e-14)


def test_changing_lr_between_steps_takes_effect():
    """param_groups[0]["lr"] set before each step (a schedule) is the eta of that step, in the
    gradient part and in the decoupled decay; lr = 0 freezes the weights."""
    r = np.random.default_rng(1)
    w = r.normal(size=4)
    p = P(w)
    opt = mo.Adam([p], lr=0.5, betas=(0.8, 0.9), eps=1e-3, weight_decay=0.3,
                  weight_decay_mode="decoupled")
    m = v = np.zeros(4)
    for t, lr in enumerate([0.1, 0.01, 0.0, 0.05], start=1):
        opt.param_groups[0]["lr"] = lr
        g = r.normal(size=4)
        p.grad = dev(g)
        opt.step()
        w, m, v = adam_ref(w, g, m, v, t, lr, 0.8, 0.9, 1e-3, 0.3, "decoupled")
        np.testing.assert_allclose(host(p.data), w, rtol=1e-12)


# -- zero_grad and parameters without gradient ---------------------------------------------------
def test_zero_grad_sets_every_grad_to_none():
    """zero_grad() sets .grad = None on every parameter of every group."""
    p1, p2 = P([1.0]), P([2.0])
    opt = mo.SGD([{"params": [p1]}, {"params": [p2], "lr": 1.0}], lr=0.1)
    p1.grad, p2.grad = dev([1.0]), dev([1.0])
    opt.zero_grad()
    assert p1.grad is None and p2.grad is None


@pytest.mark.parametrize("mode", ["l2", "decoupled", "proximal"])
def test_parameters_without_grad_are_skipped(mode):
    """A parameter with grad None is neither moved nor decayed, and gets no state; its first
    real step later is a first step (Adam with eps = 0: length eta in every coordinate)."""
    p1, p2 = P([1.0, -1.0]), P([2.0, -3.0])
    opt = mo.Adam([p1, p2], lr=0.1, eps=0.0, weight_decay=0.5, weight_decay_mode=mode)
    for _ in range(3):
        p1.grad = dev([0.3, 0.7])
        opt.step()
    np.testing.assert_array_equal(host(p2.data), [2.0, -3.0])
    assert list(opt.state_dict()["state"]) == [0]
    p1.grad, p2.grad = None, dev([0.5, -4.0])
    before = host(p1.data)
    opt.step()
    np.testing.assert_array_equal(host(p1.data), before)
    w, _, _ = adam_ref(np.array([2.0, -3.0]), np.array([0.5, -4.0]), 0.0, 0.0, 1, 0.1, 0.9,
                       0.999, 0.0, 0.5, mode)
    np.testing.assert_allclose(host(p2.data), w, rtol=1e-12)


def test_global_norm_methods_ignore_parameters_without_grad():
    """SGDNormalized's ||m_t|| is over the parameters that have a gradient in this step."""
    p1, p2 = P([0.0, 0.0]), P([5.0])
    opt = mo.SGDNormalized([p1, p2], lr=0.5, momentum=0.0)
    p1.grad = dev([3.0, 4.0])
    opt.step()
    np.testing.assert_allclose(host(p1.data), [-0.3, -0.4], rtol=1e-14)
    np.testing.assert_array_equal(host(p2.data), [5.0])


# -- gradient clipping ---------------------------------------------------------------------------
def test_clip_grad_norm_scales_all_gradients_to_max_norm():
    """clip_grad_norm returns the global norm before clipping and multiplies every gradient by
    max_norm / ||g||, so the new global norm is max_norm; a param without grad is ignored."""
    g1, g2 = np.array([3.0, 0.0, -4.0]), np.array([[12.0]])  # ||g|| = 13
    p1, p2, p3 = P([0.0, 0.0, 0.0]), P([[0.0]]), P([1.0])
    p1.grad, p2.grad = dev(g1), dev(g2)
    norm = mo.clip_grad_norm([p1, p2, p3], max_norm=2.6)
    assert norm == pytest.approx(13.0, rel=1e-15)
    np.testing.assert_allclose(host(p1.grad), g1 * 0.2, rtol=1e-15)
    np.testing.assert_allclose(host(p2.grad), g2 * 0.2, rtol=1e-15)
    assert p3.grad is None
    assert mo.global_norm([p1.grad, p2.grad]) == pytest.approx(2.6, rel=1e-15)


def test_clip_grad_norm_leaves_small_gradients_alone():
    """A global norm below max_norm is returned and the gradients are not changed."""
    p = P([0.0, 0.0])
    p.grad = dev([0.3, 0.4])
    assert mo.clip_grad_norm(p, max_norm=1.0) == pytest.approx(0.5, rel=1e-15)
    np.testing.assert_array_equal(host(p.grad), [0.3, 0.4])


def test_clip_grad_norm_does_not_modify_a_shared_gradient_array():
    """Clipping replaces .grad by a new array: another holder of the old array keeps it."""
    p = P([0.0, 0.0])
    shared = dev([3.0, 4.0])
    p.grad = shared
    mo.clip_grad_norm([p], max_norm=1.0)
    np.testing.assert_array_equal(host(shared), [3.0, 4.0])
    np.testing.assert_allclose(host(p.grad), [0.6, 0.8], rtol=1e-15)


def test_global_norm():
    """global_norm is the Euclidean norm of all entries of all arrays together."""
    assert mo.global_norm([dev([1.0, 2.0]), dev([[2.0], [4.0]])]) == pytest.approx(5.0, rel=1e-15)
    assert mo.global_norm([]) == 0.0


# -- error messages ------------------------------------------------------------------------------
def _p():
    return P([1.0, 2.0])


@pytest.mark.parametrize("make,exc,phrase", [
    (lambda: mo.SGD([_p()], lr=-0.1), ValueError, "lr must be a finite number >= 0"),
    (lambda: mo.Adam([_p()], lr=float("nan")), ValueError, "lr must be a finite number >= 0"),
    (lambda: mo.Adam([_p()], betas=(1.0, 0.999)), ValueError, "betas must be a pair (beta1, beta2) of numbers in [0, 1)"),
    (lambda: mo.AdamW([_p()], betas=(0.9, -0.1)), ValueError, "betas must be a pair (beta1, beta2) of numbers in [0, 1)"),
    (lambda: mo.Lion([_p()], betas=(0.9, 1.0)), ValueError, "betas must be a pair (beta1, beta2) of numbers in [0, 1)"),
    (lambda: mo.GeneralizedSignSGD([_p()], betas=(1.5, 0.9)), ValueError, "betas must be a pair (beta1, beta2) of numbers in [0, 1)"),
    (lambda: mo.Adam([_p()], eps=-1e-8), ValueError, "eps must be a finite number >= 0"),
    (lambda: mo.AdaGrad([_p()], eps=-1.0), ValueError, "eps must be a finite number >= 0"),
    (lambda: mo.SGD([_p()], momentum=1.0), ValueError, "momentum must be a number in [0, 1)"),
    (lambda: mo.SGD([_p()], nesterov=True), ValueError, "nesterov=True needs momentum > 0"),
    (lambda: mo.SGD([_p()], weight_decay=-0.1), ValueError, "weight_decay must be a finite number >= 0"),
    (lambda: mo.Adam([_p()], weight_decay=0.1, weight_decay_mode="adamw"), ValueError,
     "weight_decay_mode must be one of l2, decoupled, proximal"),
    (lambda: mo.Lion([_p()], weight_decay_mode="L2"), ValueError, "weight_decay_mode must be"),
    (lambda: mo.Adam([{"params": [_p()], "momentum": 0.9}]), TypeError,
     "has no hyperparameter momentum"),
    (lambda: mo.SGD([{"params": [_p()], "lr": 0.1, "betas": (0.9, 0.99)}]), TypeError,
     "has no hyperparameter betas"),
    (lambda: mo.Adam([{"params": [_p()], "lr": -1.0}]), ValueError, "lr must be a finite number >= 0"),
    (lambda: mo.Adam([{"lr": 0.1}]), ValueError, "'params' list"),
    (lambda: mo.SGD([np.ones(3)], lr=0.1), TypeError, "needs .data"),
    (lambda: mo.SGD([1.0, 2.0], lr=0.1), TypeError, "needs .data"),
    (lambda: mo.SGD([], lr=0.1), ValueError, "empty parameter list"),
    (lambda: mo.SGDClipGrad([_p()], lr=0.1), ValueError, "needs gamma > 0"),
    (lambda: mo.SGDClipMomentum([_p()], lr=0.1), ValueError, "needs gamma > 0"),
    (lambda: mo.SGDClipGrad([_p()], lr=0.1, gamma=-1.0), ValueError, "needs gamma > 0"),
    (lambda: mo.PreconditionedGD([_p()], lr=0.1), ValueError, "needs a preconditioner: one positive array per parameter"),
    (lambda: mo.PreconditionedGD([_p()], lr=0.1, preconditioner=[[1.0, 2.0, 3.0]]), ValueError,
     "preconditioner 0 has shape"),
    (lambda: mo.PreconditionedGD([_p()], lr=0.1, preconditioner=[[1.0, 0.0]]), ValueError,
     "must be positive"),
], ids=["lr", "lr-nan", "betas-adam", "betas-adamw", "betas-lion", "betas-gsign", "eps-adam",
        "eps-adagrad", "momentum", "nesterov", "weight_decay", "mode", "mode-case",
        "unknown-adam", "unknown-sgd", "group-lr", "group-without-params", "numpy-param",
        "float-param", "empty", "gamma-clipgrad", "gamma-clipmomentum", "gamma-negative",
        "precond-missing", "precond-shape", "precond-positive"])
def test_error_messages_name_what_to_fix(make, exc, phrase):
    """Bad arguments raise at construction, with a message naming the thing to fix."""
    with pytest.raises(exc) as info:
        make()
    assert phrase in str(info.value)


def test_a_parameter_in_two_groups_is_an_error():
    """The same parameter in two groups would be stepped twice: refused."""
    p = _p()
    with pytest.raises(ValueError, match="appears in two parameter groups"):
        mo.SGD([{"params": [p]}, {"params": [p], "lr": 1.0}], lr=0.1)


def test_clip_grad_norm_rejects_non_positive_max_norm():
    p = _p()
    p.grad = dev([1.0, 1.0])
    with pytest.raises(ValueError, match="max_norm must be > 0"):
        mo.clip_grad_norm([p], 0.0)


@pytest.mark.parametrize("make,phrase", [
    (lambda: mo.SGD([_p()], lr="0.1"), "lr"),
    (lambda: mo.SGD([_p()], lr=None), "lr"),
    (lambda: mo.Adam([_p()], betas=0.9), "betas"),
    (lambda: mo.Adam([_p()], betas=(0.9,)), "betas"),
], ids=["lr-string", "lr-none", "betas-float", "betas-one-value"])
def test_wrongly_typed_hyperparameters_are_named_in_the_error(make, phrase):
    """lr given as a string (read from a config file) or as None, betas as a single number:
    the error names the hyperparameter (not only "'>=' not supported ...")."""
    with pytest.raises((TypeError, ValueError)) as info:
        make()
    assert phrase in str(info.value)


def test_a_parameter_twice_in_one_group_is_refused_or_stepped_once():
    """SGD([p, p]) must not take two steps on p (nor count two Adam steps): either it is
    refused like a parameter in two groups, or p moves exactly once."""
    p = P([1.0, 2.0])
    try:
        opt = mo.SGD([p, p], lr=0.1)
    except ValueError as e:
        assert "two" in str(e) or "duplicate" in str(e) or "twice" in str(e)
        return
    p.grad = dev([1.0, 1.0])
    opt.step()
    np.testing.assert_allclose(host(p.data), [0.9, 1.9], rtol=1e-14)


def test_a_single_tensor_instead_of_a_list_is_refused_or_trained():
    """SGD(w, lr) (a tensor, not a list of tensors) must not silently train copies of w's
    rows: either it raises naming the params argument, or it updates w itself."""
    w = ad.Tensor(np.array([1.0, -2.0, 3.0]), dtype="float64", requires_grad=True)
    try:
        opt = mo.SGD(w, lr=0.1)
    except (TypeError, ValueError) as e:
        assert "param" in str(e)
        return
    (w * w).sum().backward()
    opt.step()
    np.testing.assert_allclose(w.numpy(), [0.8, -1.6, 2.4], rtol=1e-14)


@pytest.mark.parametrize("make", [
    lambda ps: mo.SGDClipGrad(ps, lr=0.1, gamma=10.0, momentum=0.9),
    lambda ps: mo.SGDNormalized([{"params": ps, "dampening": 0.0}], lr=0.1, momentum=0.5),
    lambda ps: mo.SGDClipMomentum([{"params": ps, "nesterov": True}], lr=0.1, momentum=0.5,
                                  gamma=10.0),
], ids=["SGDClipGrad-momentum", "SGDNormalized-dampening", "SGDClipMomentum-nesterov"])
def test_accepted_hyperparameters_are_not_silently_ignored(make):
    """A hyperparameter the optimizer accepts must change its steps (or be refused): otherwise
    a student who sets it believes it is in effect. Compared with the run without it."""
    def run(mk):
        p = P([1.0, 2.0])
        try:
            opt = mk([p])
        except (TypeError, ValueError):
            return None
        for g in ([1.0, -1.0], [0.5, 2.0], [-1.0, 0.3]):
            p.grad = dev(g)
            opt.step()
        return host(p.data)

    plain = {"SGDClipGrad": lambda ps: mo.SGDClipGrad(ps, lr=0.1, gamma=10.0),
             "SGDNormalized": lambda ps: mo.SGDNormalized(ps, lr=0.1, momentum=0.5),
             "SGDClipMomentum": lambda ps: mo.SGDClipMomentum(ps, lr=0.1, momentum=0.5,
                                                              gamma=10.0)}
    with_it = run(make)
    if with_it is None:
        return                                                     # refused: fine
    name = type(make([P([0.0])])).__name__
    assert not np.array_equal(with_it, run(plain[name])), \
        f"{name} accepted the hyperparameter and ignored it"


# -- state dict mismatches -----------------------------------------------------------------------
def _trained(params, groups=False):
    opt = mo.Adam([{"params": [p]} for p in params] if groups else params, lr=0.1)
    for p in params:
        p.grad = dev(np.ones(host(p.data).shape))
    opt.step()
    return opt


def test_load_state_dict_with_another_number_of_groups():
    sd = _trained([P([1.0]), P([2.0])], groups=True).state_dict()
    opt = mo.Adam([P([1.0]), P([2.0])], lr=0.1)
    with pytest.raises(ValueError, match="the state dict has 2 parameter groups, this "
                                         "optimizer has 1"):
        opt.load_state_dict(sd)


def test_load_state_dict_with_another_number_of_parameters():
    sd = _trained([P([1.0]), P([2.0])]).state_dict()
    opt = mo.Adam([P([1.0])], lr=0.1)
    with pytest.raises(ValueError, match="parameter group 0: the state dict has 2 parameters"):
        opt.load_state_dict(sd)


def test_load_state_dict_with_another_shape():
    sd = _trained([P([1.0, 2.0, 3.0])]).state_dict()
    opt = mo.Adam([P([1.0, 2.0, 3.0, 4.0])], lr=0.1)
    with pytest.raises(ValueError, match=r"state '\w+' of parameter 0 has shape \(3,\), the "
                                         r"parameter has \(4,\)"):
        opt.load_state_dict(sd)


def test_load_state_dict_restores_hyperparameters():
    """The groups' hyperparameters (here a scheduled lr) come back with the state."""
    opt = _trained([P([1.0])])
    opt.param_groups[0]["lr"] = 0.0123
    opt2 = mo.Adam([P([1.0])], lr=0.1)
    opt2.load_state_dict(opt.state_dict())
    assert opt2.param_groups[0]["lr"] == 0.0123


# -- real training with autodiff tensors ---------------------------------------------------------
TRAIN = [
    ("SGD", lambda ps: mo.SGD(ps, lr=0.05, momentum=0.9)),
    ("SGD-nesterov", lambda ps: mo.SGD(ps, lr=0.05, momentum=0.9, dampening=0, nesterov=True)),
    ("SGDNormalized", lambda ps: mo.SGDNormalized(ps, lr=0.05)),
    ("SGDClipGrad", lambda ps: mo.SGDClipGrad(ps, lr=0.1, gamma=0.2)),
    ("SGDClipMomentum", lambda ps: mo.SGDClipMomentum(ps, lr=0.1, gamma=0.2)),
    ("AdaGrad", lambda ps: mo.AdaGrad(ps, lr=0.3)),
    ("Adam", lambda ps: mo.Adam(ps, lr=0.05)),
    ("Adam-l2", lambda ps: mo.Adam(ps, lr=0.05, weight_decay=1e-3)),
    ("AdamW", lambda ps: mo.AdamW(ps, lr=0.05)),
    ("AdamProx", lambda ps: mo.AdamProx(ps, lr=0.05)),
    ("Lion", lambda ps: mo.Lion(ps, lr=0.05)),
    ("GeneralizedSignSGD", lambda ps: mo.GeneralizedSignSGD(ps, lr=0.02)),
    ("SignSGD", lambda ps: mo.SignSGD(ps, lr=0.02)),
    ("PreconditionedGD", lambda ps: mo.PreconditionedGD(
        ps, lr=0.1, preconditioner=[np.ones(3), np.ones(1)])),
]


@pytest.mark.parametrize("name,make", TRAIN, ids=[c[0] for c in TRAIN])
def test_training_a_tiny_least_squares_model_with_backward(name, make):
    """ad.Tensor parameters, loss.backward(), opt.step(), opt.zero_grad(): 60 steps of least
    squares (X @ w + b - y)^2 reduce the loss to less than a fifth, for every optimizer."""
    r = np.random.default_rng(0)
    X_host = r.normal(size=(32, 3))
    X = ad.Tensor(X_host, dtype="float64")
    y = ad.Tensor(X_host @ np.array([1.5, -2.0, 0.5]) + 0.7, dtype="float64")
    w = ad.Tensor(np.zeros(3), dtype="float64", requires_grad=True)
    b = ad.Tensor(np.zeros(1), dtype="float64", requires_grad=True)
    opt = make([w, b])

    def loss():
        return ((X @ w + b - y) ** 2).mean()
    first = loss().item()
    for _ in range(60):
        opt.zero_grad()
        ell = loss()
        ell.backward()
        opt.step()
    assert loss().item() < 0.2 * first
    assert w.grad is not None and w.requires_grad


def test_tensor_parameters_resume_from_state_dict():
    """state_dict / load_state_dict work with tensors trained by backward()."""
    def setup():
        return ad.Tensor(np.array([1.0, -1.0]), dtype="float64", requires_grad=True)

    def step(opt, w):
        opt.zero_grad()
        ((w - ad.Tensor(np.array([3.0, 2.0]), dtype="float64")) ** 2).sum().backward()
        opt.step()
    w = setup()
    opt = mo.Adam([w], lr=0.1)
    for _ in range(5):
        step(opt, w)
    w_half, sd = w.numpy(), opt.state_dict()
    for _ in range(5):
        step(opt, w)
    w2 = ad.Tensor(w_half, dtype="float64", requires_grad=True)
    opt2 = mo.Adam([w2], lr=0.1)
    opt2.load_state_dict(sd)
    for _ in range(5):
        step(opt2, w2)
    assert np.array_equal(w2.numpy(), w.numpy())


def test_state_dict_saved_as_host_numpy_arrays_loads_on_the_active_backend():
    """A state dict whose arrays were moved to the host (as after saving to disk) loads into
    an optimizer on the active backend, and resumes exactly."""
    def step(opt, p, g):
        p.grad = dev(g)
        opt.step()
    p = P([1.0, -2.0, 0.5])
    opt = mo.Adam([p], lr=0.1, betas=(0.8, 0.9))
    step(opt, p, [1.0, 2.0, -3.0])
    sd = opt.state_dict()
    sd_host = {"param_groups": sd["param_groups"],
               "state": {i: {k: (host(v) if ad.backend.is_array(v) else v) for k, v in s.items()}
                         for i, s in sd["state"].items()}}
    p2 = P(host(p.data))
    opt2 = mo.Adam([p2], lr=0.1, betas=(0.8, 0.9))
    opt2.load_state_dict(sd_host)
    step(opt, p, [0.5, -1.0, 2.0])
    step(opt2, p2, [0.5, -1.0, 2.0])
    assert type(p2.data) is type(p.data)
    assert np.array_equal(host(p2.data), host(p.data))


def test_preconditioned_gd_add_param_group_says_what_is_missing():
    """A group added later to PreconditionedGD has no preconditioner: adding it (or stepping)
    must fail with a message about the preconditioner, not a bare KeyError: 'P'."""
    p1, p2 = P([1.0]), P([2.0])
    opt = mo.PreconditionedGD([p1], lr=0.1, preconditioner=[[2.0]])
    with pytest.raises((TypeError, ValueError), match="preconditioner"):
        opt.add_param_group({"params": [p2]})
        p1.grad, p2.grad = dev([1.0]), dev([1.0])
        opt.step()


@pytest.mark.parametrize("name,make", TRAIN, ids=[c[0] for c in TRAIN])
def test_float32_parameters_and_state_stay_float32(name, make):
    """float32 tensors (the default dtype) keep float32 weights and float32 optimizer state in
    every decay mode: no silent upcast to float64 (twice the memory on a GPU)."""
    w = ad.Tensor(np.array([1.0, -2.0, 0.5]), requires_grad=True)
    b = ad.Tensor(np.array([0.3]), requires_grad=True)
    assert w.dtype == ad.backend.xp.float32
    opt = make([w, b])
    for mode in ("l2", "decoupled", "proximal"):
        for group in opt.param_groups:
            group.update(weight_decay=0.1, weight_decay_mode=mode)
        opt.zero_grad()
        ((w * w).sum() + (b * b).sum()).backward()
        opt.step()
    assert w.dtype == ad.backend.xp.float32 and b.dtype == ad.backend.xp.float32
    for s in opt.state.values():
        for k, v in s.items():
            if ad.backend.is_array(v):
                assert v.dtype == ad.backend.xp.float32, f"state {k} is {v.dtype}"


def test_load_state_dict_of_another_optimizer_is_refused():
    """Adam's state dict loaded into SGD: the groups would get hyperparameters SGD does not have
    (betas, eps) and SGD would carry Adam's m, v. Refused, naming the optimizer that saved it;
    a dict without that name (made by hand) is refused naming the foreign hyperparameters."""
    sd = _trained([P([1.0])]).state_dict()
    opt = mo.SGD([P([1.0])], lr=0.5)
    with pytest.raises(ValueError, match="saved by Adam; it can only be loaded into Adam, not SGD"):
        opt.load_state_dict(sd)
    del sd["optimizer"]
    with pytest.raises(ValueError, match="other hyperparameters than SGD.*betas"):
        opt.load_state_dict(sd)


@pytest.mark.parametrize("size", [1e-30, 1e-20, 1e20, 1e30])
def test_normalized_steps_have_length_eta_for_tiny_and_huge_float32_gradients(size):
    """The squares of such float32 gradients underflow to 0 or overflow to inf; the step still
    has length eta in the gradient's direction, and the global norm is the true one."""
    p = P(np.array([1.0, -1.0, 0.0], dtype=np.float32))
    g = np.array([3.0, -4.0, 0.0], dtype=np.float32) * np.float32(size)
    assert mo.global_norm([ad.backend.asarray(g)]) == pytest.approx(5.0 * size, rel=1e-6)
    p.grad = ad.backend.asarray(g)
    mo.SGDNormalized([p], lr=0.5, momentum=0.0).step()
    np.testing.assert_allclose(host(p.data), [1.0 - 0.3, -1.0 + 0.4, 0.0], rtol=1e-6, atol=1e-7)


def test_normalized_sgd_with_zero_or_nan_momentum():
    p = P([1.0, 2.0])
    p.grad = ad.backend.asarray(np.zeros(2))
    mo.SGDNormalized([p], lr=0.5, momentum=0.0).step()       # no direction: x stays
    np.testing.assert_array_equal(host(p.data), [1.0, 2.0])
    p.grad = ad.backend.asarray(np.array([np.nan, 1.0]))
    mo.SGDNormalized([p], lr=0.5, momentum=0.0).step()       # NaN is not hidden
    assert np.isnan(host(p.data)).all()
    assert np.isnan(mo.global_norm([ad.backend.asarray(np.array([np.nan, 1e-30]))]))
    assert mo.global_norm([]) == 0.0


def test_preconditioner_per_group_and_the_callers_dicts_untouched():
    a, b = P([1.0, 1.0]), P([2.0])
    first = {"params": [a], "preconditioner": [np.array([0.5, 2.0])]}
    opt = mo.PreconditionedGD([first], lr=0.1)
    assert "preconditioner" in first                 # the caller's group is not emptied
    second = {"params": [b], "preconditioner": [np.array([4.0])]}
    opt.add_param_group(second)
    assert "preconditioner" in second
    a.grad, b.grad = ad.backend.asarray(np.array([1.0, 1.0])), ad.backend.asarray(np.array([1.0]))
    opt.step()                                       # x - eta P g, each with its own P
    np.testing.assert_allclose(host(a.data), [1.0 - 0.05, 1.0 - 0.2])
    np.testing.assert_allclose(host(b.data), [2.0 - 0.4])


def test_betas_are_stored_as_a_pair_and_a_malformed_state_dict_is_named():
    opt = mo.Adam([P([1.0])], lr=0.1, betas=[0.9, 0.99])
    assert opt.param_groups[0]["betas"] == (0.9, 0.99)
    assert isinstance(opt.param_groups[0]["betas"], tuple)
    for bad in ({"state": {}}, {"param_groups": [], "state": []}, [1, 2]):
        with pytest.raises(ValueError, match="Adam.load_state_dict expects a dict with "
                                             "'param_groups' .a list. and 'state' .a dict."):
            opt.load_state_dict(bad)


def test_state_dict_keeps_the_state_of_a_group_listed_twice():
    def make():
        p = P([1.0, 2.0])
        opt = mo.Adam([p], lr=0.1)
        opt.param_groups.append(opt.param_groups[0])      # the same group object again
        return p, opt
    p, opt = make()
    p.grad = dev([1.0, -1.0])
    opt.step()
    sd = opt.state_dict()
    assert list(sd["state"]) == [0] and [g["params"] for g in sd["param_groups"]] == [[0], [0]]
    q, fresh = make()
    q.data[...] = p.data
    fresh.load_state_dict(sd)
    for x in (p, q):
        x.grad = dev([0.5, 0.25])
    opt.step()
    fresh.step()
    np.testing.assert_array_equal(host(q.data), host(p.data))
