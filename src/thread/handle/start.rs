//! Starting a thread: `Thread::start`, and the body of every thread threadkit starts.

use std::sync::Arc;

use super::{set_os_name, Kind, Start, StartError, Thread, INITIAL, STARTED, STARTING, STOPPED};
use crate::loom::sync::atomic::Ordering;
use crate::thread::{excepthook, ident, registry, shutdown};

impl Thread {
    /// Starts the thread, returning once it is running, as CPython's `start()`: its
    /// [`ident`](Self::ident) and [`native_id`](Self::native_id) are known and it is listed by
    /// [`enumerate`](crate::enumerate).
    ///
    /// # Errors
    ///
    /// - [`StartError::AlreadyStarted`] if `start` was called before (also for the main thread and
    ///   threads threadkit did not start), as Python's `RuntimeError: threads can only be started
    ///   once`;
    /// - [`StartError::Os`] if the OS refused to create a thread (Python: `can't start new
    ///   thread`); the thread is then stopped and cannot be started again.
    ///
    /// # Examples
    ///
    /// ```
    /// use threadkit::{StartError, Thread};
    ///
    /// let t = Thread::new(|| {});
    /// t.start().unwrap();
    /// assert!(matches!(t.start(), Err(StartError::AlreadyStarted)));
    /// t.join().unwrap();
    /// ```
    pub fn start(&self) -> Result<(), StartError> {
        self.claim_start()?;
        let inner = &self.inner;
        let body = inner
            .body
            .acquire()
            .take()
            .expect("an unstarted thread has its body");
        let body = match body {
            Start::Os(body) => body,
            Start::Timer(schedule) => {
                // A Timer is alive from `start()` on (pending, then running its function on a
                // timer worker). Mark it started *before* scheduling: a zero-interval timer may
                // fire, finish and be marked stopped before `schedule` returns.
                inner.state.store(STARTED, Ordering::Release);
                inner.started.set();
                return schedule(self).map_err(|err| {
                    self.mark_stopped();
                    StartError::Os(err)
                });
            }
        };
        let (builder, spawn_name) = self.os_builder();
        let me = self.clone();
        match builder.spawn(move || me.run_body(body.run, body.keep_panic, spawn_name)) {
            Ok(handle) => {
                *inner.os_handle.acquire() = Some(handle);
                self.wait_running();
                Ok(())
            }
            Err(err) => {
                self.mark_stopped();
                Err(StartError::Os(err))
            }
        }
    }

    /// An unstarted record for a scoped thread, which [`start_scoped`](Self::start_scoped)
    /// starts at once.
    pub(crate) fn new_scoped(name: String, daemon: bool, stack_size: usize) -> Self {
        Thread::from_parts(Kind::Spawned, name, daemon, 0, INITIAL, stack_size, None)
    }

