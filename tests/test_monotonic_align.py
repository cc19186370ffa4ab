"""Monotonic alignment search: the plain programme (compiled, and run as Python), the fast
kernel of glow_tts.fast.mas, brute force over every monotonic path, and hand-worked examples.

``maximum_path`` is the compiled plain programme, ``maximum_path_reference`` the same
source run by the interpreter, ``fast_maximum_path`` the threaded one; all three must give
identical paths."""

import itertools

import numpy as np
import pytest
import torch

from glow_tts import monotonic_align
from glow_tts.fast.mas import maximum_path as fast_maximum_path
from glow_tts.monotonic_align import maximum_path, maximum_path_reference

ALL = [maximum_path, maximum_path_reference, fast_maximum_path]
ALL_IDS = ["plain", "reference", "fast"]


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
    for fn in ALL:
        assert torch.equal(fn(value, mask), expected), fn.__module__


def test_hand_case_ties_keep_the_later_token_as_long_as_possible():
    # All paths score 0. Walking back from the last cell we stay on a token unless the
    # diagonal predecessor is strictly better, so token 1 keeps frames 1-3.
    value = torch.zeros(1, 2, 4)
    expected = torch.tensor([[[1., 0., 0., 0.],
                              [0., 1., 1., 1.]]])
    mask = torch.ones_like(value)
    for fn in ALL:
        assert torch.equal(fn(value, mask), expected), fn.__module__


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
    for fn in ALL:
        assert torch.equal(fn(value, mask), expected), fn.__module__


def test_hand_case_square_is_the_diagonal_and_one_token_takes_everything():
    value = torch.randn(2, 3, 4)
    mask = make_mask([3, 1], [3, 4])
    expected = torch.tensor([[[1., 0., 0., 0.],
                              [0., 1., 0., 0.],
                              [0., 0., 1., 0.]],
                             [[1., 1., 1., 1.],
                              [0., 0., 0., 0.],
                              [0., 0., 0., 0.]]])
    for fn in ALL:
        assert torch.equal(fn(value, mask), expected), fn.__module__


def test_minus_inf_scores_are_avoided():
    # Frame 1 under token 0 is impossible (-inf), so token 1 must start at frame 1.
    value = torch.tensor([[[0., -float("inf"), 0.],
                           [0., 0., 0.]]])
    expected = torch.tensor([[[1., 0., 0.],
                              [0., 1., 1.]]])
    mask = torch.ones_like(value)
    for fn in ALL:
        assert torch.equal(fn(value, mask), expected), fn.__module__


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
    for fn in ALL:
        assert torch.equal(fn(value, mask), expected), fn.__module__


# --- the fast kernel and the compiled programme equal the reference, bit for bit -----------

@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fast_equals_reference_on_random_floats(dtype):
    rng = np.random.default_rng(0)
    for _ in range(12):
        value, mask = random_batch(rng, batch=5, t_x_max=9, t_y_max=30, dtype=dtype)
        expected = maximum_path_reference(value, mask)
        assert torch.equal(maximum_path(value, mask), expected)
        assert torch.equal(fast_maximum_path(value, mask), expected)
        for i in range(value.shape[0]):
            assert_is_monotonic_path(expected[i], int(mask[i, :, 0].sum()), int(mask[i, 0].sum()))


@pytest.mark.parametrize("integer_range", [1, 2])
def test_fast_equals_reference_on_tie_heavy_integer_scores(integer_range):
    rng = np.random.default_rng(integer_range)
    for _ in range(15):
        value, mask = random_batch(rng, batch=4, t_x_max=8, t_y_max=24,
                                   integer_range=integer_range)
        expected = maximum_path_reference(value, mask)
        assert torch.equal(maximum_path(value, mask), expected)
        assert torch.equal(fast_maximum_path(value, mask), expected)


def test_fast_equals_reference_on_a_large_batch_with_varied_lengths():
    # Sizes where both threads get several items of different lengths.
    rng = np.random.default_rng(7)
    for integer_range in (None, 1):
        value, mask = random_batch(rng, batch=6, t_x_max=40, t_y_max=90,
                                   integer_range=integer_range)
        expected = maximum_path_reference(value, mask)
        assert torch.equal(maximum_path(value, mask), expected)
        assert torch.equal(fast_maximum_path(value, mask), expected)


@pytest.mark.parametrize("seed", range(4))
def test_fast_equals_plain_on_random_shapes(seed):
    """Random batch sizes and lengths, both dtypes, floats and tie-heavy integers; the
    compiled plain programme is the reference here (the Python one is too slow at these sizes)."""
    rng = np.random.default_rng(100 + seed)
    for _ in range(6):
        batch = int(rng.integers(1, 9))
        t_x_max = int(rng.integers(1, 70))
        t_y_max = int(rng.integers(t_x_max, 4 * t_x_max + 40))
        dtype = [torch.float32, torch.float64][int(rng.integers(2))]
        integer_range = [None, 1, 3][int(rng.integers(3))]
        value, mask = random_batch(rng, batch, t_x_max, t_y_max, dtype=dtype,
                                   integer_range=integer_range)
        assert torch.equal(fast_maximum_path(value, mask), maximum_path(value, mask)), \
            (batch, t_x_max, t_y_max, dtype, integer_range)


