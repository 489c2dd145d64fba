import numpy as np

"""
Gradient-based update rules.

    next_w, config = update(w, dw, config)

config carries the hyperparameters (defaults set with setdefault) and the
running state. The weights are never changed in place here.
"""


def sgd(w, dw, config=None):
    """
    Vanilla SGD.

    config:
      learning_rate -- scalar step size
    """
    if config is None:
        config = {}
    config.setdefault('learning_rate', 1e-2)
    next_w = w + np.multiply(-config['learning_rate'], dw)
    return next_w, config


def sgd_momentum(w, dw, config=None):
    """
    SGD + momentum.

    config:
      learning_rate -- step size
      momentum      -- fraction of the velocity carried over, in [0, 1)
      velocity      -- array like w (zeros if absent)
    """
    if config is None:
        config = {}
    config.setdefault('learning_rate', 1e-2)
    config.setdefault('momentum', 0.9)
    lr = config['learning_rate']
    mu = config['momentum']
    v = config.get('velocity', np.zeros_like(w))

    v = np.multiply(mu, v) - np.multiply(lr, dw)
    next_w = np.add(w, v)
    config['velocity'] = v
    return next_w, config


def sgd_nesterov_momentum(w, dw, config=None):
    """
    SGD + Nesterov momentum.

    config:
      learning_rate, momentum, velocity (as for sgd_momentum)
    """
    if config is None:
        config = {}
    config.setdefault('learning_rate', 1e-2)
    config.setdefault('momentum', 0.9)
    lr = config['learning_rate']
    mu = config['momentum']
    v_prev = config.get('velocity', np.zeros_like(w))

    v = mu * v_prev - lr * dw
    # undo the previous look-ahead and apply the new one
    next_w = w - mu * v_prev + (1.0 + mu) * v
    config['velocity'] = v
    return next_w, config


def rmsprop(w, dw, config=None):
    """
    RMSProp.

    config:
      learning_rate -- step size
      decay_rate    -- decay of the squared-gradient cache
      epsilon       -- smoothing term
      a             -- the squared-gradient cache
    """
    if config is None:
        config = {}
    config.setdefault('learning_rate', 1e-2)
    config.setdefault('decay_rate', 0.99)
    config.setdefault('epsilon', 1e-8)
    config.setdefault('a', np.zeros_like(w))
    lr = config['learning_rate']
    decay = config['decay_rate']
    eps = config['epsilon']

    a = decay * config['a'] + (1.0 - decay) * np.power(dw, 2)
    next_w = w - lr * np.divide(dw, np.sqrt(a) + eps)
    config['a'] = a
    return next_w, config


def adam(w, dw, config=None):
    """
    Adam.

    config:
      learning_rate, beta1, beta2, epsilon
      v -- moving average of the gradient (first moment)
      a -- moving average of the squared gradient (second moment)
      t -- iteration number, incremented before use
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
    lr = config['learning_rate']
    beta1 = config['beta1']
    beta2 = config['beta2']
    eps = config['epsilon']

    t = config['t'] + 1
    first = beta1 * config['v'] + (1.0 - beta1) * dw
    second = beta2 * config['a'] + (1.0 - beta2) * np.power(dw, 2)
    first_unbiased = first / (1.0 - np.power(beta1, t))
    second_unbiased = second / (1.0 - np.power(beta2, t))
    next_w = w - lr * first_unbiased / (np.sqrt(second_unbiased) + eps)

    config['t'] = t
    config['v'] = first
    config['a'] = second
    return next_w, config
