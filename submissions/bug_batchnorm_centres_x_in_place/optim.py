import numpy as np

"""
First-order update rules used by the Solver to train a network.

Every rule has the signature

    next_w, config = rule(w, dw, config)

where w holds the current weights, dw the gradient of the loss with respect to
w (same shape), and config is a dict of hyperparameters plus whatever state the
rule keeps between iterations (moving averages and the like). The returned
config is handed back on the next call.

This file updates everything in place: w and the state arrays are modified
directly and next_w is simply w.
"""


def sgd(w, dw, config=None):
    """
    Plain stochastic gradient descent.

    config keys:
    - learning_rate: step size.
    """
    if config is None:
        config = {}
    config.setdefault('learning_rate', 1e-2)

    w -= config['learning_rate'] * dw
    next_w = w
    return next_w, config


def sgd_momentum(w, dw, config=None):
    """
    SGD with (classical) momentum.

    config keys:
    - learning_rate: step size.
    - momentum: value in [0, 1) telling how much of the old velocity survives;
      0 turns this into plain SGD.
    - velocity: array shaped like w and dw, a running sum of past steps.
    """
    if config is None:
        config = {}
    config.setdefault('learning_rate', 1e-2)
    config.setdefault('momentum', 0.9)
    v = config.get('velocity', np.zeros_like(w))

    # v <- mu * v - lr * dw, done on the array itself
    v *= config['momentum']
    v -= config['learning_rate'] * dw
    w += v
    next_w = w

    config['velocity'] = v
    return next_w, config


def sgd_nesterov_momentum(w, dw, config=None):
    """
    SGD with Nesterov's accelerated momentum.

    config keys:
    - learning_rate: step size.
    - momentum: value in [0, 1); how much of the old velocity is kept.
    - velocity: array shaped like w and dw.
    """
    if config is None:
        config = {}
    config.setdefault('learning_rate', 1e-2)
    config.setdefault('momentum', 0.9)
    v = config.get('velocity', np.zeros_like(w))
    mu = config['momentum']

    v_prev = v.copy()
    v *= mu
    v -= config['learning_rate'] * dw
    w += -mu * v_prev + (1 + mu) * v
    next_w = w

    config['velocity'] = v
    return next_w, config


def rmsprop(w, dw, config=None):
    """
    RMSProp: divide the step by a running root-mean-square of the gradients,
    which gives each parameter its own effective learning rate.

    config keys:
    - learning_rate: step size.
    - decay_rate: in [0, 1), how fast the squared-gradient average forgets.
    - epsilon: small number that keeps the division finite.
    - a: moving average of the squared gradients.
    """
    if config is None:
        config = {}
    config.setdefault('learning_rate', 1e-2)
    config.setdefault('decay_rate', 0.99)
    config.setdefault('epsilon', 1e-8)
    config.setdefault('a', np.zeros_like(w))

    rho = config['decay_rate']
    a = config['a']
    a *= rho
    a += (1 - rho) * dw ** 2
    w -= config['learning_rate'] * dw / (np.sqrt(a) + config['epsilon'])
    next_w = w

    config['a'] = a
    return next_w, config


def adam(w, dw, config=None):
    """
    Adam: momentum on the gradient plus RMSProp-style scaling, both averages
    corrected for their start at zero.

    config keys:
    - learning_rate: step size.
    - beta1: decay of the first-moment (mean) average.
    - beta2: decay of the second-moment (uncentred variance) average.
    - epsilon: small number that keeps the division finite.
    - v: first moment; a: second moment; t: number of steps taken.
    """
    if config is None:
        config = {}
    config.setdefault('learning_rate', 1e-3)
    config.setdefault('beta1', 0.9)
    config.setdefault('beta2', 0.999)
    config.setdefault('epsilon', 1e-8)
    config.setdefault('v', np.zeros_like(w))
    config.setdefault('a', np.zeros_like(w))
    config.setdefault('t', 0)

    b1, b2 = config['beta1'], config['beta2']
    config['t'] += 1
    t = config['t']

    v, a = config['v'], config['a']
    v *= b1
    v += (1 - b1) * dw
    a *= b2
    a += (1 - b2) * dw * dw

    v_hat = v / (1 - b1 ** t)
    a_hat = a / (1 - b2 ** t)
    w -= config['learning_rate'] * v_hat / (np.sqrt(a_hat) + config['epsilon'])
    next_w = w

    config['v'] = v
    config['a'] = a
    return next_w, config