@pytest.mark.parametrize("fill", [-float("inf"), float("nan")], ids=["-inf", "nan"])
@pytest.mark.parametrize("fn", ALL, ids=ALL_IDS)
def test_all_impossible_scores_still_give_a_valid_path(fn, fill):
    """When every score is -inf (or NaN) no comparison of predecessors is ever true, so only
    the rule "step up when x == y" keeps the back-tracking on a valid path: the last token
    keeps frames until the remaining tokens need one frame each (the diagonal)."""
    lengths = [(3, 7), (5, 5), (1, 4), (4, 9)]
    mask = make_mask([t for t, _ in lengths], [t for _, t in lengths])
    value = torch.full(mask.shape, fill)
    path = fn(value, mask)
    assert torch.equal(path, maximum_path_reference(value, mask))
    for i, (t_x, t_y) in enumerate(lengths):
        assert_is_monotonic_path(path[i], t_x, t_y)
        expected = torch.zeros(t_x, t_y)
        for x in range(t_x - 1):
            expected[x, x] = 1                 # earlier tokens: one frame each, on the diagonal
        expected[t_x - 1, t_x - 1:] = 1        # the last token: everything after
        assert torch.equal(path[i, :t_x, :t_y], expected), (i, fn.__module__)


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
        for fn in ALL:
            result = fn(value, torch.ones_like(value))[0]
            assert torch.equal(result, best_path), (t_x, t_y, fn.__module__)


def test_padding_content_is_ignored_and_stays_zero():
    rng = np.random.default_rng(5)
    value, mask = random_batch(rng, batch=4, t_x_max=10, t_y_max=25)
    dirty = value.masked_fill(mask == 0, float("nan"))
    for fn in ALL:
        clean = fn(value, mask)
        assert torch.equal(fn(dirty, mask), clean)
        assert torch.all(clean[mask == 0] == 0)


# --- contract: shapes, dtypes, devices, errors ---------------------------------------------

@pytest.mark.parametrize("fn", [maximum_path, fast_maximum_path], ids=["plain", "fast"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_shape_dtype_and_device_are_preserved(fn, dtype):
    value = torch.randn(3, 5, 12).to(dtype)
    mask = make_mask([5, 4, 2], [12, 9, 7], dtype=dtype)
    path = fn(value, mask)
    assert path.shape == value.shape and path.dtype == dtype and path.device == value.device
    assert set(path.unique().tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("fn", [maximum_path, fast_maximum_path], ids=["plain", "fast"])
def test_boolean_mask_gradients_and_input_untouched(fn):
    value = torch.randn(2, 4, 9, requires_grad=True)
    before = value.detach().clone()
    mask = make_mask([4, 3], [9, 6], dtype=torch.bool)
    path = fn(value, mask)
    assert not path.requires_grad
    assert torch.equal(value.detach(), before)
    assert torch.equal(path, maximum_path_reference(value, mask.float()))


def test_fast_kernel_same_result_with_one_or_two_threads():
    rng = np.random.default_rng(11)
    value, mask = random_batch(rng, batch=7, t_x_max=30, t_y_max=70)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        single = fast_maximum_path(value, mask)
        assert torch.get_num_threads() == 1    # numba's start-up must not reset torch's pool
        torch.set_num_threads(2)
        double = fast_maximum_path(value, mask)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(single, double)


@pytest.mark.parametrize("fn", ALL, ids=ALL_IDS)
def test_fewer_frames_than_tokens_is_an_error_naming_the_item(fn):
    value = torch.randn(3, 5, 8)
    mask = make_mask([3, 5, 2], [8, 3, 2], t_x_max=5, t_y_max=8)
    with pytest.raises(ValueError, match=r"batch item 1 .*t_x=5.*t_y=3"):
        fn(value, mask)


@pytest.mark.parametrize("fn", ALL, ids=ALL_IDS)
def test_one_frame_fewer_than_tokens_is_an_error_and_equal_counts_are_not(fn):
    """The boundary of the t_y >= t_x check: t_y = t_x - 1 fails, t_y = t_x is the diagonal."""
    value = torch.randn(2, 6, 6)
    with pytest.raises(ValueError, match=r"batch item 1 .*t_x=6.*t_y=5"):
        fn(value, make_mask([4, 6], [6, 5], t_x_max=6, t_y_max=6))
    path = fn(value, make_mask([6, 6], [6, 6]))
    assert torch.equal(path, torch.eye(6).expand(2, 6, 6))


def test_bad_shapes_are_errors():
    with pytest.raises(ValueError, match="mask shape"):
        maximum_path(torch.randn(1, 3, 4), torch.ones(1, 3, 5))
    with pytest.raises(ValueError, match=r"\[batch, t_x, t_y\]"):
        maximum_path(torch.randn(3, 4), torch.ones(3, 4))


@pytest.mark.parametrize("fn", ALL, ids=ALL_IDS)
def test_empty_item_gives_an_empty_path(fn):
    value = torch.randn(2, 3, 5)
    mask = make_mask([3, 0], [5, 0], t_x_max=3, t_y_max=5)
    path = fn(value, mask)
    assert path[1].sum() == 0 and path[0].sum() == 5


# --- the hook through which glow_tts.fast.enable swaps the kernel ---------------------------

def test_use_kernel_routes_maximum_path_and_restores_the_plain_programme():
    calls = []

    def kernel(value, mask):
        calls.append(value.shape)
        return fast_maximum_path(value, mask)

    value, mask = torch.randn(1, 3, 6), torch.ones(1, 3, 6)
    plain = maximum_path(value, mask)
    with monotonic_align.use_kernel(kernel):
        assert torch.equal(maximum_path(value, mask), plain)
        with monotonic_align.use_kernel(None):          # nested: the plain programme again
            maximum_path(value, mask)
        assert len(calls) == 1
    maximum_path(value, mask)
    assert calls == [(1, 3, 6)]                         # nothing routed after the block
    with pytest.raises(RuntimeError):
        with monotonic_align.use_kernel(kernel):
            raise RuntimeError("inside")
    maximum_path(value, mask)
    assert len(calls) == 1                              # an exception also closes the block
