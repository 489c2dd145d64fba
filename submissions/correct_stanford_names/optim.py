import numpy as np

"""
Update rules: next_w, config = rule(w, dw, config).

I learned these from the CS231n notes, so inside the functions the Adam
moments are called m (first) and v (second) and the RMSProp accumulator is
called cache. This course stores them under different keys, so each rule
reads and writes the course's keys explicitly:

    rmsprop: cache  <->  config['a']
    adam:    m      <->  config['v']   (first moment)
             v      <->  config['a']   (second moment)
"""


def sgd(w, dw, config=None):
    """
    Vanilla SGD. config: learning_rate (1e-2).
    """
    if config is None:
        config = {}
    config.setdefault('learning_rate', 1e-2)
    w = w - config['learning_rate'] * dw
    return w, config


def sgd_momentum(w, dw, config=None):
    """
    Momentum SGD. config: learning_rate (1e-2), momentum (0.9), velocity.
    """
    if config is None:
        config = {}
    config.setdefault('learning_rate', 1e-2)
    config.setdefault('momentum', 0.9)
    vel = config.get('velocity', np.zeros_like(w))

    vel = config['momentum'] * vel - config['learning_rate'] * dw
    next_w = w + vel

    config['velocity'] = vel
    return next_w, config


def sgd_nesterov_momentum(w, dw, config=None):
    """
    Nesterov momentum SGD. config: learning_rate (1e-2), momentum (0.9),
    velocity.
    """
    if config is None:
        config = {}
    config.setdefault('learning_rate', 1e-2)
    config.setdefault('momentum', 0.9)
    mu = config['momentum']
    vel_prev = config.get('velocity', np.zeros_like(w))

    vel = mu * vel_prev - config['learning_rate'] * dw
    next_w = w + (-mu * vel_prev) + (1 + mu) * vel

    config['velocity'] = vel
    return next_w, config


def rmsprop(w, dw, config=None):
    """
    RMSProp. config: learning_rate (1e-2), decay_rate (0.99), epsilon (1e-8),
    a (the squared-gradient cache).
    """
    if config is None:
        config = {}
    config.setdefault('learning_rate', 1e-2)
    config.setdefault('decay_rate', 0.99)
    config.setdefault('epsilon', 1e-8)
    config.setdefault('a', np.zeros_like(w))

    decay_rate = config['decay_rate']
    cache = config['a']
    cache = decay_rate * cache + (1 - decay_rate) * dw ** 2
    next_w = w - config['learning_rate'] * dw / (np.sqrt(cache) + config['epsilon'])

    config['a'] = cache
    return next_w, config


def adam(w, dw, config=None):
    """
    Adam. config: learning_rate (1e-3), beta1 (0.9), beta2 (0.999),
    epsilon (1e-8), v (first moment), a (second moment), t (0).
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

    beta1, beta2 = config['beta1'], config['beta2']
    m = config['v']
    v = config['a']
    t = config['t'] + 1

    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * (dw ** 2)
    mt = m / (1 - beta1 ** t)
    vt = v / (1 - beta2 ** t)
    next_w = w - config['learning_rate'] * mt / (np.sqrt(vt) + config['epsilon'])

    config['v'] = m
    config['a'] = v
    config['t'] = t
    return next_w, config
