//! A helper thread for the second core that stays awake between passes.
//!
//! A training step splits its batch across the cores twice (forward, backward), and each half
//! lasts from tens of microseconds to milliseconds. A pool that puts its threads to sleep
//! between jobs (rayon, or a thread per pass) pays a wake-up on every split, and on a virtual
//! machine that wake-up costs about as much as a small pass. Like OpenMP's runtime under PyTorch,
//! this helper keeps polling for 20 ms after its last job, yielding the core to any
//! other runnable thread, then sleeps until the next one.

use crate::engine::denormals;
use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut1, ArrayViewMut2, Axis};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// How long the helper polls for a next job before it sleeps.
const AWAKE_FOR: Duration = Duration::from_millis(20);

const IDLE: u8 = 0;
const POSTED: u8 = 1;
const DONE: u8 = 2;
const PANICKED: u8 = 3;

/// The helper's mailbox: one job at a time.
struct Helper {
    /// Held by the caller that owns the helper for one job; others run their part inline.
    busy: AtomicBool,
    state: AtomicU8,
    /// The posted job, lifetime erased: valid until the caller has seen `DONE` or `PANICKED`.
    job: Mutex<Option<JobRef>>,
    sleeping: AtomicBool,
    thread: Thread,
}

#[derive(Clone, Copy)]
struct JobRef(*const (dyn Fn() + Sync));
// SAFETY: the pointee is `Sync`, and the caller keeps it alive until the job has finished.
unsafe impl Send for JobRef {}

/// The threads a pass may use: the cores this process may run on, or fewer if
/// `LSTM_CORE_THREADS` says so (`1`: every pass on the calling thread). Two programs that share
/// two cores (two notebook kernels run at once) each want 1: a helper waiting for a core the
/// other program holds stalls its caller at every split. An unreadable value is ignored.
pub fn threads() -> usize {
    let cores = cores();
    let wanted = std::env::var("LSTM_CORE_THREADS").ok();
    wanted
        .and_then(|n| n.trim().parse::<usize>().ok())
        .filter(|&n| n >= 1)
        .map_or(cores, |n| n.min(cores))
}

/// The cores this process may run on.
fn cores() -> usize {
    thread::available_parallelism().map_or(1, |n| n.get())
}

fn helper() -> Option<&'static Helper> {
    static HELPER: OnceLock<Option<&'static Helper>> = OnceLock::new();
    *HELPER.get_or_init(|| {
        if threads() < 2 {
            return None;
        }
        let (sender, receiver) = std::sync::mpsc::channel::<&'static Helper>();
        let spawned = thread::Builder::new()
            .name("lstm-core-helper".into())
            .spawn(move || {
                let helper: &'static Helper = Box::leak(Box::new(Helper {
                    busy: AtomicBool::new(false),
                    state: AtomicU8::new(IDLE),
                    job: Mutex::new(None),
                    sleeping: AtomicBool::new(false),
                    thread: thread::current(),
                }));
                sender
                    .send(helper)
                    .expect("the caller waits for the helper");
                helper.serve();
            });
        spawned.ok().and_then(|_| receiver.recv().ok())
    })
}

impl Helper {
    fn serve(&self) {
        let mut idle_since = Instant::now();
        loop {
            if self.state.load(Ordering::Acquire) == POSTED {
                let job = self
                    .job
                    .lock()
                    .expect("job slot")
                    .take()
                    .expect("posted job");
                // SAFETY: the caller keeps the job alive until it sees DONE or PANICKED.
                let outcome = catch_unwind(AssertUnwindSafe(|| unsafe { (*job.0)() }));
                let end = if outcome.is_ok() { DONE } else { PANICKED };
                self.state.store(end, Ordering::Release);
                idle_since = Instant::now();
            } else if idle_since.elapsed() < AWAKE_FOR {
                thread::yield_now();
            } else {
                self.sleeping.store(true, Ordering::SeqCst);
                // A job posted just before `sleeping` was set is seen here, not missed.
                if self.state.load(Ordering::SeqCst) != POSTED {
                    thread::park();
                }
                self.sleeping.store(false, Ordering::SeqCst);
                idle_since = Instant::now();
            }
        }
    }
}

