//! The thread registry across `fork` (CPython's `threading._after_fork`).
//!
//! A child process forked from a multi-threaded parent has one thread: the one that called
//! `fork`. Everything else the registry knows is inherited as the parent left it: the other
//! threads' records (listed by `enumerate()`, alive for ever, their joins never returning), and
//! the registry's lock, which some other thread may have held at that instant (the child's first
//! `enumerate()`, spawn or `current_thread()` registration would then wait for ever).
//!
//! So the first thread identifier the process assigns (a thread's first lock, wait or
//! `get_ident()`: `ident.rs`), or the registry's first entry if that comes first, registers
//! three `pthread_atfork` handlers, once per process:
//!
//! - prepare ([`before_fork`], in the parent, on the forking thread): takes the registry's lock,
//!   so that the map the child inherits is never caught halfway through an insert or a removal,
//!   and no other thread holds the lock at the fork; then, for the same reasons, the wait
//!   records' slot list (`src/wait/record.rs`, its `fork` module) and the lock-order checker's
//!   list of held-lock stacks and its graph (`src/lock_order`, their `fork` modules);
//! - parent ([`after_fork_in_parent`]): releases them all, as any release;
//! - child ([`after_fork_in_child`], the child's only thread): starts a new fork generation
//!   (`FORK_GENERATION` in `handle/mod.rs`: one atomic add) and moves the forking thread's
//!   record to it (one atomic store), which makes every other record started before the fork
//!   lost in it (stopped), whatever its state was at the fork; makes the forking thread the main
//!   thread if it was not (as CPython 3.13 does: `main_thread()` is then the current thread),
//!   has the lost records taken out of the map at the child's next registry call, and unlocks
//!   the registry (a std `Mutex`: a futex word, whose waiters the kernel keeps per process, so
//!   no waiter of the parent can be handed it in the child; a threadkit `Lock` keeps its waiters
//!   in the parking lot's queue, which the child inherits).
//!   No wake-up through the parking lot,
//!   no allocation, no lock taken: the parking lot's bucket locks and the allocator's may be
//!   held by threads the child does not have, so the child handler only stores and loads
//!   atomics, writes the map's plain fields and drops the std guards its prepare handler took
//!   (an atomic swap, and a futex wake that finds nobody).
//!   A join of a lost record then returns at once, before it looks at the thread's OS handle
//!   or its `finished` event. The other threads' wait records are withdrawn (a dump in the
//!   child shows none of them) and the slot list unlocked.
//!
//! Why a generation and not a mark in each record of the map (the handler's first form): a
//! thread is not in the map between `start()`'s claim and its entry, nor between leaving the
//! map and its `STOPPED` store, and one caught there at the fork was never marked: its `join()`
//! in the child waited for ever. `start()` stores the generation before the state leaves
//! `INITIAL`, so every started record carries one, listed or not (`src/thread/fork/tests.rs`
//! forks with a thread held in each gap). The map is still pruned of lost records, for
//! `enumerate()`. The cost: one relaxed load of the generation in `is_alive()`, and in a join
//! (where it replaces the old mark's load of the state), plus the record's own only in a forked
//! child; `current_thread()` reads neither.
//! A thread that had stopped before the fork is lost too (its join returns at once without the
//! OS join, which would wait for ever for a thread still in its thread-local teardown at the
//! fork); its `JoinHandle` still returns its result, left before it stopped.
//!
//! Why the prepare handler cannot deadlock. It waits only for the thread holding the registry's
//! lock, and a registry critical section (`registry.rs`) runs no user code and waits for
//! nothing: it updates a `BTreeMap`, clones or drops `Thread` handles (a removed record is
//! dropped after the unlock), and makes the main thread's record (allocation only). The
//! allocator's own fork locks are taken after the prepare handlers run (glibc, musl), so the
//! holder can finish. The forking thread itself is never inside a registry call, since no code
//! in one calls `fork`; the one way it could be is a signal handler that forks after
//! interrupting it, and then the lock is found held by the forking thread and left alone (the
//! child is then no better off than without the handlers, and the parent does not
//! self-deadlock), except in two short windows where the thread holds the lock without being
//! named its holder yet or any more (`lock_registry`: between the lock and the `HOLDER` store;
//! `Locked`'s drop: between clearing `HOLDER` and the unlock): a handler that forks there
//! deadlocks in the prepare handler, as it would inside the slot list's lock (below). POSIX
//! no longer lists `fork` as async-signal-safe (2024). Another library's prepare handler that
//! runs after this one (registered earlier) and waits for a thread that waits for the registry
//! would deadlock, as any two prepare handlers can; none of threadkit's does.
//!
//! Registering them at the first identifier, not only at the registry's first use, matters to a
//! process that has used primitives but never the registry: without the handlers, the child's
//! first `current_thread()` took the forking thread (the child's first thread now) for the
//! process's main thread and gave it the main identifier, and every lock it held looked held by
//! another thread (`tests/thread_fork_first_use.rs`).
//!
//! Limits: a `fork` that races the very first registration makes a child without the handlers,
//! and so does a fork in a process that never assigned an identifier (it never used a
//! threadkit primitive: nothing of threadkit's is held or listed); so does a fork from a
//! thread-local destructor once `HELD` is destroyed, and the
//! signal handler's fork above (no new generation: nothing is lost in those children, as
//! without the handlers). The Timer service's threads do not exist in the child: a Timer
//! started there never fires.
//! What the handlers do not cover: locks, events and queues that the parent's other threads held
//! or waited on stay as they were (as in CPython, only the interpreter's own locks are
//! re-created). The lock-order checker marks the lost threads' held-lock stacks gone
//! (`src/lock_order/held.rs`), but the forking thread's queue of releases that other threads
//! made of locks it acquired (`foreign`) is not held across the fork. A signal handler that
//! forks after interrupting its thread inside the slot list's lock (a thread's first wait, or its
//! exit) deadlocks in the prepare handler.

