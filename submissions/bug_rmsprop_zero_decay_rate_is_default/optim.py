import numpy as np

"""
Update rules. Signature of each: next_w, config = rule(w, dw, config=None).

Hyperparameters are read with config.get(key, default); the state arrays are
recomputed as new arrays and written back into config before returning.
"""


def sgd(w, dw, config=None):
    """
    Stochastic gradient descent.
    config['learning_rate'] (default 1e-2) is the step size.
    """
    if config is None:
        config = {}
    lr = config.get('learning_rate', 1e-2)
    next_w = w - lr * dw
    return next_w, config


def sgd_momentum(w, dw, config=None):
    """
    Momentum SGD.
    config: learning_rate (1e-2), momentum (0.9), velocity (zeros like w).
    """
    if config is None:
        config = {}
    lr = config.get('learning_rate', 1e-2)
    mu = config.get('momentum', 0.9)
    v = config.get('velocity', np.zeros_like(w))

    v = mu * v - lr * dw
    next_w = w + v

    config['velocity'] = v
    return next_w, config


def sgd_nesterov_momentum(w, dw, config=None):
    """
    Nesterov momentum SGD (the form that keeps the un-looked-ahead weights).
    config: learning_rate (1e-2), momentum (0.9), velocity (zeros like w).
    """
    if config is None:
        config = {}
    lr = config.get('learning_rate', 1e-2)
    mu = config.get('momentum', 0.9)
    v_old = config.get('velocity', np.zeros_like(w))

    v = mu * v_old - lr * dw
    next_w = w + (1 + mu) * v - mu * v_old

    config['velocity'] = v
    return next_w, config


def rmsprop(w, dw, config=None):
    """
    RMSProp.
    config: learning_rate (1e-2), decay_rate (0.99), epsilon (1e-8),
    a (zeros like w): decaying average of squared gradients.
    """
    if config is None:
        config = {}
    lr = config.get('learning_rate', 1e-2)
    decay = config.get('decay_rate') or 0.99
    eps = config.get('epsilon', 1e-8)
    a = config.get('a', np.zeros_like(w))

    a = decay * a + (1 - decay) * (dw * dw)
    next_w = w - lr * dw / (np.sqrt(a) + eps)

    config['a'] = a
    return next_w, config


def adam(w, dw, config=None):
    """
    Adam.
    config: learning_rate (1e-3), beta1 (0.9), beta2 (0.999), epsilon (1e-8),
    v (first moment), a (second moment), t (steps done so far, starts at 0).
    """
    if config is None:
        config = {}
    lr = config.get('learning_rate', 1e-3)
    beta1 = config.get('beta1', 0.9)
    beta2 = config.get('beta2', 0.999)
    eps = config.get('epsilon', 1e-8)
    v = config.get('v', np.zeros_like(w))
    a = config.get('a', np.zeros_like(w))
    t = config.get('t', 0) + 1

    v = beta1 * v + (1 - beta1) * dw
    a = beta2 * a + (1 - beta2) * (dw * dw)
    step = lr * (v / (1 - beta1 ** t)) / (np.sqrt(a / (1 - beta2 ** t)) + eps)
    next_w = w - step

    config['v'] = v
    config['a'] = a
    config['t'] = t
    return next_w, config
