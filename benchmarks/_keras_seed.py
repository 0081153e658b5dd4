"""The article's Keras code exactly as written, timed; run by benchmarks/seed.py in its own process.

usage: python benchmarks/_keras_seed.py DATA.npz  -> prints one JSON line {"seconds", "test_bce", "test_mse"}
"""

import json
import sys
import time

import numpy as np

data = np.load(sys.argv[1])
x_train = data["x_train"].astype("float32") / 255.0
x_test = data["x_test"].astype("float32") / 255.0
x_train = x_train.reshape((len(x_train), 784))
x_test = x_test.reshape((len(x_test), 784))

import keras  # noqa: E402
from keras.layers import Dense, Input  # noqa: E402
from keras.models import Model  # noqa: E402

# --- the article, verbatim ---
input_size = 784
hidden_size = 128
code_size = 32

input_img = Input(shape=(input_size,))
hidden_1 = Dense(hidden_size, activation='relu')(input_img)
code = Dense(code_size, activation='relu')(hidden_1)
hidden_2 = Dense(hidden_size, activation='relu')(code)
output_img = Dense(input_size, activation='sigmoid')(hidden_2)

autoencoder = Model(input_img, output_img)
autoencoder.compile(optimizer='adam', loss='binary_crossentropy')
t0 = time.perf_counter()
autoencoder.fit(x_train, x_train, epochs=3)
seconds = time.perf_counter() - t0
# --- end of the article's code ---

x_hat = autoencoder.predict(x_test, batch_size=1024, verbose=0).astype(np.float64)
p = np.clip(x_hat, 1e-7, 1 - 1e-7)  # the same formulas as aekit.metrics.reconstruction.bce / mse
x = x_test.astype(np.float64)
print(json.dumps({"seconds": seconds, "test_bce": float(-(x * np.log(p) + (1 - x) * np.log(1 - p)).mean()),
                  "test_mse": float(((x - x_hat) ** 2).mean()), "keras": keras.__version__,
                  "tensorflow": __import__("tensorflow").__version__}))
