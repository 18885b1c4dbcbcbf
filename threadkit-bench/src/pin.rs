//! CPU pinning for the two-thread wake-up cases.
//!
//! A wake-up between two threads costs ~1.5 µs when both share one CPU (two context switches)
//! and ~30 µs per wake when the woken thread's vCPU is halted (a VM exit on the reference
//! machine); unpinned runs land in either mode at random. So those cases run twice, pinned both
//! ways, and compare like with like.

use std::sync::OnceLock;

/// Where the two threads of a wake-up case run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Placement {
    /// Both threads on the first allowed CPU.
    SameCpu,
    /// One thread on each of the first two allowed CPUs.
    SplitCpus,
}

impl Placement {
    pub(crate) const BOTH: [Placement; 2] = [Placement::SameCpu, Placement::SplitCpus];

    /// The suffix of the case name.
    pub(crate) fn suffix(self) -> &'static str {
        match self {
            Placement::SameCpu => "same_cpu",
            Placement::SplitCpus => "split_cpus",
        }
    }

    /// The CPUs for the calling thread and for the other thread, if this machine has them.
    pub(crate) fn cpus(self) -> Option<(usize, usize)> {
        let cpus = allowed_cpus();
        match self {
            Placement::SameCpu => cpus.first().map(|&c| (c, c)),
            Placement::SplitCpus => (cpus.len() >= 2).then(|| (cpus[0], cpus[1])),
        }
    }

    /// Why this placement cannot be used here, if it cannot.
    pub(crate) fn unavailable(self) -> Option<String> {
        match self.cpus() {
            Some(_) => None,
            None if cfg!(target_os = "linux") => Some(format!(
                "{} needs {} allowed CPU(s), this process has {}",
                self.suffix(),
                if self == Placement::SameCpu { 1 } else { 2 },
                allowed_cpus().len()
            )),
            None => Some("pinning is implemented for Linux only".into()),
        }
    }
}

/// The CPUs this process may run on, read once at the first call (before any pinning).
pub(crate) fn allowed_cpus() -> &'static [usize] {
    static CPUS: OnceLock<Vec<usize>> = OnceLock::new();
    CPUS.get_or_init(imp::allowed)
}

/// Restores the calling thread's previous CPU mask when dropped.
#[must_use = "the thread is unpinned when this is dropped"]
pub(crate) struct Pinned(#[allow(dead_code)] imp::Mask);

impl Drop for Pinned {
    fn drop(&mut self) {
        imp::restore(&self.0);
    }
}

/// Pins the calling thread to `cpu` until the returned guard is dropped.
///
/// # Panics
///
/// If the kernel refuses (the CPU is not allowed): a pinned figure that silently is not pinned
/// would be worse than none.
pub(crate) fn pin_current(cpu: usize) -> Pinned {
    Pinned(imp::pin(cpu))
}

#[cfg(target_os = "linux")]
mod imp {
    use std::io;
    use std::mem;

    pub(crate) type Mask = libc::cpu_set_t;

    fn get() -> Mask {
        // SAFETY: cpu_set_t is plain data for which all-zero is a valid (empty) set.
        let mut set: libc::cpu_set_t = unsafe { mem::zeroed() };
        // SAFETY: pid 0 is the calling thread; the pointer and size describe `set`.
        let rc = unsafe { libc::sched_getaffinity(0, mem::size_of::<libc::cpu_set_t>(), &mut set) };
        assert_eq!(rc, 0, "sched_getaffinity: {}", io::Error::last_os_error());
        set
    }

    fn set(mask: &Mask) -> io::Result<()> {
        // SAFETY: pid 0 is the calling thread; the pointer and size describe a valid cpu_set_t.
        let rc = unsafe { libc::sched_setaffinity(0, mem::size_of::<libc::cpu_set_t>(), mask) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    pub(crate) fn allowed() -> Vec<usize> {
        let mask = get();
        // SAFETY: CPU_ISSET only reads the set; every index is below CPU_SETSIZE.
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| unsafe { libc::CPU_ISSET(c, &mask) })
            .collect()
    }

    pub(crate) fn pin(cpu: usize) -> Mask {
        let previous = get();
        // SAFETY: as in `get`.
        let mut one: libc::cpu_set_t = unsafe { mem::zeroed() };
        // SAFETY: CPU_SET writes one bit of `one`; callers pass CPUs from `allowed()`.
        unsafe { libc::CPU_SET(cpu, &mut one) };
        set(&one).unwrap_or_else(|e| panic!("cannot pin to CPU {cpu}: {e}"));
        previous
    }

    pub(crate) fn restore(previous: &Mask) {
        // Failure leaves the thread pinned, which only matters to later cases: say so.
        if let Err(e) = set(previous) {
            eprintln!("warning: could not restore the CPU mask: {e}");
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    pub(crate) type Mask = ();

    pub(crate) fn allowed() -> Vec<usize> {
        Vec::new()
    }

    pub(crate) fn pin(_cpu: usize) -> Mask {
        unreachable!("pinned cases are skipped where pinning is not implemented")
    }

    pub(crate) fn restore(_previous: &Mask) {}
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn pin_and_restore() {
        let before = imp::allowed();
        assert!(!before.is_empty());
        let cpu = *before.last().unwrap();
        {
            let _p = pin_current(cpu);
            assert_eq!(imp::allowed(), [cpu]);
        }
        assert_eq!(imp::allowed(), before);
    }
}
