import math

import numpy as np
import pytest

from indexes.sparse.vectors import idf, validate_sparse


def test_validate_sorts_and_casts():
    indices, values = validate_sparse([7, 2, 2**32 - 1, 0], [1.5, -2, 3, 0], "v")
    assert indices.dtype == np.uint32 and values.dtype == np.float32
    assert indices.tolist() == [0, 2, 7, 2**32 - 1]
    assert values.tolist() == [0.0, -2.0, 1.5, 3.0]


def test_validate_empty_vector():
    indices, values = validate_sparse([], [], "v")
    assert indices.dtype == np.uint32 and indices.size == 0 and values.dtype == np.float32


@pytest.mark.parametrize(
    ("indices", "values", "message"),
    [
        ([1, 2], [1.0], "same length"),
        ([1, 1], [1.0, 2.0], "unique"),
        ([3, 1, 3], [1.0, 2.0, 3.0], "unique"),
        ([-1], [1.0], "between 0"),
        ([2**32], [1.0], "between 0"),
        ([1, 2], [1.0, float("nan")], "finite"),
        ([1], [float("inf")], "finite"),
        ([1], [1e300], "finite"),  # overflows float32
        ([[1, 2]], [[1.0, 2.0]], "flat"),
    ],
)
def test_validate_rejects_with_field_name(indices, values, message):
    with pytest.raises(ValueError, match=message) as error:
        validate_sparse(indices, values, "my-sparse")
    assert "my-sparse" in str(error.value)


@pytest.mark.parametrize(
    ("indices", "values"),
    [([1.5], [1.0]), ([True], [1.0]), ([1], ["x"]), ([1], [True])],
)
def test_validate_rejects_wrong_types(indices, values):
    with pytest.raises(TypeError, match="my-sparse"):
        validate_sparse(indices, values, "my-sparse")


def test_idf_matches_qdrant_formula():
    df = np.array([0, 1, 5, 10, 12])
    expected = [math.log((10 - d + 0.5) / (d + 0.5) + 1) for d in df]
    np.testing.assert_allclose(idf(df, 10), expected, rtol=1e-6)
    assert idf(df, 10).dtype == np.float32
    assert np.all(idf(df[:-1], 10) > 0) and idf(df, 10)[-1] < 0  # negative only when df > n
    assert np.all(np.diff(idf(df, 10)) < 0)  # rarer terms weigh more


@pytest.mark.parametrize(("df", "n_docs", "error"), [([-1], 5, ValueError), ([1], -1, ValueError), ([1], 2.5, TypeError)])
def test_idf_rejects_bad_input(df, n_docs, error):
    with pytest.raises(error):
        idf(df, n_docs)
