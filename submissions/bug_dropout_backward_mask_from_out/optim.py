import numpy as np

"""
Update rules for training: each is called as
    next_w, config = rule(w, dw, config=None)
and the config it hands back (hyperparameters and moving averages) goes into
the next call for the same parameter.
"""


def sgd(w, dw, config=None):
    """
    Plain stochastic gradient descent.

    config keys:
    - learning_rate: the step size.
    """
    if config is None:
        config = {}
    config.setdefault('learning_rate', 1e-2)

    step = config['learning_rate'] * dw
    next_w = w - step
    return next_w, config


def sgd_momentum(w, dw, config=None):
    """
    Gradient descent with a velocity term.

    config keys:
    - learning_rate: the step size.
    - momentum: between 0 and 1, how much velocity survives a step.
    - velocity: array shaped like w holding the decaying sum of past steps.
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
    Gradient descent with Nesterov (look-ahead) momentum.

    config keys: the same as sgd_momentum.
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
    RMSProp: each parameter gets its own step size, scaled down by a running
    average of its squared gradients.

    config keys:
    - learning_rate: the step size.
    - decay_rate: between 0 and 1, how slowly the average forgets.
    - epsilon: keeps the denominator away from zero.
    - a: the running average of squared gradients.
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
    Adam: running averages of the gradient and of its square, both corrected
    for starting at zero.

    config keys:
    - learning_rate: the step size.
    - beta1, beta2: decay of the first and second moment averages.
    - epsilon: keeps the denominator away from zero.
    - v: first moment (average gradient).
    - a: second moment (average squared gradient).
    - t: how many steps have been taken.
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
