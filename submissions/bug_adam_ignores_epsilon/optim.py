import numpy as np

"""
Update rules for the Solver: next_w, config = rule(w, dw, config).

The network trains in float32, so every rule keeps the dtype of w: Python
scalars from config are cast to w's dtype before they touch an array, and
the state arrays are created with w's dtype.
"""


def _scalar(value, like):
    """A hyperparameter as a scalar of the same dtype as the array `like`."""
    return like.dtype.type(value)


def sgd(w, dw, config=None):
    """
    Stochastic gradient descent.
    config: learning_rate (default 1e-2).
    """
    if config is None:
        config = {}
    config.setdefault('learning_rate', 1e-2)
    lr = _scalar(config['learning_rate'], w)
    next_w = (w - lr * dw).astype(w.dtype, copy=False)
    return next_w, config


def sgd_momentum(w, dw, config=None):
    """
    Momentum SGD.
    config: learning_rate (1e-2), momentum (0.9), velocity (zeros, dtype of w).
    """
    if config is None:
        config = {}
    config.setdefault('learning_rate', 1e-2)
    config.setdefault('momentum', 0.9)
    lr = _scalar(config['learning_rate'], w)
    mu = _scalar(config['momentum'], w)
    v = config.get('velocity', np.zeros(w.shape, dtype=w.dtype))

    v = (mu * v - lr * dw).astype(w.dtype, copy=False)
    next_w = w + v
    config['velocity'] = v
    return next_w, config


def sgd_nesterov_momentum(w, dw, config=None):
    """
    Nesterov momentum SGD.
    config: learning_rate (1e-2), momentum (0.9), velocity (zeros, dtype of w).
    """
    if config is None:
        config = {}
    config.setdefault('learning_rate', 1e-2)
    config.setdefault('momentum', 0.9)
    lr = _scalar(config['learning_rate'], w)
    mu = _scalar(config['momentum'], w)
    one = _scalar(1, w)
    v_prev = config.get('velocity', np.zeros(w.shape, dtype=w.dtype))

    v = (mu * v_prev - lr * dw).astype(w.dtype, copy=False)
    next_w = (w - mu * v_prev + (one + mu) * v).astype(w.dtype, copy=False)
    config['velocity'] = v
    return next_w, config


def rmsprop(w, dw, config=None):
    """
    RMSProp.
    config: learning_rate (1e-2), decay_rate (0.99), epsilon (1e-8),
    a (running average of squared gradients, zeros).
    """
    if config is None:
        config = {}
    config.setdefault('learning_rate', 1e-2)
    config.setdefault('decay_rate', 0.99)
    config.setdefault('epsilon', 1e-8)
    config.setdefault('a', np.zeros(w.shape, dtype=w.dtype))
    lr = _scalar(config['learning_rate'], w)
    rho = _scalar(config['decay_rate'], w)
    eps = _scalar(config['epsilon'], w)
    one = _scalar(1, w)

    a = (rho * config['a'] + (one - rho) * dw * dw).astype(w.dtype, copy=False)
    next_w = (w - lr * dw / (np.sqrt(a) + eps)).astype(w.dtype, copy=False)
    config['a'] = a
    return next_w, config


def adam(w, dw, config=None):
    """
    Adam.
    config: learning_rate (1e-3), beta1 (0.9), beta2 (0.999), epsilon (1e-8),
    v = first moment, a = second moment (both zeros, dtype of w), t (0).
    """
    if config is None:
        config = {}
    config.setdefault('learning_rate', 1e-3)
    config.setdefault('beta1', 0.9)
    config.setdefault('beta2', 0.999)
    config.setdefault('epsilon', 1e-8)
    config.setdefault('v', np.zeros(w.shape, dtype=w.dtype))
    config.setdefault('a', np.zeros(w.shape, dtype=w.dtype))
    config.setdefault('t', 0)

    config['t'] = config['t'] + 1
    t = config['t']
    lr = _scalar(config['learning_rate'], w)
    b1 = _scalar(config['beta1'], w)
    b2 = _scalar(config['beta2'], w)
    eps = _scalar(config['epsilon'], w)
    one = _scalar(1, w)
    # the corrections are computed in double precision, then cast
    c1 = _scalar(1.0 - config['beta1'] ** t, w)
    c2 = _scalar(1.0 - config['beta2'] ** t, w)

    v = (b1 * config['v'] + (one - b1) * dw).astype(w.dtype, copy=False)
    a = (b2 * config['a'] + (one - b2) * dw * dw).astype(w.dtype, copy=False)
    next_w = (w - lr * (v / c1) / (np.sqrt(a / c2) + 1e-8)).astype(w.dtype, copy=False)

    config['v'] = v
    config['a'] = a
    return next_w, config
