import numpy as np

"""
Update rules: next_w, config = rule(w, dw, config).

w: current weights; dw: gradient of the loss w.r.t. w; config: hyperparameters
and per-parameter state. I never modify the caller's arrays or dict here: each
rule builds a new config dict with the updated state and returns it.
"""


def _start(config, **defaults):
    """Copy of config with the defaults filled in."""
    new_config = dict(config) if config is not None else {}
    for key, value in defaults.items():
        new_config.setdefault(key, value)
    return new_config


def sgd(w, dw, config=None):
    """
    Vanilla SGD: w <- w - learning_rate * dw.

    config: learning_rate.
    """
    config = _start(config, learning_rate=1e-2)
    next_w = w - config['learning_rate'] * dw
    return next_w, config


def sgd_momentum(w, dw, config=None):
    """
    SGD with momentum.

    config: learning_rate, momentum (0 = plain SGD), velocity (same shape as w).
    """
    config = _start(config, learning_rate=1e-2, momentum=0.9)
    velocity = config.get('velocity', np.zeros_like(w))

    velocity = config['momentum'] * velocity - config['learning_rate'] * dw
    next_w = w + velocity

    config['velocity'] = velocity
    return next_w, config


def sgd_nesterov_momentum(w, dw, config=None):
    """
    SGD with Nesterov momentum, written as a step from the look-ahead point:
    the new velocity is applied once more on top of the plain gradient step.

    config: learning_rate, momentum, velocity.
    """
    config = _start(config, learning_rate=1e-2, momentum=0.9)
    mu, lr = config['momentum'], config['learning_rate']
    velocity = config.get('velocity', np.zeros_like(w))

    velocity = mu * velocity - lr * dw
    next_w = w + mu * velocity - lr * dw

    config['velocity'] = velocity
    return next_w, config


def rmsprop(w, dw, config=None):
    """
    RMSProp.

    config: learning_rate, decay_rate, epsilon, a (moving average of dw**2).
    """
    config = _start(config, learning_rate=1e-2, decay_rate=0.99, epsilon=1e-8,
                    a=np.zeros_like(w))
    rho = config['decay_rate']

    a = rho * config['a'] + (1 - rho) * np.square(dw)
    next_w = w - config['learning_rate'] * dw / (np.sqrt(a) + config['epsilon'])

    config['a'] = a
    return next_w, config


def adam(w, dw, config=None):
    """
    Adam with bias-corrected moments.

    config: learning_rate, beta1, beta2, epsilon, v (first moment),
    a (second moment), t (iteration counter).
    """
    config = _start(config, learning_rate=1e-3, beta1=0.9, beta2=0.999,
                    epsilon=1e-8, v=np.zeros_like(w), a=np.zeros_like(w), t=0)
    beta1, beta2 = config['beta1'], config['beta2']
    t = config['t'] + 1

    v = beta1 * config['v'] + (1 - beta1) * dw
    a = beta2 * config['a'] + (1 - beta2) * np.square(dw)
    v_corrected = v / (1 - beta1 ** t)
    a_corrected = a / (1 - beta2 ** t)
    next_w = w - config['learning_rate'] * v_corrected / (np.sqrt(a_corrected) + config['epsilon'])

    config.update(v=v, a=a, t=t)
    return next_w, config