use std::cell::RefCell;

use super::registry::{lock_registry, Locked, HOLDER};
use super::{handle, ident};
use crate::loom::sync::atomic::{AtomicBool, Ordering};

#[cfg(all(test, not(miri)))]
mod tests;

/// Whether the handlers are registered (a flag, not a `Once`: a child forked while another thread
/// ran a `Once` would inherit it running, and wait for ever).
static REGISTERED: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// The registry, held by this thread's prepare handler until its parent or child handler
    /// (which run on the same thread). Its destructor is registered at the first access, by the
    /// prepare handler in the parent (where allocating is fine); the child handler's access finds
    /// it registered.
    static HELD: RefCell<Option<Locked>> = const { RefCell::new(None) };
}

/// Registers the handlers, once per process.
#[inline]
pub(super) fn ensure_registered() {
    if !REGISTERED.load(Ordering::Relaxed) {
        register();
    }
}

#[cold]
fn register() {
    if REGISTERED.swap(true, Ordering::AcqRel) {
        return;
    }
    // SAFETY: the three handlers are `extern "C"` functions that stay valid for the life of the
    // process and cannot unwind (nothing they call panics). It fails only for want of memory:
    // the children of this process then keep the old behaviour (see the module docs).
    let _ = unsafe {
        libc::pthread_atfork(
            Some(before_fork),
            Some(after_fork_in_parent),
            Some(after_fork_in_child),
        )
    };
}

/// The prepare handler: takes the registry's lock unless the forking thread holds it already.
extern "C" fn before_fork() {
    // Assigned now, in the parent, if the thread never had one: the child handler reads it.
    let me = ident::current();
    if HOLDER.load(Ordering::Relaxed) == me {
        // A signal handler forking from inside a registry call of this thread: waiting would
        // wait for ever (see the module docs). (The slot list is not locked around a registry
        // call: its lock is free for this thread.)
        crate::wait::record::fork::before();
        crate::lock_order::held::fork::before();
        crate::lock_order::graph::fork::before();
        return;
    }
    let registry = lock_registry();
    // `try_with`: a fork from this thread's thread-local teardown keeps nothing (the registry is
    // unlocked at once), rather than panicking in an `extern "C"` handler.
    let _ = HELD.try_with(|h| *h.borrow_mut() = Some(registry));
    // Then the wait records' slot list and the lock-order checker's list of held-lock stacks
    // and its graph (leaves: nothing waits for the registry, or for one another, holding one).
    crate::wait::record::fork::before();
    crate::lock_order::held::fork::before();
    crate::lock_order::graph::fork::before();
}

/// The parent handler: releases what the prepare handler took.
extern "C" fn after_fork_in_parent() {
    crate::lock_order::graph::fork::after();
    crate::lock_order::held::fork::after_in_parent();
    crate::wait::record::fork::after_in_parent();
    drop(HELD.try_with(|h| h.borrow_mut().take()));
}

/// The child handler (see the module docs): atomic stores and plain writes only.
extern "C" fn after_fork_in_child() {
    let me = ident::current_or_unassigned();
    crate::lock_order::graph::fork::after();
    crate::lock_order::held::fork::after_in_child(me);
    crate::wait::record::fork::after_in_child(me);
    let Some(mut registry) = HELD.try_with(|h| h.borrow_mut().take()).ok().flatten() else {
        return;
    };
    {
        // Every record started before this instant is lost, but the forking thread's (which
        // the map lists if it has one: threads are listed from before they run until they
        // stop, and a foreign thread from its first `current_thread()`).
        let generation = handle::begin_fork_generation();
        if let Some(thread) = registry.threads.get(&me) {
            thread.move_to_generation(generation);
            // Its kernel thread ID is the child's now (the process ID, on Linux).
            thread.set_native_id(ident::native_id());
        }
        if registry.main_ident != me {
            // The forking thread is the main thread now: its record if it has one (a clone is
            // an atomic increment), else one made on first need (`registry::with_main`). The
            // old record is not dropped here (that could free it): it is forgotten, one count
            // of a record the map also holds until it is pruned.
            let mine = registry.threads.get(&me).cloned();
            std::mem::forget(std::mem::replace(&mut registry.main, mine));
            registry.main_ident = me;
        }
        registry.prune = true;
    }
    // std's unlock: an atomic swap, and a futex wake if the word said "contended" (threads of
    // the parent waited), which finds nobody in the child.
    drop(registry);
}
