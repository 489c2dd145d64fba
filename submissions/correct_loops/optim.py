import numpy as np

"""
This file implements the update rules used to train neural networks.

Each rule has the interface
    def update(w, dw, config=None):
and returns (next_w, config): the updated weights and the config to pass to
the next iteration (hyperparameters and any moving averages).
"""


def sgd(w, dw, config=None):
    """
    Performs vanilla stochastic gradient descent.

    config format:
    - learning_rate: Scalar learning rate.
    """
    if config is None:
        config = {}
    config.setdefault('learning_rate', 1e-2)

    step = config['learning_rate'] * dw
    next_w = w - step
    return next_w, config


def sgd_momentum(w, dw, config=None):
    """
    Performs stochastic gradient descent with momentum.

    config format:
    - learning_rate: Scalar learning rate.
    - momentum: Scalar between 0 and 1 giving the momentum value.
    - velocity: A numpy array of the same shape as w and dw used to store a
      moving average of the gradients.
    """
    if config is None:
        config = {}
    config.setdefault('learning_rate', 1e-2)
    config.setdefault('momentum', 0.9)
    velocity = config.get('velocity')
    if velocity is None:
        velocity = np.zeros_like(w)

    new_velocity = config['momentum'] * velocity - config['learning_rate'] * dw
    next_w = w + new_velocity

    config['velocity'] = new_velocity
    return next_w, config


def sgd_nesterov_momentum(w, dw, config=None):
    """
    Performs stochastic gradient descent with Nesterov momentum.

    config format: as for sgd_momentum.
    """
    if config is None:
        config = {}
    config.setdefault('learning_rate', 1e-2)
    config.setdefault('momentum', 0.9)
    old_velocity = config.get('velocity')
    if old_velocity is None:
        old_velocity = np.zeros_like(w)
    mu = config['momentum']

    new_velocity = mu * old_velocity - config['learning_rate'] * dw
    next_w = w - mu * old_velocity + (1 + mu) * new_velocity

    config['velocity'] = new_velocity
    return next_w, config


def rmsprop(w, dw, config=None):
    """
    Uses the RMSProp update rule: a moving average of squared gradient values
    sets an adaptive per-parameter learning rate.

    config format:
    - learning_rate: Scalar learning rate.
    - decay_rate: Scalar between 0 and 1 giving the decay rate for the squared
      gradient cache.
    - epsilon: Small scalar used for smoothing to avoid dividing by zero.
    - a: Moving average of second moments of gradients.
    """
    if config is None:
        config = {}
    config.setdefault('learning_rate', 1e-2)
    config.setdefault('decay_rate', 0.99)
    config.setdefault('epsilon', 1e-8)
    config.setdefault('a', np.zeros_like(w))

    decay = config['decay_rate']
    new_a = decay * config['a'] + (1 - decay) * dw ** 2
    next_w = w - config['learning_rate'] * dw / (np.sqrt(new_a) + config['epsilon'])

    config['a'] = new_a
    return next_w, config


def adam(w, dw, config=None):
    """
    Uses the Adam update rule: moving averages of the gradient and of its
    square, each with a bias correction.

    config format:
    - learning_rate: Scalar learning rate.
    - beta1: Decay rate for the moving average of the first moment.
    - beta2: Decay rate for the moving average of the second moment.
    - epsilon: Small scalar used for smoothing to avoid dividing by zero.
    - v: Moving average of the gradient (first moment).
    - a: Moving average of the squared gradient (second moment).
    - t: Iteration number.
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

    config['t'] = config['t'] + 1
    beta1, beta2, t = config['beta1'], config['beta2'], config['t']
    config['v'] = beta1 * config['v'] + (1 - beta1) * dw
    config['a'] = beta2 * config['a'] + (1 - beta2) * (dw ** 2)

    v_corr = config['v'] / (1 - beta1 ** t)
    a_corr = config['a'] / (1 - beta2 ** t)
    next_w = w - config['learning_rate'] * v_corr / (np.sqrt(a_corr) + config['epsilon'])
    return next_w, config
