"""Every layer test starts from the same random seed."""
import pytest

import tf_keras as keras


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(7)
