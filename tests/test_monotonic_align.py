"""Monotonic alignment search: the fast numba path against the plain reference DP,
against brute force over every monotonic path, and against hand-worked examples."""

import itertools

import numpy as np
import pytest
import torch

from glow_tts.monotonic_align import maximum_path, maximum_path_reference


def make_mask(t_x_lengths, t_y_lengths, t_x_max=None, t_y_max=None, dtype=torch.float32):
    t_x_lengths, t_y_lengths = torch.tensor(t_x_lengths), torch.tensor(t_y_lengths)
    t_x_max = t_x_max or int(t_x_lengths.max())
    t_y_max = t_y_max or int(t_y_lengths.max())
    x_mask = torch.arange(t_x_max)[None, :] < t_x_lengths[:, None]
    y_mask = torch.arange(t_y_max)[None, :] < t_y_lengths[:, None]
    return (x_mask[:, :, None] & y_mask[:, None, :]).to(dtype)   # [b, t_x, t_y]


def random_batch(rng, batch, t_x_max, t_y_max, dtype=torch.float32, integer_range=None):
    t_x = rng.integers(1, t_x_max + 1, batch)
    t_y = np.array([rng.integers(tx, t_y_max + 1) for tx in t_x])
    t_x[0], t_y[0] = t_x_max, t_y_max
    mask = make_mask(t_x.tolist(), t_y.tolist(), dtype=dtype)
    if integer_range is None:
        value = torch.from_numpy(rng.standard_normal((batch, t_x_max, t_y_max))).to(dtype)
    else:  # small integers: many equal path scores, so the tie rule decides
        value = torch.from_numpy(rng.integers(-integer_range, integer_range + 1,
                                              (batch, t_x_max, t_y_max))).to(dtype)
    return value, mask


def assert_is_monotonic_path(path, t_x, t_y):
    """Every frame has exactly one token; tokens start at 0, end at t_x-1, never skip."""
    p = path[:t_x, :t_y]
    assert torch.all(p.sum(0) == 1), "each frame must belong to exactly one token"
    tokens = p.argmax(0)
    assert tokens[0] == 0 and tokens[-1] == t_x - 1
    steps = tokens[1:] - tokens[:-1]
    assert torch.all((steps == 0) | (steps == 1))
    assert path.sum() == t_y, "nothing outside the valid lengths"


# --- hand-worked examples ---------------------------------------------------------------

def test_hand_case_best_split():
    # Token 0 takes frame 0 (score 1), token 1 frames 1-2 (5 + 1): total 7 beats 1 + 1 + 1.
    value = torch.tensor([[[1., 1., 0.],
                           [0., 5., 1.]]])
    expected = torch.tensor([[[1., 0., 0.],
                              [0., 1., 1.]]])
    mask = torch.ones_like(value)
    assert torch.equal(maximum_path(value, mask), expected)
    assert torch.equal(maximum_path_reference(value, mask), expected)


def test_hand_case_ties_keep_the_later_token_as_long_as_possible():
    # All paths score 0. Walking back from the last cell we stay on a token unless the
    # diagonal predecessor is strictly better, so token 1 keeps frames 1-3.
    value = torch.zeros(1, 2, 4)
    expected = torch.tensor([[[1., 0., 0., 0.],
                              [0., 1., 1., 1.]]])
    mask = torch.ones_like(value)
    assert torch.equal(maximum_path(value, mask), expected)
    assert torch.equal(maximum_path_reference(value, mask), expected)


def test_hand_case_three_tokens_with_a_tie_broken_by_one_point():
    # Splits (frames per token) for 3 tokens over 5 frames; scores:
    #   token 0 row [2,2,0,0,0], token 1 row [0,0,3,0,0], token 2 row [0,0,0,1,1]
    # best: token 0 frames 0-1 (4), token 1 frame 2 (3), token 2 frames 3-4 (2) = 9.
    value = torch.tensor([[[2., 2., 0., 0., 0.],
                           [0., 0., 3., 0., 0.],
                           [0., 0., 0., 1., 1.]]])
    expected = torch.tensor([[[1., 1., 0., 0., 0.],
                              [0., 0., 1., 0., 0.],
                              [0., 0., 0., 1., 1.]]])
    mask = torch.ones_like(value)
    assert torch.equal(maximum_path(value, mask), expected)
    assert torch.equal(maximum_path_reference(value, mask), expected)


def test_hand_case_square_is_the_diagonal_and_one_token_takes_everything():
    value = torch.randn(2, 3, 4)
    mask = make_mask([3, 1], [3, 4])
    expected = torch.tensor([[[1., 0., 0., 0.],
                              [0., 1., 0., 0.],
                              [0., 0., 1., 0.]],
                             [[1., 1., 1., 1.],
                              [0., 0., 0., 0.],
                              [0., 0., 0., 0.]]])
    assert torch.equal(maximum_path(value, mask), expected)
    assert torch.equal(maximum_path_reference(value, mask), expected)


def test_minus_inf_scores_are_avoided():
    # Frame 1 under token 0 is impossible (-inf), so token 1 must start at frame 1.
    value = torch.tensor([[[0., -float("inf"), 0.],
                           [0., 0., 0.]]])
    expected = torch.tensor([[[1., 0., 0.],
                              [0., 1., 1.]]])
    mask = torch.ones_like(value)
    assert torch.equal(maximum_path(value, mask), expected)
    assert torch.equal(maximum_path_reference(value, mask), expected)


