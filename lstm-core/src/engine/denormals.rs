//! Denormal numbers flushed to zero while the engine computes, as TensorFlow does.
//!
//! TensorFlow runs its CPU kernels with the processor's flush-to-zero and denormals-are-zero
//! modes on (`tensorflow/core/platform/denormal.h`): a result below `f32::MIN_POSITIVE`
//! (1.2e-38) becomes 0, and so does such an input. Keras' numbers are computed that way, so
//! ours are too. It is also a matter of speed: a cell state that decays through a relu LSTM
//! leaves a few denormals in `h` and `c`, and every multiply-add that touches one takes a
//! microcode assist of ~100 cycles; on the weather fit that made training 1.5x slower.
//!
//! The mode is per thread and restored on the way out, so code around the engine keeps IEEE
//! denormals. The helper thread computes each job in the mode of the thread that hands it
//! over ([`crate::engine::helper::join`] uses [`mode`] and [`in_mode`]). (`no_denormals` sets
//! the mode but cannot hand a thread's mode to another one, hence the two register accesses
//! here.) On other architectures the mode is left alone and denormals are kept.

/// The floating-point control register: MXCSR on x86-64 (flush-to-zero is bit 15,
/// denormals-are-zero bit 6), FPCR on AArch64 (flush-to-zero, bit 24, covers both).
#[cfg(target_arch = "x86_64")]
mod register {
    /// MXCSR's 32 bits.
    pub type Mode = u32;
    pub const FLUSH: Mode = 1 << 15 | 1 << 6;

    pub fn get() -> Mode {
        let mut mode: Mode = 0;
        // SAFETY: stores the 32-bit MXCSR (SSE2 is part of x86-64) into `mode`.
        unsafe {
            std::arch::asm!("stmxcsr [{}]", in(reg) &mut mode, options(nostack, preserves_flags))
        };
        mode
    }

    pub fn set(mode: Mode) {
        // SAFETY: loads a value read from MXCSR with at most the FTZ and DAZ bits added. Not
        // `pure` or `nomem`: the compiler keeps loads and stores on their side of it.
        unsafe {
            std::arch::asm!("ldmxcsr [{}]", in(reg) &mode, options(nostack, preserves_flags))
        };
    }
}

#[cfg(target_arch = "aarch64")]
mod register {
    /// FPCR's 64 bits.
    pub type Mode = u64;
    pub const FLUSH: Mode = 1 << 24;

    pub fn get() -> Mode {
        let mode: Mode;
        // SAFETY: reads FPCR.
        unsafe {
            std::arch::asm!("mrs {}, fpcr", out(reg) mode, options(nostack, preserves_flags))
        };
        mode
    }

    pub fn set(mode: Mode) {
        // SAFETY: writes a value read from FPCR with at most the FZ bit added.
        unsafe { std::arch::asm!("msr fpcr, {}", in(reg) mode, options(nostack, preserves_flags)) };
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
mod register {
    /// No mode to keep.
    pub type Mode = u8;
    pub const FLUSH: Mode = 0;
    pub fn get() -> Mode {
        FLUSH
    }
    pub fn set(_: Mode) {}
}

pub use register::Mode;

/// This thread's floating-point mode.
pub fn mode() -> Mode {
    register::get()
}

/// Whether this thread flushes denormals to zero.
#[cfg(test)]
fn flushing() -> bool {
    register::get() & register::FLUSH == register::FLUSH
}

/// Runs `work` in `mode` on this thread, then restores the previous mode, also if `work`
/// panics.
///
/// Rust calls changing these bits undefined behaviour, because the compiler assumes IEEE
/// denormals when it folds constants and takes arithmetic for free of side effects: a value
/// computed inside but only kept in a register may be computed after the mode is restored.
/// The engine's results are stored to memory inside, and the register writes (`register::set`)
/// keep loads and stores on their side; the risk left (taken by TensorFlow too) is a folded
/// constant that keeps a denormal.
pub fn in_mode<T>(mode: Mode, work: impl FnOnce() -> T) -> T {
    let previous = register::get();
    if previous == mode {
        return work();
    }
    /// Puts the previous mode back however `work` ends.
    struct Restore(Mode);
    impl Drop for Restore {
        fn drop(&mut self) {
            register::set(self.0);
        }
    }
    let _restore = Restore(previous);
    register::set(mode);
    work()
}

/// Runs `work` with denormals flushed to zero on this thread (and on the helper thread for
/// the work it is handed), then restores the previous mode. Nested calls cost a register read.
pub fn flushed<T>(work: impl FnOnce() -> T) -> T {
    in_mode(register::get() | register::FLUSH, work)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::helper;
    use std::sync::Mutex;

    /// Half of the smallest normal f32: a denormal, unless the mode flushes it. The result
    /// goes through `black_box`: the compiler takes arithmetic for pure and would otherwise
    /// be free to multiply after the mode is restored.
    fn half_of_smallest() -> f32 {
        std::hint::black_box(std::hint::black_box(f32::MIN_POSITIVE) * 0.5)
    }

    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    #[test]
    fn denormals_are_flushed_inside_and_kept_outside() {
        assert!(half_of_smallest().is_subnormal());
        assert!(!flushing());
        let inside = flushed(|| {
            let nested = flushed(half_of_smallest);
            (half_of_smallest(), nested, flushing())
        });
        assert_eq!(inside, (0.0, 0.0, true));
        assert!(half_of_smallest().is_subnormal());
        assert!(!flushing());
    }

    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    #[test]
    fn the_mode_is_restored_after_a_panic() {
        let caught = std::panic::catch_unwind(|| flushed(|| panic!("inside")));
        assert!(caught.is_err());
        assert!(!flushing());
        assert!(half_of_smallest().is_subnormal());
    }

    /// The helper thread is started by the first `join`, inside or outside `flushed`, and a
    /// new thread starts in its parent's mode: each job must set the caller's.
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    #[test]
    fn the_helper_thread_computes_in_the_callers_mode() {
        let on_both = || {
            let first = Mutex::new(None);
            let mut second = None;
            helper::join(
                || *first.lock().unwrap() = Some(half_of_smallest()),
                || second = Some(half_of_smallest()),
            );
            let first = first.into_inner().unwrap().unwrap();
            [first, second.unwrap()]
        };
        for _ in 0..2 {
            assert_eq!(flushed(on_both), [0.0, 0.0]);
            assert!(on_both().iter().all(|v| v.is_subnormal()));
        }
    }
}
