"""The embedded target domain: scikit-learn's bundled handwritten digits (UCI optdigits).

1,797 real 8x8 images with 17 grey levels (0..16), read from the copy that ships
inside scikit-learn, so no download is ever needed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from traindev.data.store import content_ids

DIGIT_CLASSES = [str(digit) for digit in range(10)]
DIGITS_PIXEL_MAX = 16


def load_sklearn_digits(domain: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Manifest rows and uint8 NHWC pixels of the bundled digits, tagged with their domain."""
    # Imported here: scikit-learn costs a second that the class list (synthesize) need not pay.
    from sklearn.datasets import load_digits

    bunch = load_digits()
    pixels = bunch.images.astype(np.uint8)[..., np.newaxis]  # (1797, 8, 8, 1), values 0..16
    manifest = pd.DataFrame(
        {
            "id": content_ids(pixels),
            "source": "digits",
            "domain": domain,
            "label": [str(int(target)) for target in bunch.target],
            "origin": "real",
            "tags": [["writer_set=optdigits"] for _ in range(len(pixels))],
        }
    )
    return manifest, pixels