def test_scores_below_minus_1e9_do_not_bend_the_path():
    # With -1e9 as the "impossible" score (the original's choice), Q[0, y] for y >= 1 would
    # be clamped to -1e9 + value and forget the -100 penalties of token 0, so the path
    # would keep token 0 for frames 0-3 (apparent gain +150). Really that split scores
    # -2e9 - 50 against -2e9 for giving token 1 everything after frame 0. (float64 keeps
    # these sums exact.)
    value = torch.tensor([[[-2e9, -100., -100., 150., 0.],
                           [0., 0., 0., 0., 0.]]], dtype=torch.float64)
    expected = torch.tensor([[[1., 0., 0., 0., 0.],
                              [0., 1., 1., 1., 1.]]], dtype=torch.float64)
    mask = torch.ones_like(value)
    assert torch.equal(maximum_path(value, mask), expected)
    assert torch.equal(maximum_path_reference(value, mask), expected)


# --- the fast path equals the reference, bit for bit --------------------------------------

@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fast_equals_reference_on_random_floats(dtype):
    rng = np.random.default_rng(0)
    for _ in range(12):
        value, mask = random_batch(rng, batch=5, t_x_max=9, t_y_max=30, dtype=dtype)
        fast = maximum_path(value, mask)
        assert torch.equal(fast, maximum_path_reference(value, mask))
        for i in range(value.shape[0]):
            assert_is_monotonic_path(fast[i], int(mask[i, :, 0].sum()), int(mask[i, 0].sum()))


@pytest.mark.parametrize("integer_range", [1, 2])
def test_fast_equals_reference_on_tie_heavy_integer_scores(integer_range):
    rng = np.random.default_rng(integer_range)
    for _ in range(15):
        value, mask = random_batch(rng, batch=4, t_x_max=8, t_y_max=24,
                                   integer_range=integer_range)
        assert torch.equal(maximum_path(value, mask), maximum_path_reference(value, mask))


def test_fast_equals_reference_on_a_large_batch_with_varied_lengths():
    # Sizes where the kernel works on several 16-frame tiles and both threads get items.
    rng = np.random.default_rng(7)
    value, mask = random_batch(rng, batch=6, t_x_max=40, t_y_max=90)
    assert torch.equal(maximum_path(value, mask), maximum_path_reference(value, mask))
    value, mask = random_batch(rng, batch=6, t_x_max=40, t_y_max=90, integer_range=1)
    assert torch.equal(maximum_path(value, mask), maximum_path_reference(value, mask))


def test_path_is_the_best_of_all_monotonic_paths():
    # Independent of both DPs: enumerate every split of t_y frames among t_x tokens.
    rng = np.random.default_rng(3)
    for t_x, t_y in [(1, 4), (2, 5), (3, 6), (4, 8), (3, 3)]:
        value = torch.from_numpy(rng.standard_normal((1, t_x, t_y)))   # float64: unique best
        best_score, best_path = -np.inf, None
        for cuts in itertools.combinations(range(1, t_y), t_x - 1):
            starts = (0,) + cuts + (t_y,)
            path = torch.zeros(t_x, t_y, dtype=torch.float64)
            for x in range(t_x):
                path[x, starts[x]:starts[x + 1]] = 1
            score = float((path * value[0]).sum())
            if score > best_score:
                best_score, best_path = score, path
        result = maximum_path(value, torch.ones_like(value))[0]
        assert torch.equal(result, best_path), (t_x, t_y)


def test_padding_content_is_ignored_and_stays_zero():
    rng = np.random.default_rng(5)
    value, mask = random_batch(rng, batch=4, t_x_max=10, t_y_max=25)
    clean = maximum_path(value, mask)
    dirty = value.masked_fill(mask == 0, float("nan"))
    assert torch.equal(maximum_path(dirty, mask), clean)
    assert torch.all(clean[mask == 0] == 0)


# --- contract: shapes, dtypes, devices, errors ---------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_shape_dtype_and_device_are_preserved(dtype):
    value = torch.randn(3, 5, 12).to(dtype)
    mask = make_mask([5, 4, 2], [12, 9, 7], dtype=dtype)
    path = maximum_path(value, mask)
    assert path.shape == value.shape and path.dtype == dtype and path.device == value.device
    assert set(path.unique().tolist()) <= {0.0, 1.0}


def test_boolean_mask_gradients_and_input_untouched():
    value = torch.randn(2, 4, 9, requires_grad=True)
    before = value.detach().clone()
    mask = make_mask([4, 3], [9, 6], dtype=torch.bool)
    path = maximum_path(value, mask)
    assert not path.requires_grad
    assert torch.equal(value.detach(), before)
    assert torch.equal(path, maximum_path_reference(value, mask.float()))


def test_same_result_with_one_or_two_threads():
    rng = np.random.default_rng(11)
    value, mask = random_batch(rng, batch=7, t_x_max=30, t_y_max=70)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        single = maximum_path(value, mask)
        torch.set_num_threads(2)
        double = maximum_path(value, mask)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(single, double)


@pytest.mark.parametrize("fn", [maximum_path, maximum_path_reference])
def test_fewer_frames_than_tokens_is_an_error_naming_the_item(fn):
    value = torch.randn(3, 5, 8)
    mask = make_mask([3, 5, 2], [8, 3, 2], t_x_max=5, t_y_max=8)
    with pytest.raises(ValueError, match=r"batch item 1 .*t_x=5.*t_y=3"):
        fn(value, mask)


def test_bad_shapes_are_errors():
    with pytest.raises(ValueError, match="mask shape"):
        maximum_path(torch.randn(1, 3, 4), torch.ones(1, 3, 5))
    with pytest.raises(ValueError, match=r"\[batch, t_x, t_y\]"):
        maximum_path(torch.randn(3, 4), torch.ones(3, 4))


def test_empty_item_gives_an_empty_path():
    value = torch.randn(2, 3, 5)
    mask = make_mask([3, 0], [5, 0], t_x_max=3, t_y_max=5)
    path = maximum_path(value, mask)
    assert path[1].sum() == 0 and path[0].sum() == 5
