import numpy as np

"""
Optimisers for the Solver. Each takes the weights, their gradient and a
config dict (hyperparameters + state) and returns (next_w, config).

Adam is written in its "efficient" form from the paper (section 2): the
bias corrections are folded into the step size and into epsilon, which is
algebraically the same update.
"""


def sgd(w, dw, config=None):
    """
    SGD. config: learning_rate (default 1e-2).
    """
    if config is None:
        config = {}
    lr = config.setdefault('learning_rate', 1e-2)
    next_w = w - dw * lr
    return next_w, config


def sgd_momentum(w, dw, config=None):
    """
    SGD with momentum.
    config: learning_rate (1e-2), momentum (0.9), velocity (zeros like w).
    """
    if config is None:
        config = {}
    lr = config.setdefault('learning_rate', 1e-2)
    mu = config.setdefault('momentum', 0.9)
    velocity = config.get('velocity', np.zeros_like(w))

    config['velocity'] = velocity * mu - dw * lr
    next_w = w + config['velocity']
    return next_w, config


def sgd_nesterov_momentum(w, dw, config=None):
    """
    SGD with Nesterov momentum: the step is the new velocity plus the
    momentum times the change in velocity.
    config: learning_rate (1e-2), momentum (0.9), velocity (zeros like w).
    """
    if config is None:
        config = {}
    lr = config.setdefault('learning_rate', 1e-2)
    mu = config.setdefault('momentum', 0.9)
    old = config.get('velocity', np.zeros_like(w))

    new = old * mu - dw * lr
    next_w = w + new + mu * (new - old)
    config['velocity'] = new
    return next_w, config


def rmsprop(w, dw, config=None):
    """
    RMSProp.
    config: learning_rate (1e-2), decay_rate (0.99), epsilon (1e-8),
    a (zeros like w), the decaying mean of dw squared.
    """
    if config is None:
        config = {}
    lr = config.setdefault('learning_rate', 1e-2)
    rho = config.setdefault('decay_rate', 0.99)
    eps = config.setdefault('epsilon', 1e-8)
    a = config.setdefault('a', np.zeros_like(w))

    a = a + (1 - rho) * (dw * dw - a)
    next_w = w - lr * dw / (np.sqrt(a) + eps)
    config['a'] = a
    return next_w, config


def adam(w, dw, config=None):
    """
    Adam.
    config: learning_rate (1e-3), beta1 (0.9), beta2 (0.999), epsilon (1e-8),
    v (first moment), a (second moment), t (0).
    """
    if config is None:
        config = {}
    lr = config.setdefault('learning_rate', 1e-3)
    b1 = config.setdefault('beta1', 0.9)
    b2 = config.setdefault('beta2', 0.999)
    eps = config.setdefault('epsilon', 1e-8)
    v = config.setdefault('v', np.zeros_like(w))
    a = config.setdefault('a', np.zeros_like(w))
    t = config.setdefault('t', 0) + 1

    v = b1 * v + (1 - b1) * dw
    a = b2 * a + (1 - b2) * dw ** 2
    root_c2 = np.sqrt(1 - b2 ** t)
    lr_t = lr * root_c2 / (1 - b1 ** t)
    next_w = w - lr_t * v / (np.sqrt(a) + eps * root_c2)

    config['v'], config['a'], config['t'] = v, a, t
    return next_w, config