/// Runs `first` on the helper thread and `second` on this one, and returns when both are done;
/// the helper computes in this thread's floating-point mode (denormals flushed or not).
/// Without a helper (one core), or while another caller uses it, both run here, one after the
/// other: callers must not depend on which thread runs what.
pub fn join(first: impl FnOnce() + Send, second: impl FnOnce()) {
    let Some(helper) = helper().filter(|h| {
        h.busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }) else {
        first();
        second();
        return;
    };
    let first = Mutex::new(Some(first));
    let mode = denormals::mode();
    let run_first = || {
        let first = first.lock().expect("first part").take().expect("runs once");
        denormals::in_mode(mode, first);
    };
    let job: &(dyn Fn() + Sync) = &run_first;
    // SAFETY: only the lifetime is erased; we wait below until the helper is done with `job`.
    let job: *const (dyn Fn() + Sync + 'static) = unsafe { std::mem::transmute(job) };
    *helper.job.lock().expect("job slot") = Some(JobRef(job));
    helper.state.store(POSTED, Ordering::SeqCst);
    if helper.sleeping.load(Ordering::SeqCst) {
        helper.thread.unpark();
    }
    let ours = catch_unwind(AssertUnwindSafe(second));
    let end = loop {
        match helper.state.load(Ordering::Acquire) {
            POSTED => std::hint::spin_loop(),
            end => break end,
        }
    };
    helper.state.store(IDLE, Ordering::Release);
    helper.busy.store(false, Ordering::Release);
    if let Err(panic) = ours {
        resume_unwind(panic);
    }
    assert_ne!(end, PANICKED, "the helper thread's part panicked");
}

/// Products of at least this many multiply-adds split their columns between the two cores.
pub(crate) const SPLIT_PRODUCT_FROM: usize = 1 << 20;

/// `out = Σ_r a[r, ..]`: the rows added in order to zeros, as `a.sum_axis(Axis(0))` does (the
/// same bits), with the columns split between the two cores for large `a`: a bias gradient
/// over every step reads all of `d_in` (2 MB at 128 units, 8 MB at 512), which one core did while
/// the other waited.
pub fn sum_rows(a: ArrayView2<f32>, mut out: ArrayViewMut1<f32>) {
    assert_eq!(out.len(), a.ncols(), "one sum per column");
    let sum = |a: ArrayView2<f32>, mut out: ArrayViewMut1<f32>| {
        out.fill(0.0);
        for row in a.rows() {
            out.zip_mut_with(&row, |total, &value| *total += value);
        }
    };
    let n = a.ncols();
    if a.len() < SPLIT_SUM_FROM || n < 32 {
        return sum(a, out);
    }
    let (a_left, a_right) = a.split_at(Axis(1), n / 2);
    let (out_left, out_right) = out.view_mut().split_at(Axis(0), n / 2);
    join(|| sum(a_left, out_left), || sum(a_right, out_right));
}

/// Sums over at least this many values split their columns between the two cores.
const SPLIT_SUM_FROM: usize = 1 << 16;

/// Memory-bound passes (checks, copies) over at least this many values run in two halves, one
/// per core.
pub(crate) const SPLIT_PASS_FROM: usize = 1 << 16;

/// [`crate::check::all_finite`], a long slice in two halves on the two cores: the checks of a
/// training step's gradients and updated weights each read every parameter (4 MB at 512 units).
pub fn all_finite_in_halves(values: &[f32]) -> bool {
    if values.len() < SPLIT_PASS_FROM {
        return crate::check::all_finite(values);
    }
    let (first, second) = values.split_at(values.len() / 2);
    let mut first_finite = true;
    let mut second_finite = true;
    join(
        || first_finite = crate::check::all_finite(first),
        || second_finite = crate::check::all_finite(second),
    );
    first_finite && second_finite
}

/// `target.copy_from_slice(source)`, a long slice in two halves on the two cores.
pub fn copy_in_halves(target: &mut [f32], source: &[f32]) {
    if source.len() < SPLIT_PASS_FROM {
        target.copy_from_slice(source);
        return;
    }
    let at = source.len() / 2;
    let (target_first, target_second) = target.split_at_mut(at);
    let (source_first, source_second) = source.split_at(at);
    join(
        || target_first.copy_from_slice(source_first),
        || target_second.copy_from_slice(source_second),
    );
}

/// `c = a·b + beta·c` by ndarray's `general_mat_mul` (matrixmultiply, one thread per call), the
/// columns of large products split between this thread and the helper. matrixmultiply computes
/// each output the same way whatever the columns around it, so the split changes no bit.
pub fn mat_mul(a: &ArrayView2<f32>, b: &ArrayView2<f32>, beta: f32, c: &mut ArrayViewMut2<f32>) {
    let (m, k) = a.dim();
    let n = b.ncols();
    if m * k * n < SPLIT_PRODUCT_FROM || n < 32 {
        general_mat_mul(1.0, a, b, beta, c);
        return;
    }
    let at = n / 2;
    let (b_left, b_right) = b.view().split_at(Axis(1), at);
    let (mut c_left, mut c_right) = c.view_mut().split_at(Axis(1), at);
    join(
        || general_mat_mul(1.0, a, &b_left, beta, &mut c_left),
        || general_mat_mul(1.0, a, &b_right, beta, &mut c_right),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    /// `LSTM_CORE_THREADS` is read from the environment, so each value is tried in a child
    /// process of this test binary (setting it here would reach every other test).
    #[test]
    fn lstm_core_threads_caps_the_threads_and_ignores_nonsense() {
        let cores = cores();
        if let Ok(expected) = std::env::var("LSTM_CORE_THREADS_EXPECTED") {
            assert_eq!(threads().to_string(), expected);
            assert_eq!(helper().is_some(), threads() >= 2);
            return;
        }
        let name = "engine::helper::tests::lstm_core_threads_caps_the_threads_and_ignores_nonsense";
        for (value, expected) in [
            ("1", 1),
            (" 1 ", 1),
            ("64", cores),
            ("0", cores),
            ("two", cores),
        ] {
            let run = std::process::Command::new(std::env::current_exe().unwrap())
                .args([name, "--exact", "--quiet"])
                .env("LSTM_CORE_THREADS", value)
                .env("LSTM_CORE_THREADS_EXPECTED", expected.to_string())
                .output()
                .expect("the test binary runs again");
            let stdout = String::from_utf8_lossy(&run.stdout);
            // "1 passed": the child found this test (a renamed module would match none and pass).
            assert!(
                run.status.success() && stdout.contains("1 passed"),
                "LSTM_CORE_THREADS={value:?}: expected {expected} thread(s)\n{stdout}"
            );
        }
    }

    #[test]
    fn the_two_core_check_sees_a_bad_value_in_either_half() {
        let len = SPLIT_PASS_FROM + 3;
        let mut values = vec![1.5f32; len];
        assert!(all_finite_in_halves(&values));
        for at in [0, len / 2 - 1, len / 2, len - 1] {
            values[at] = f32::NAN;
            assert!(!all_finite_in_halves(&values), "NaN at {at} of {len}");
            assert!(!all_finite_in_halves(&values[..at + 1]), "short slice");
            values[at] = 1.5;
        }
    }

    #[test]
    fn copy_in_halves_copies_every_value() {
        for len in [
            0,
            5,
            SPLIT_PASS_FROM - 1,
            SPLIT_PASS_FROM,
            3 * SPLIT_PASS_FROM + 1,
        ] {
            let source: Vec<f32> = (0..len).map(|i| i as f32 * 0.5 - 7.0).collect();
            let mut target = vec![f32::NAN; len];
            copy_in_halves(&mut target, &source);
            assert_eq!(target, source, "{len} values");
        }
    }

    #[test]
    fn sum_rows_equals_sum_axis_bit_for_bit() {
        for (rows, cols) in [(1, 7), (960, 512), (960, 2048), (3, 40_000), (100, 33)] {
            let a = Array2::from_shape_fn((rows, cols), |(i, j)| {
                ((i * 7 + j * 3) % 19) as f32 * 0.137 - 1.1
            });
            let mut got = ndarray::Array1::from_elem(cols, f32::NAN);
            sum_rows(a.view(), got.view_mut());
            let want = a.sum_axis(Axis(0));
            assert!(
                got.iter()
                    .zip(&want)
                    .all(|(g, w)| g.to_bits() == w.to_bits()),
                "{rows}x{cols}"
            );
        }
    }

    #[test]
    fn a_split_product_equals_one_call_bit_for_bit() {
        for &(m, k, n, beta) in &[
            (50, 960, 200, 0.0),
            (960, 3, 512, 1.0),
            (512, 960, 2048, 0.0),
        ] {
            assert!(
                m * k * n >= SPLIT_PRODUCT_FROM && n >= 32,
                "the product is split"
            );
            let a =
                Array2::from_shape_fn((k, m), |(i, j)| ((i * 7 + j * 3) % 19) as f32 * 0.13 - 1.0);
            let b = Array2::from_shape_fn((k, n), |(i, j)| ((i * 5 + j) % 23) as f32 * 0.07 - 0.5);
            let start = Array2::from_shape_fn((m, n), |(i, j)| ((i + j) % 3) as f32);
            let mut want = start.clone();
            general_mat_mul(1.0, &a.t(), &b, beta, &mut want);
            let mut got = start.clone();
            mat_mul(&a.t(), &b.view(), beta, &mut got.view_mut());
            assert!(
                got.iter()
                    .zip(&want)
                    .all(|(g, w)| g.to_bits() == w.to_bits()),
                "{m}x{k}x{n}"
            );
        }
    }
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn both_parts_run_once_and_before_join_returns() {
        for round in 0..200 {
            let (a, b) = (AtomicUsize::new(0), AtomicUsize::new(0));
            join(
                || {
                    a.fetch_add(round + 1, Ordering::SeqCst);
                },
                || {
                    b.fetch_add(1, Ordering::SeqCst);
                },
            );
            assert_eq!((a.into_inner(), b.into_inner()), (round + 1, 1));
            if round % 50 == 0 {
                // Long enough for the helper to fall asleep: the next job must wake it.
                thread::sleep(AWAKE_FOR + Duration::from_millis(5));
            }
        }
    }

    #[test]
    fn concurrent_callers_and_nested_joins_complete() {
        let total = AtomicUsize::new(0);
        thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..100 {
                        join(
                            || {
                                join(
                                    || {
                                        total.fetch_add(1, Ordering::SeqCst);
                                    },
                                    || {
                                        total.fetch_add(1, Ordering::SeqCst);
                                    },
                                );
                            },
                            || {
                                total.fetch_add(1, Ordering::SeqCst);
                            },
                        );
                    }
                });
            }
        });
        assert_eq!(total.into_inner(), 4 * 100 * 3);
    }
}