    /// Starts a record made by [`new_scoped`](Self::new_scoped) on an OS thread of `scope`,
    /// running `f` as any threadkit thread runs its target (registered, named, its panic
    /// reported to the excepthook, its `Local` values dropped before joiners wake). A panic is
    /// then passed on to std's scope, so that its handle's `join` returns it, and the scope
    /// panics if nobody joined it, as `std::thread::scope` does.
    pub(crate) fn start_scoped<'scope, T: Send + 'scope>(
        &self,
        scope: &'scope std::thread::Scope<'scope, '_>,
        f: impl FnOnce() -> T + Send + 'scope,
    ) -> Result<std::thread::ScopedJoinHandle<'scope, T>, StartError> {
        self.claim_start()?;
        let (builder, spawn_name) = self.os_builder();
        let me = self.clone();
        let spawned = builder.spawn_scoped(scope, move || {
            let mut value = None;
            let mut panic = None;
            me.run_body(|| value = Some(f()), |p| panic = Some(p), spawn_name);
            match panic {
                Some(payload) => std::panic::resume_unwind(payload),
                None => value.expect("the target returned"),
            }
        });
        match spawned {
            Ok(handle) => {
                self.wait_running();
                Ok(handle)
            }
            Err(err) => {
                self.mark_stopped();
                Err(StartError::Os(err))
            }
        }
    }

    /// The first step of every start: the fork generation, `INITIAL` → `STARTING` (so a second
    /// start fails), an identifier, the exit handler and the panic hook, and a place in the
    /// registry.
    fn claim_start(&self) -> Result<(), StartError> {
        let inner = &self.inner;
        // The generation first, so that a record found started carries the generation it was
        // started in, or an older one (a fork from here to the registry's entry leaves it
        // behind: lost in the child, though not listed). Only for an unstarted record: a start
        // in a forked child of a record lost in the fork must not make it the child's.
        if inner.state.load(Ordering::Acquire) != INITIAL {
            return Err(StartError::AlreadyStarted);
        }
        inner
            .generation
            .store(super::fork_generation(), Ordering::Relaxed);
        if inner
            .state
            .compare_exchange(INITIAL, STARTING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(StartError::AlreadyStarted);
        }
        let id = ident::allocate();
        inner.ident.store(id, Ordering::Release);
        shutdown::ensure_installed();
        excepthook::ensure_installed();
        #[cfg(test)]
        super::test_hook::gap();
        registry::insert(self);
        Ok(())
    }

    /// A std builder with this thread's name and stack size, and the name it was given.
    fn os_builder(&self) -> (std::thread::Builder, Arc<str>) {
        let spawn_name = self.name();
        let mut builder = std::thread::Builder::new().name(spawn_name.to_string());
        let stack = match self.inner.stack_size.load(Ordering::Relaxed) {
            0 => crate::thread::stack_size(),
            n => n,
        };
        if stack != 0 {
            builder = builder.stack_size(stack);
        }
        (builder, spawn_name)
    }

    /// Returns once the new OS thread runs and has published its native ID, as CPython's
    /// `start()` does.
    fn wait_running(&self) {
        let started = &self.inner.started;
        // Spinning and yielding first lets the new thread run (on this core, too) and report
        // without a futex wait and wake-up pair, the dearer part of a start.
        let mut spin = crate::wait::SpinWait::new();
        while !started.is_set() && spin.spin() {}
        // Re-checked after every wake-up (the flag is never unset).
        while !started.is_set() {
            started.wait();
        }
    }

    /// What the new OS thread runs: `run` as the target, then `keep_panic` with the payload of
    /// a panic that escaped it, once the excepthook has seen it.
    fn run_body(
        self,
        run: impl FnOnce(),
        keep_panic: impl FnOnce(Box<dyn std::any::Any + Send>),
        spawn_name: Arc<str>,
    ) {
        let inner = &self.inner;
        ident::set_current(self.ident_raw());
        registry::set_current(&self);
        inner.native_id.store(ident::native_id(), Ordering::Release);
        // std named the OS thread at creation; rename only if the name changed since.
        if !Arc::ptr_eq(&self.name(), &spawn_name) {
            set_os_name(&self.name());
        }
        let _ =
            inner
                .state
                .compare_exchange(STARTING, STARTED, Ordering::AcqRel, Ordering::Acquire);
        inner.started.set();

        if let Err(payload) = excepthook::run_target(run) {
            excepthook::report(&self, &*payload);
            keep_panic(payload);
        }
        // The thread exits, as far as threadkit can tell: its `Local` values are dropped *before*
        // it is marked stopped, so that every joiner (not only the one that reaps the OS thread)
        // finds them gone. A panicking `Drop` is reported to the excepthook with this thread, as
        // CPython reports an exception in `__del__` and goes on; the other values are still
        // dropped. (Left to the OS thread's exit: values that other thread-locals' destructors
        // create afterwards.)
        excepthook::with_in_target(true, || {
            crate::local::drop_thread_values(|payload| excepthook::report(&self, &*payload));
        });
        self.mark_stopped();
    }

    /// Leaves the registry, then wakes the joiners (so no joined thread is ever listed).
    pub(crate) fn mark_stopped(&self) {
        registry::remove(self.ident_raw());
        #[cfg(test)]
        super::test_hook::gap();
        self.inner.state.store(STOPPED, Ordering::Release);
        self.inner.started.set();
        self.inner.finished.set();
    }

    /// Whether the thread has finished: its target returned and its `Local` values are dropped
    /// (what a returning join waits for).
    pub(crate) fn is_finished(&self) -> bool {
        self.inner.finished.is_set() || self.is_lost_in_fork()
    }

    /// Whether the `finished` event is set (in a child of a fork, set before the fork if the
    /// thread was lost in it); [`is_finished`](Self::is_finished) also counts a lost thread.
    pub(crate) fn is_marked_finished(&self) -> bool {
        self.inner.finished.is_set()
    }

    /// Marks the main thread as done, waking threads that join it (at process exit).
    pub(crate) fn mark_main_done(&self) {
        self.inner.finished.set();
    }
}
