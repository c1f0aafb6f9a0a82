"""scikit-learn's own estimator checks, run in full on both estimators.

No check is xfailed or skipped: each estimator passes every check that
scikit-learn selects for its tags (a regressor with multi-output support; a
classifier with multi-label support).
"""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from prmlnet import MLPClassifier, MLPRegressor

# small, fast settings; the checks that demand accuracy still pass with them
ESTIMATORS = [
    MLPRegressor(hidden_layer_sizes=(8,), max_iter=100, random_state=0),
    MLPClassifier(hidden_layer_sizes=(8,), max_iter=100, random_state=0),
    # an online method: partial_fit exists, so the partial_fit checks run too
    MLPRegressor(hidden_layer_sizes=(8,), method="adam", learning_rate=0.01, max_iter=100,
                 random_state=0),
    MLPClassifier(hidden_layer_sizes=(8,), method="adam", learning_rate=0.01, max_iter=100,
                  random_state=0),
    # the invariance parameters that apply to any inputs: Tikhonov and input noise,
    # a fixed augmented set (batch method) and fresh noise per mini-batch (online)
    MLPClassifier(hidden_layer_sizes=(8,), max_iter=100, tikhonov=0.01, augment="noise",
                  n_augment=1, random_state=0),
    MLPRegressor(hidden_layer_sizes=(8,), method="adam", learning_rate=0.01, max_iter=100,
                 tikhonov=0.01, augment="noise", random_state=0),
    # soft weight sharing: the weights and the mixture's parameters trained together
    MLPRegressor(hidden_layer_sizes=(8,), weight_prior="mixture", n_prior_components=2,
                 max_iter=100, random_state=0),
    MLPClassifier(hidden_layer_sizes=(8,), weight_prior="mixture", n_prior_components=2,
                  method="adam", learning_rate=0.01, max_iter=100, random_state=0),
]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
